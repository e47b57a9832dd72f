"""The trainer: a hand-worked step, optimisers, determinism, divergence, bad input."""
import subprocess
import sys

import numpy as np
import pytest

from nncore import Dataset, Diverged, Network, RunConfig, Trainer, load_dataset
from nncore.optimizers import OPTIMIZERS, make_optimizer
from nncore.presets import default_config


def tiny_dataset(X, Y, target="binary"):
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    return Dataset("tiny", X, Y, X.copy(), Y.copy(), "logic", target)


def test_hand_worked_sgd_step():
    # x = [1, 2]; hidden relu h = x W1 = [0.7, 1.0]; y = h W2 + 0.1 = 1.05; target 1.
    # mse = 0.0025, dL/dy = 0.1, dW2 = [0.07, 0.1], db2 = 0.1, dh = [0.05, 0.06],
    # dW1 = [[0.05, 0.06], [0.1, 0.12]], db1 = [0.05, 0.06]; lr 0.1.
    cfg = RunConfig(dataset="xor", hidden=[2], activations=["relu", "linear"], loss="mse",
                    optimizer="sgd", lr=0.1, batch="full", dtype="float64")
    tr = Trainer(cfg, data=tiny_dataset([[1.0, 2.0]], [[1.0]]))
    net = tr.network
    net.layers[0].weights = [[0.1, 0.2], [0.3, 0.4]]
    net.layers[0].biases = [0.0, 0.0]
    net.layers[1].weights = [[0.5], [0.6]]
    net.layers[1].biases = [0.1]
    assert net.predict([[1.0, 2.0]])[0, 0] == pytest.approx(1.05)
    tr.run_epoch()
    np.testing.assert_allclose(net.layers[1].weights, [[0.493], [0.59]])
    np.testing.assert_allclose(net.layers[1].biases, [0.09])
    np.testing.assert_allclose(net.layers[0].weights, [[0.095, 0.194], [0.29, 0.388]])
    np.testing.assert_allclose(net.layers[0].biases, [-0.005, -0.006])


def test_optimizers_against_reference_formulas():
    rng = np.random.default_rng(0)
    p0, g1, g2 = rng.normal(size=(3, 6))
    lr, mu, b1, b2, eps = 0.1, 0.9, 0.9, 0.999, 1e-8
    # momentum (PyTorch form): v = mu v + g; p -= lr v. Nesterov: p -= lr (g + mu v).
    v1 = g1; v2 = mu * v1 + g2
    ref = {"sgd": p0 - lr * g1 - lr * g2,
           "momentum": p0 - lr * v1 - lr * v2,
           "nesterov": p0 - lr * (g1 + mu * v1) - lr * (g2 + mu * v2)}
    m, v, p = np.zeros(6), np.zeros(6), p0.copy()
    for t, g in ((1, g1), (2, g2)):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    ref["adam"] = p
    for name, expected in ref.items():
        opt = make_optimizer(name, 6, np.dtype("float64"), lr=lr, momentum=mu)
        p = p0.copy()
        opt.step(p, g1.copy())
        opt.step(p, g2.copy())
        np.testing.assert_allclose(p, expected, rtol=1e-12, err_msg=name)


def test_perturb_never_increases_the_loss():
    cfg = RunConfig(dataset="xor", hidden=[3], activations=["tanh", "sigmoid"], loss="mse",
                    optimizer="perturb", lr=0.5, batch="full", epochs=30)
    tr = Trainer(cfg)
    losses = [r.train_loss for r in tr.fit()]
    assert all(b <= a + 1e-7 for a, b in zip(losses, losses[1:]))
    assert losses[-1] < tr.records[0].train_loss


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("batch", ["full", "mini", "online"])
def test_same_seed_gives_identical_runs(optimizer, batch):
    cfg = RunConfig(dataset="moons", dataset_options={"n_samples": 60}, hidden=[5],
                    optimizer=optimizer, lr=0.05, batch=batch, batch_size=8, dropout=0.2,
                    epochs=3, seed=7)
    a, b = Trainer(cfg), Trainer(cfg)
    a.fit(); b.fit()
    assert a.network.params.tobytes() == b.network.params.tobytes()
    c = Trainer(cfg.replace(seed=8)); c.fit()
    assert c.network.params.tobytes() != a.network.params.tobytes()


def test_float64_on_request():
    tr = Trainer(RunConfig(dataset="circles", dtype="float64", epochs=2))
    tr.fit()
    assert tr.network.params.dtype == np.float64 and tr.data.X_train.dtype == np.float64
    assert Network([2, 3, 1], seed=0).params.dtype == np.float32


def test_divergence_stops_and_keeps_last_good_weights():
    cfg = RunConfig(dataset="moons", hidden=[16], activations=["relu", "linear"], loss="mse",
                    optimizer="sgd", lr=50.0, batch="mini", epochs=50)
    tr = Trainer(cfg)
    with pytest.raises(Diverged, match="learning rate"):
        for _ in range(50):
            before = tr.network.params.copy()
            tr.run_epoch()
    assert np.all(np.isfinite(tr.network.params))
    assert np.array_equal(tr.network.params, before)
    assert tr.done and "diverged" in tr.stop_reason
    assert len(tr.records) == tr.epoch + 1
    tr.update_settings(lr=0.001)          # a lower rate lets the run go on
    assert not tr.done
    tr.run_epoch()


def test_fit_stops_at_target_loss_and_max_epochs():
    tr = Trainer(RunConfig(dataset="and", hidden=[3], optimizer="adam", lr=0.1, batch="full",
                           epochs=500, target_loss=0.05))
    tr.fit()
    assert tr.epoch < 500 and tr.records[-1].train_loss <= 0.05
    tr2 = Trainer(RunConfig(dataset="and", epochs=4))
    assert len(tr2.fit()) == 4 and tr2.done


def test_update_settings_applies_without_losing_the_run():
    tr = Trainer(RunConfig(dataset="moons", epochs=10))
    tr.fit(2)
    tr.update_settings(lr=0.5, batch_size=8, momentum=0.5)
    assert tr.optimizer.lr == 0.5 and tr.epoch == 2
    tr.run_epoch()
    assert tr.records[-1].lr == 0.5 and tr.epoch == 3
    with pytest.raises(ValueError, match="hidden cannot change"):
        tr.update_settings(hidden=[3])


def test_record_fields_and_history_budget():
    tr = Trainer(RunConfig(dataset="digits", hidden=[32], epochs=30), history_budget=200_000)
    tr.fit(12)
    rec = tr.records[-1].to_dict()
    for key in ("epoch", "train_loss", "test_loss", "train_acc", "test_acc", "seconds",
                "samples_per_s", "weight_norms", "grad_norms"):
        assert key in rec
    assert len(rec["weight_norms"]) == 2 and rec["epoch"] == 12
    assert tr.history.nbytes <= 200_000 and tr.history.thinned > 0
    assert 0 in tr.history.epochs and 12 in tr.history.epochs
    w, kept = tr.weights_at(5)
    assert kept <= 5 and w[0][0].shape == (64, 32)


@pytest.mark.parametrize("bad,match", [
    (dict(hidden=[4, 0]), r"hidden must be a list of positive integers, got \[4, 0\]"),
    (dict(lr=-1), "lr must be a number > 0"),
    (dict(lr=float("nan")), "lr must be"),
    (dict(optimizer="adamw"), "unknown optimizer 'adamw'; valid: sgd, momentum"),
    (dict(dataset="imagenet"), "unknown dataset 'imagenet'; valid: xor"),
    (dict(activations=["relu"]), "activations must list 3 names"),
    (dict(activations=["relu", "swish", "softmax"]), "unknown activation 'swish'"),
    (dict(loss="hinge"), "unknown loss 'hinge'"),
    (dict(activations=["relu", "relu", "tanh"], loss="cross_entropy"), "cross_entropy' needs a softmax"),
    (dict(batch="huge"), "batch must be one of full, mini, online"),
    (dict(dataset_options={"noise": 5}), "option noise must be between"),
    (dict(dataset_options={"colour": 1}), "unknown option"),
    (dict(batch_size=0), "batch_size must be a whole number"),
])
def test_bad_config_raises_naming_the_value(bad, match):
    with pytest.raises(ValueError, match=match):
        RunConfig.from_dict({**RunConfig(hidden=[16, 8]).to_dict(), **bad})


def test_bad_network_input_raises():
    with pytest.raises(ValueError, match=r"positive integers, got \[4, 0, 3\]"):
        Network([4, 0, 3])
    with pytest.raises(ValueError, match="need 2 activations"):
        Network([4, 5, 3], activations=["tanh"])
    with pytest.raises(ValueError, match="softmax is only allowed on the output"):
        Network([4, 5, 3], activations=["softmax", "softmax"])
    with pytest.raises(ValueError, match=r"input must have shape \(n, 4\)"):
        Network([4, 3]).predict(np.zeros((2, 5)))


def test_config_round_trip():
    cfg = RunConfig(dataset="spiral", hidden=[8, 8], activations=["tanh", "tanh", "softmax"],
                    optimizer="nesterov", l2=1e-4, target_loss=0.1).validate()
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.to_dict() == cfg.to_dict()


def test_public_api_shapes():
    net = Network([4, 5, 3], activations=["tanh", "softmax"], seed=0)
    assert net.layers[0].weights.shape == (4, 5) and net.layers[0].biases.shape == (5,)
    X = np.random.default_rng(0).normal(size=(7, 4))
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2, 0]]
    grads = net.gradients(X, Y, loss="cross_entropy")
    assert [g[0].shape for g in grads] == [(4, 5), (5, 3)]
    out = net.predict(X)
    assert out.shape == (7, 3) and np.allclose(out.sum(axis=1), 1, atol=1e-6)


def test_nncore_imports_neither_streamlit_nor_plotly():
    code = "import sys, nncore, nncore.cli, nncore.presets; " \
           "bad = [m for m in sys.modules if m.split('.')[0] in ('streamlit', 'plotly')]; " \
           "assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_binary_accuracy_counts_every_output():
    data = load_dataset("modified_xor")
    tr = Trainer(RunConfig(dataset="modified_xor", hidden=[4], loss="mse"), data=data)
    out = data.Y_train.copy()
    out[0, 1] = 1 - out[0, 1]                      # one output wrong in one row
    assert tr._correct(out, data.Y_train) == len(out) - 1


def test_binary_targets_get_sigmoid_outputs_and_round_trip():
    from nncore import snapshot
    from nncore.presets import default_config
    tr = Trainer(default_config("modified_xor", epochs=3))
    assert tr.network.activations[-1] == "sigmoid" and tr.network.sizes[-1] == 2
    tr.fit()
    again = snapshot.loads(snapshot.dumps(tr)).to_trainer()
    assert again.network.params.tobytes() == tr.network.params.tobytes()


def test_learning_rate_schedules():
    const = RunConfig(lr=0.1, epochs=10)
    assert [const.lr_at(e) for e in (0, 5, 50)] == [0.1, 0.1, 0.1]
    exp = RunConfig(lr=0.1, lr_schedule="exponential", lr_decay=0.5)
    assert exp.lr_at(0) == 0.1 and exp.lr_at(3) == pytest.approx(0.0125)
    cos = RunConfig(lr=0.1, lr_schedule="cosine", epochs=4)
    assert [cos.lr_at(e) for e in range(4)] == pytest.approx([0.1, 0.085355, 0.05, 0.014645], rel=1e-4)
    assert cos.lr_at(9) == cos.lr_at(3) > 0          # past the end: the last rate, never 0
    for bad, match in ((dict(lr_schedule="linear"), "lr_schedule must be one of constant, "
                        "exponential, cosine, got 'linear'"),
                       (dict(lr_decay=0), "lr_decay must be a number > 0"),
                       (dict(lr_decay=1.5), "lr_decay must be a number > 0 and <= 1")):
        with pytest.raises(ValueError, match=match):
            RunConfig.from_dict({**RunConfig().to_dict(), **bad})


def test_trainer_follows_the_schedule_and_records_each_epochs_rate():
    cfg = RunConfig(dataset="moons", lr=0.02, lr_schedule="cosine", epochs=5, seed=1)
    tr = Trainer(cfg)
    tr.fit()
    assert [r.lr for r in tr.records[1:]] == pytest.approx([cfg.lr_at(e) for e in range(5)])
    assert tr.records[0].lr == cfg.lr
    # changing the schedule mid-run is a soft change: it applies from the next epoch
    tr.update_settings(lr_schedule="exponential", lr_decay=0.5, epochs=7)
    tr.run_epoch()
    assert tr.records[-1].lr == pytest.approx(0.02 * 0.5 ** 5)
    # a schedule changes the run: the last epochs trained at smaller rates
    flat = Trainer(RunConfig(dataset="moons", lr=0.02, epochs=5, seed=1))
    flat.fit()
    assert not np.array_equal(flat.network.params, _fitted(cfg).network.params)


def _fitted(cfg):
    tr = Trainer(cfg)
    tr.fit()
    return tr


def test_an_epoch_whose_loss_over_the_set_overflows_counts_as_diverged(monkeypatch):
    # float32: the weights stay finite but the mean squared error over the set overflows
    import nncore.trainer
    monkeypatch.setattr(nncore.trainer, "BLOWUP", float("inf"))    # only overflow counts here
    cfg = RunConfig(dataset="moons", hidden=[16], activations=["relu", "linear"], loss="mse",
                    optimizer="sgd", lr=3.0, batch="full", epochs=60)
    tr = Trainer(cfg)
    with pytest.raises(Diverged, match=r"the training loss became inf.*weights of epoch \d+ are kept"):
        for _ in range(60):
            tr.run_epoch()
    assert all(np.isfinite(r.train_loss) and np.isfinite(r.test_loss) for r in tr.records)
    assert len(tr.records) == tr.epoch + 1 and tr.epoch in tr.history.epochs
    w, kept = tr.weights_at(tr.epoch)
    assert kept == tr.epoch and np.array_equal(tr.network.unflatten(tr.network.params)[0][0], w[0][0])


def test_a_loss_that_blows_up_while_finite_counts_as_diverged():
    cfg = default_config("spiral").replace(activations=["relu", "relu", "linear"], loss="mse",
                                           optimizer="sgd", lr=3.0, epochs=50, seed=0)
    tr = Trainer(cfg)
    records = tr.fit()
    assert tr.stop_reason and ("blew up" in tr.stop_reason or "became" in tr.stop_reason)
    assert all(r.train_loss <= 10_000 * max(tr.records[0].train_loss, 1e-2) for r in tr.records)
    assert len(records) < 50


def test_rewind_goes_back_to_a_stored_epoch_and_trains_on():
    tr = Trainer(default_config("moons").replace(epochs=20))
    tr.fit(6)
    w3 = tr.history.weights[3].copy()
    tr.rewind(3)
    assert tr.epoch == 3 and len(tr.records) == 4 and tr.history.epochs == [0, 1, 2, 3]
    assert np.array_equal(tr.network.params, w3) and tr.optimizer.t == 0
    assert tr.iterations == sum(r.iterations for r in tr.records)
    tr.fit(2)
    assert tr.epoch == 5 and [r.epoch for r in tr.records] == list(range(6))
    with pytest.raises(ValueError, match="epoch 9 is not stored"):
        tr.rewind(9)


def test_a_copy_of_a_run_goes_on_exactly_like_the_run():
    for opt in ("adam", "perturb"):
        tr = Trainer(default_config("moons").replace(optimizer=opt, epochs=20))
        tr.fit(3)
        twin = tr.copy()
        tr.rewind(1)                              # the copy keeps what the run drops
        assert twin.epoch == 3 and len(twin.records) == 4 and 3 in twin.history.weights
        ref = Trainer(default_config("moons").replace(optimizer=opt, epochs=20))
        ref.fit(5)
        twin.fit(2)
        assert twin.network.params.tobytes() == ref.network.params.tobytes()


@pytest.mark.parametrize("optimizer,extra", [("adam", {}), ("perturb", {}),
                                             ("sgd", {"dropout": 0.2})])
def test_an_epoch_stopped_between_batches_is_discarded_and_the_run_goes_on_exactly(optimizer,
                                                                                     extra):
    cfg = default_config("moons").replace(optimizer=optimizer, batch_size=16, **extra)
    whole, paused = Trainer(cfg), Trainer(cfg)
    whole.fit(3)
    paused.fit(1)
    asked = []

    def stop():                       # stop before the fourth batch of the second epoch
        asked.append(1)
        return len(asked) > 3
    before = paused.state_dict()
    assert paused.run_epoch(stop=stop) is None
    after = paused.state_dict()
    assert after["epoch"] == 1 and after["iterations"] == before["iterations"]
    np.testing.assert_array_equal(after["params"], before["params"])
    np.testing.assert_array_equal(after["grads"], before["grads"])
    assert after["rng"] == before["rng"]
    assert len(paused.records) == 2 and paused.history.epochs == [0, 1]
    assert paused.run_epoch(stop=lambda: False) is not None     # never asked to stop
    paused.fit(1)
    np.testing.assert_array_equal(paused.network.params, whole.network.params)
    assert paused.state_dict()["rng"] == whole.state_dict()["rng"]
    assert [r.train_loss for r in paused.records] == [r.train_loss for r in whole.records]
