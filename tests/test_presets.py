"""Every preset is faithful to its tutorial and reproduces its published result.

Tolerances: the tutorials' weights came from their own random draws, so the XOR outputs
are matched to within 0.01 and the costs to within a small factor (the outcome of a
100,000-step run depends on the initial draw; seeds 0-2 here give 0.00055-0.0012 for the
modified XOR, against the published 0.0016).
"""
import numpy as np
import pytest

from nncore import Trainer
from nncore.presets import PRESETS, default_config, preset_config


def trained(name, **overrides):
    tr = Trainer(preset_config(name, **overrides))
    tr.fit()
    return tr, tr.predict(tr.data.X_train)


def test_every_preset_builds_and_names_are_short():
    for name, p in PRESETS.items():
        cfg = preset_config(name)
        assert len(name) <= 24 and p["description"] and p["expected"]
        if cfg.dataset in ("xor", "xor3", "modified_xor"):
            assert "xor" in name
        if "modern" in p:
            assert PRESETS[p["modern"]]["config"]["optimizer"] == "adam"


def test_xor_9line_reaches_published_outputs():
    cfg = preset_config("xor_9line")
    assert (cfg.hidden, cfg.activations, cfg.biases, cfg.init, cfg.lr, cfg.batch) == \
        ([4], ["sigmoid", "sigmoid"], False, "uniform", 1.0, "full")
    assert cfg.epochs * cfg.passes_per_epoch == 10_000
    tr, out = trained("xor_9line")
    np.testing.assert_allclose(out.ravel(), [0.005, 0.989, 0.987, 0.014], atol=0.01)
    tr6, out6 = trained("xor_9line_6")
    assert tr6.network.sizes == [3, 6, 1]
    np.testing.assert_allclose(out6.ravel(), [0, 1, 1, 0], atol=0.05)


def test_xor_backprop_reaches_published_outputs_and_error():
    cfg = preset_config("xor_backprop")
    assert cfg.hidden == [2] and cfg.init == "normal01" and cfg.lr == 0.2 and cfg.biases
    assert cfg.epochs * cfg.passes_per_epoch == 100_000
    tr, out = trained("xor_backprop")
    np.testing.assert_allclose(out.ravel(), [0.008, 0.010, 0.992, 0.992], atol=0.01)
    error = float(np.sum((out - tr.data.Y_train) ** 2))       # the tutorial's sum of squares
    assert 0.00029 / 2 < error < 0.00029 * 2
    assert 0.00018 < tr.records[-1].train_loss < 0.00026       # as its expectation says
    assert "0.00022" in PRESETS["xor_backprop"]["expected"]


@pytest.mark.parametrize("name", ["xor_9line", "xor_modified", "xor_backprop"])
def test_every_xor_preset_has_a_modern_variant_that_does_far_better(name):
    modern = PRESETS[name]["modern"]
    tr = Trainer(preset_config(modern, epochs=30))
    tr.fit()
    assert tr.records[-1].train_acc == 1.0 and tr.records[-1].train_loss < 0.01


@pytest.mark.slow
def test_modified_xor_reaches_published_cost():
    cfg = preset_config("xor_modified")
    assert tr_sizes(cfg) == [3, 4, 2] and cfg.batch == "online" and cfg.lr == 0.05
    assert cfg.epochs * cfg.passes_per_epoch == 100_000
    tr, out = trained("xor_modified")
    cost = float(np.mean(np.sum((out - tr.data.Y_train) ** 2, axis=1)))
    assert 0.0016 / 4 < cost < 0.0016 * 2
    assert tr.records[-1].train_acc == 1.0


def tr_sizes(cfg):
    return [3, *cfg.hidden, 2]


def test_tutorial_mnist_presets_show_their_weakness_next_to_modern_variants():
    # Tutorial 3's uniform[0,1) weights saturate every sigmoid: backprop and the hill
    # climber both stay near chance; tutorial 1's randn net learns little.
    for name, epochs, ceiling in (("mnist_200", 3, 0.2), ("mnist_perturb", 2, 0.2),
                                  ("mnist_nlayer", 5, 0.6)):
        tr = Trainer(preset_config(name, epochs=epochs))
        tr.fit()
        assert tr.records[-1].test_acc < ceiling, name
    modern = Trainer(preset_config("mnist_200_modern", epochs=3))
    modern.fit()
    assert modern.records[-1].test_acc > 0.88


def test_tutorial_1_settings():
    cfg = preset_config("mnist_nlayer")
    assert cfg.hidden == [512, 256, 16] and set(cfg.activations) == {"sigmoid"}
    assert cfg.dataset_options["binarize"] and cfg.dataset_options["limit"] == 1000
    assert (cfg.lr, cfg.batch, cfg.epochs, cfg.init) == (0.01, "full", 100, "randn")


def test_default_configs_are_modern():
    for dataset in ("xor", "moons", "digits", "mnist_sample", "fashion_sample"):
        cfg = default_config(dataset)
        assert cfg.optimizer == "adam" and cfg.loss == "cross_entropy"
