"""AppTest: every page and the main flows of the dashboard, without a browser."""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import admit, figures, limits, state
from nncore import Trainer, load_dataset, predict
from nncore.network import count_params
from nncore.presets import default_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "dashboard", "app.py")
PAGES = ["app_pages/train.py", "app_pages/weights.py", "app_pages/predictions.py",
         "app_pages/snapshots.py"]


def start(page=None, dataset=None, hidden=None):
    at = AppTest.from_file(APP, default_timeout=60).run()
    ok(at)
    if dataset:
        at.selectbox(key="sb_dataset").set_value(dataset).run()
        ok(at)
    if hidden is not None:
        at.text_input(key="sb_hidden").input(hidden).run()
        ok(at)
    if page:
        at.switch_page(page).run()
        ok(at)
    return at


def ok(at):
    assert not at.exception, [e.value for e in at.exception]


def trainer(at) -> Trainer:
    return at.session_state[state.TRAINER]


def epoch_metric(at):
    return next(m.value for m in at.metric if m.label == "Epoch")


def charts(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def titles(at):
    return [c["layout"]["title"]["text"] for c in charts(at)]


def click(at, key):
    at.button(key=key).click().run()
    ok(at)
    return at


# -- pages -----------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_errors(page):
    at = start(page)
    if page in PAGES[:2]:                      # the pages of this module; the others have tests
        assert not at.error and not at.warning  # of their own
    assert [b.label for b in at.sidebar.selectbox][:2] == ["Dataset", "Preset"]
    assert at.sidebar.text_input(key="sb_hidden").label == "Hidden layers"
    assert len(at.main.markdown) + len(at.main.info) > 0


def test_train_page_charts_are_labelled():
    at = start()
    click(at, "btn_train_1")
    specs = charts(at)
    assert {"Loss", "Accuracy", "Time per epoch"} <= set(titles(at))
    assert any(t.startswith("Decision boundary at epoch 1") for t in titles(at))
    for spec in specs:
        lay = spec["layout"]
        assert lay["title"]["text"]
        for name, axis in lay.items():
            if name.startswith(("xaxis", "yaxis")) and axis.get("visible", True) and "title" in axis:
                assert axis["title"]["text"]


def test_weights_page_has_one_heatmap_per_layer_with_a_shared_zero_centred_scale():
    at = start(PAGES[1], hidden="8, 4")
    click(at, "btn_train_1")
    heat = [c for c in at.get("plotly_chart") if c.proto.id and "heatmap_layer_" in str(c.proto)]
    specs = [json.loads(c.proto.spec) for c in heat]
    assert len(specs) == 3                                    # 2-8-4-2: three layers
    limits = {(s["layout"]["coloraxis"]["cmin"], s["layout"]["coloraxis"]["cmax"]) for s in specs}
    assert len(limits) == 1 and sum(limits.pop()) == 0        # shared, centred on zero
    assert all(s["data"][0]["type"] == "heatmap" and s["data"][1]["y"] == ["bias"] for s in specs)
    assert any("histograms" in t for t in titles(at))


# -- flows -----------------------------------------------------------------------------------
def test_pick_dataset_set_layers_train_and_reset_to_the_same_start():
    at = start(dataset="xor", hidden="3")
    tr = trainer(at)
    assert tr.network.sizes == [2, 3, 1] and tr.config.dataset == "xor"
    assert any("Shape **2-3-1** · 13 parameters" in c.value for c in at.sidebar.caption)
    start_weights = tr.network.params.copy()
    for _ in range(3):
        click(at, "btn_train_1")
    assert epoch_metric(at) == "3" and trainer(at).epoch == 3
    assert not np.array_equal(trainer(at).network.params, start_weights)
    table = at.table[0].value                  # the truth table with the current outputs
    assert list(table.columns) == ["x1", "x2", "target", "output", "right"]
    out = trainer(at).predict(trainer(at).data.X_train)[:, 0]
    np.testing.assert_allclose(table["output"], np.round(out, 4), atol=1e-6)
    click(at, "btn_reset")
    assert epoch_metric(at) == "0"
    np.testing.assert_array_equal(trainer(at).network.params, start_weights)
    assert any("Reset" in i.value for i in at.info)


def test_changing_the_architecture_starts_a_new_run_and_says_so():
    at = start(hidden="8")
    click(at, "btn_train_1")
    at.text_input(key="sb_hidden").input("6, 5").run()
    ok(at)
    assert trainer(at).epoch == 0 and trainer(at).network.sizes == [2, 6, 5, 2]
    assert any("New run" in i.value and "hidden layers 8 → 6-5" in i.value for i in at.info)
    assert at.sidebar.selectbox(key="sb_act_1").value == "relu"   # the new layer got a widget


def test_changing_the_learning_rate_mid_run_keeps_the_run():
    at = start()
    click(at, "btn_train_1")
    click(at, "btn_train_1")
    before = trainer(at)
    at.sidebar.number_input(key="sb_lr").set_value(0.05).run()
    ok(at)
    assert trainer(at) is before and trainer(at).epoch == 2
    assert trainer(at).config.lr == 0.05 and trainer(at).optimizer.lr == 0.05
    assert any("learning rate 0.01 → 0.05" in i.value and "epoch 3" in i.value for i in at.info)
    click(at, "btn_train_1")
    assert trainer(at).records[-1].lr == 0.05 and trainer(at).epoch == 3


def test_bad_hidden_layers_text_shows_an_error_and_keeps_the_run():
    at = start()
    click(at, "btn_train_1")
    before = trainer(at)
    at.text_input(key="sb_hidden").input("16, x").run()
    ok(at)
    errors = [e.value for e in at.sidebar.error]
    assert any("hidden layers must be positive whole numbers" in e and "'x'" in e for e in errors)
    assert trainer(at) is before and trainer(at).epoch == 1
    assert any("kept" in c.value for c in at.sidebar.caption)


def test_scrubbing_the_epoch_slider_shows_that_epochs_weights():
    at = start(PAGES[1], hidden="4")
    for _ in range(3):
        click(at, "btn_train_1")
    tr = trainer(at)
    at.select_slider(key="epoch_slider").set_value(1).run()
    ok(at)
    assert at.session_state[state.EPOCH] == 1
    assert any(t.startswith("Layer 1 weights at epoch 1") for t in titles(at))
    spec = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Layer 1 weights"))
    z = np.frombuffer(__import__("base64").b64decode(spec["data"][0]["z"]["bdata"]), np.float32)
    W1, _ = tr.weights_at(1)[0][0]
    np.testing.assert_allclose(z, W1.ravel(), rtol=1e-6)
    at.radio(key="w_view").set_value("Change since previous epoch (ΔW)").run()
    ok(at)
    assert any("ΔW, epoch 0 → 1" in t for t in titles(at))
    click(at, "btn_train_1")                       # training jumps back to the latest epoch
    assert any(t.startswith("Layer 1 ΔW, epoch 3 → 4") for t in titles(at))


def test_train_n_epochs_runs_to_the_end_and_stop_ends_it():
    at = start()
    at.sidebar.number_input(key="sb_epochs").set_value(3).run()
    click(at, "btn_train_n")
    for _ in range(10):                            # AppTest does not tick run_every: step it
        if at.session_state[state.EPOCHS_LEFT] == 0:
            break
        at.run()
        ok(at)
    assert trainer(at).epoch == 3 and epoch_metric(at) == "3"
    assert at.button(key="btn_stop").disabled and not at.button(key="btn_train_n").disabled
    at.sidebar.number_input(key="sb_epochs").set_value(1000).run()
    click(at, "btn_train_n")
    assert at.session_state[state.EPOCHS_LEFT] > 0 and not at.button(key="btn_stop").disabled
    click(at, "btn_stop")
    stopped = trainer(at).epoch
    assert at.session_state[state.EPOCHS_LEFT] == 0 and 3 < stopped < 1003
    at.run()
    assert trainer(at).epoch == stopped


def test_a_diverging_run_stops_with_a_clear_message_and_keeps_its_last_good_epoch():
    at = start(hidden="16")
    for kind, key, value in (("selectbox", "sb_optimizer", "sgd"), ("selectbox", "sb_act_0", "linear"),
                             ("selectbox", "sb_act_out", "linear"), ("selectbox", "sb_loss", "mse"),
                             ("radio", "sb_batch", "full"), ("number_input", "sb_lr", 50.0)):
        getattr(at.sidebar, kind)(key=key).set_value(value).run()
        ok(at)
    for _ in range(6):
        click(at, "btn_train_1")
    msg = [e.value for e in at.error]
    assert msg and "diverged" in msg[0] and "are kept" in msg[0]
    tr = trainer(at)
    assert np.all(np.isfinite(tr.network.params)) and tr.epoch < 6
    assert epoch_metric(at) == str(tr.epoch)


def test_preset_fills_the_setup_and_offers_the_modern_variant():
    at = start()
    at.selectbox(key="sb_preset").set_value("xor_backprop").run()
    ok(at)
    tr = trainer(at)
    assert tr.config.dataset == "xor" and tr.network.sizes == [2, 2, 1]
    assert tr.config.loss == "sse" and tr.config.lr == 0.2 and tr.config.init == "normal01"
    assert at.sidebar.text_input(key="sb_hidden").value == "2"
    assert at.sidebar.selectbox(key="sb_act_out").value == "sigmoid"
    assert any("Expected" in c.value for c in at.sidebar.caption)
    at.selectbox(key="sb_preset").set_value("mnist_synapses").run()
    ok(at)
    assert trainer(at).network.sizes == [784, 32, 10]
    click(at, "sb_modern")
    assert at.selectbox(key="sb_preset").value == "mnist_synapses_modern"
    assert trainer(at).config.optimizer == "adam" and trainer(at).network.sizes == [784, 32, 10]


def test_thinned_history_is_said_and_the_slider_offers_the_stored_epochs(monkeypatch):
    monkeypatch.setattr(state, "LIMITS", limits.replace(state.LIMITS, history_bytes=12 * 2 * 4 * 202))
    # (12 epochs of 2-16-8-2)
    at = start(PAGES[1])
    at.sidebar.number_input(key="sb_epochs").set_value(20).run()
    click(at, "btn_train_n")
    while at.session_state[state.EPOCHS_LEFT]:
        at.run()
    tr = trainer(at)
    assert tr.epoch == 20 and tr.history.thinned > 0
    stored = tr.history.epochs
    assert [int(o) for o in at.select_slider(key="epoch_slider").options] == stored
    assert any("History thinned" in c.value and f"{tr.history.thinned} older epochs" in c.value
               for c in at.caption)
    gap = next(e for a, e in zip(stored, stored[1:]) if e - a > 1)
    at.select_slider(key="epoch_slider").set_value(gap).run()
    at.radio(key="w_view").set_value("Change since previous epoch (ΔW)").run()
    ok(at)
    prev = stored[stored.index(gap) - 1]
    assert any(f"ΔW, epoch {prev} → {gap}" in t for t in titles(at))
    assert any("were thinned from the history" in c.value for c in at.caption)


def test_a_network_too_large_for_the_app_is_refused_with_its_size():
    h = int(state.LIMITS.max_params ** 0.5) + 100
    n = count_params([2, h, h, 2])
    at = start()
    at.text_input(key="sb_hidden").input(f"{h}, {h}").run()
    ok(at)
    errors = [e.value for e in at.sidebar.error]
    assert any(f"2-{h}-{h}-2 has {n:,} parameters" in e for e in errors), errors
    assert trainer(at).network.sizes == [2, 16, 8, 2]


def test_image_dataset_shows_a_sample_grid_and_first_layer_units():
    at = start(dataset="digits")
    click(at, "btn_train_1")
    assert any(t.startswith("Test samples at epoch 1") for t in titles(at))
    at.switch_page(PAGES[1]).run()
    ok(at)
    assert any(t.startswith("Layer 1 units as 8×8 images") for t in titles(at))


def test_dataset_options_start_a_new_run():
    at = start(dataset="blobs")
    at.sidebar.number_input(key="sb_opt_blobs_classes").set_value(5).run()
    ok(at)
    assert trainer(at).network.sizes[-1] == 5
    assert any("classes 3 → 5" in i.value for i in at.info)


def test_full_dataset_without_idx_files_shows_a_clear_error(tmp_path):
    at = start()
    at.selectbox(key="sb_dataset").set_value("mnist").run()
    at.sidebar.text_input(key="sb_opt_mnist_data_dir").input(str(tmp_path)).run()
    ok(at)
    errors = [e.value for e in at.sidebar.error]
    assert any("no IDX files found" in e and str(tmp_path) in e for e in errors)
    assert trainer(at).config.dataset == "moons"              # the previous run is kept


def test_replace_trainer_installs_a_run_and_syncs_the_sidebar():
    def app():
        import streamlit as st

        from dashboard import sidebar, state
        from nncore import RunConfig, Trainer
        sidebar.render()
        if st.button("Load", key="load"):
            cfg = RunConfig(dataset="circles", hidden=[5], lr=0.02, seed=3)
            state.replace_trainer(Trainer(cfg), "Loaded a run")
        st.write(state.selected_epoch())

    at = AppTest.from_function(app, default_timeout=60).run()
    ok(at)
    at.button(key="load").click().run()
    ok(at)
    loaded = trainer(at)
    assert loaded.config.dataset == "circles" and at.session_state[state.NOTICE] == "Loaded a run"
    at.run()                                   # the next full rerun shows its setup...
    ok(at)
    assert at.sidebar.selectbox(key="sb_dataset").value == "circles"
    assert at.sidebar.text_input(key="sb_hidden").value == "5"
    assert at.sidebar.number_input(key="sb_lr").value == 0.02
    assert trainer(at) is loaded                # ...without mistaking it for a new setup


# -- helpers behind the pages ---------------------------------------------------------------
def test_run_data_is_the_data_the_trainer_builds():
    cfg = default_config("moons", seed=7)
    a, b = Trainer(cfg), state.run_data(cfg)
    np.testing.assert_array_equal(a.data.X_train, b.X_train)
    np.testing.assert_array_equal(a.data.Y_test, b.Y_test)
    np.testing.assert_array_equal(a.network.params, Trainer(cfg, data=b).network.params)


def test_block_average_keeps_heatmaps_small_and_means_exact():
    A = np.arange(784 * 512, dtype=np.float64).reshape(784, 512)
    B, (fr, fc) = figures.block_average(A)
    assert max(B.shape) <= 128 and (fr, fc) == (7, 4) and B.dtype == np.float32
    np.testing.assert_allclose(B[0, 0], A[:7, :4].mean())
    C, _ = figures.block_average(np.ones((130, 3)))
    assert C.shape == (65, 3) and np.all(C == 1)
    W = np.random.default_rng(0).normal(size=(784, 512)).astype(np.float32)
    fig = figures.weight_heatmap(W, np.zeros(512, np.float32), 3.0, "t")
    assert figures.figure_bytes(fig) <= 0.25e6
    assert figures.figure_bytes(figures.weight_heatmap(W, None, 3.0, "t", full=True)) > 1e6


def test_every_figure_is_valid_plotly():
    tr = Trainer(default_config("blobs", hidden=[6, 4]))
    tr.fit(2)
    recs, data = tr.records, tr.data
    long_run = Trainer(default_config("xor"))
    long_run.fit(120)
    xs, ys, pts = predict.grid_points(data.X_train, 20)
    labels = data.labels(data.Y_train)
    W, b = tr.network.layers[0].weights, tr.network.layers[0].biases
    built = [
        figures.loss_curves(recs), figures.loss_curves(recs, log=True),
        figures.accuracy_curves(recs), figures.epoch_times(recs), figures.norms(recs),
        figures.epoch_times(long_run.records), figures.loss_curves(long_run.records),
        figures.decision_boundary(xs, ys, tr.predict(pts), data.X_train, labels, None, None,
                                  ["a", "b", "c"], 2),
        figures.decision_boundary(xs, ys, tr.predict(pts)[:, :2], data.X_train, labels % 2,
                                  data.X_train, labels % 2, ["a", "b"], 2),
        figures.image_samples(np.random.rand(10, 64), (8, 8), np.arange(10), np.arange(10)[::-1],
                              [str(i) for i in range(10)], 3),
        figures.logic_outputs(np.eye(2), np.eye(2), np.eye(2) * 0.9, 1),
        figures.pca_scatter(data.X_train, labels, ["a", "b", "c"]),
        figures.weight_heatmap(W, b, 1.0, "w"), figures.weight_heatmap(W, None, 1.0, "w"),
        figures.unit_images(np.random.rand(64, 40), (8, 8), 32, "u"),
        figures.histograms([W, W], [W * 0, W], "h"),
        figures.network_graph([(l.weights, l.biases) for l in tr.network.layers],
                              tr.network.activations, ["x1", "x2"], ["a", "b", "c"], 2),
        figures.network_graph([(l.weights, None) for l in tr.network.layers],
                              tr.network.activations, ["x1", "x2"], ["a", "b", "c"], 2, "ΔW"),
        figures.unit_maps(xs, ys, [a for _, a in tr.network.layer_outputs(pts)[:-1]],
                          tr.network.activations, 2),
    ]
    for fig in built:
        spec = fig.to_dict()
        go.Figure(spec)                          # raises on any invalid property
        assert fig.layout.title.text
        assert all(isinstance(c, list) for c in _values(spec, "colorscale")), \
            "colour scales must be spelled out: Plotly.js lacks Python's named scales"


def _values(obj, key):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                yield v
            yield from _values(v, key)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _values(v, key)


def test_a_learning_rate_schedule_applies_from_the_next_epoch():
    at = start()
    click(at, "btn_train_1")
    at.sidebar.selectbox(key="sb_lr_schedule").set_value("exponential").run()
    ok(at)
    assert any("learning-rate schedule constant → exponential" in i.value for i in at.info)
    at.sidebar.number_input(key="sb_lr_decay").set_value(0.5).run()
    ok(at)
    assert any("decay per epoch 0.9 → 0.5" in i.value for i in at.info)
    click(at, "btn_train_1")
    click(at, "btn_train_1")
    assert [r.lr for r in trainer(at).records[1:]] == pytest.approx([0.01, 0.005, 0.0025])


def test_a_train_n_run_says_it_is_paused_on_the_snapshots_page():
    at = start()
    click(at, "btn_train_n")
    assert at.session_state[state.EPOCHS_LEFT] > 0
    at.switch_page(PAGES[3]).run()
    ok(at)
    assert any("paused at epoch" in i.value for i in at.info)
    left = at.session_state[state.EPOCHS_LEFT]
    at.switch_page(PAGES[0]).run()
    ok(at)
    assert at.session_state[state.EPOCHS_LEFT] <= left


def test_sessions_on_the_same_data_share_one_read_only_copy():
    cfg = default_config("mnist_sample", hidden=[8], dataset_options={"limit": 400})
    a = state.run_data(cfg)
    assert state.run_data(cfg.replace(hidden=[4], lr=0.1)) is a      # data, not the run, is shared
    assert not a.X_train.flags.writeable and not a.Y_test.flags.writeable
    assert state.run_data(cfg.replace(seed=1)) is not a
    wide = state.run_data(cfg.replace(dtype="float64"))
    assert wide.X_train.dtype == np.float64 and a.X_train.dtype == np.float32
    before = a.X_train.copy()
    runs = [state.new_trainer(cfg), state.new_trainer(cfg.replace(dtype="float64")),
            state.new_trainer(cfg.replace(dataset_options={"limit": 400, "augment_shift": 2}))]
    for tr in runs:
        tr.run_epoch()
    assert runs[0].data is a and np.array_equal(a.X_train, before)
    # a dataset read from a path the user gave is never shared
    assert not any("path" in k[1] for k in state.SHARED_DATA.items)


def test_shared_data_keeps_within_its_byte_budget():
    shared = admit._SharedData(size=6, max_bytes=10 * 2**20)
    cfg = default_config("mnist_sample", hidden=[8], dataset_options={"limit": 300})
    for seed in range(4):                       # about 3.9 MB each
        shared.get(cfg.replace(seed=seed), lambda s=seed: load_dataset(
            "mnist_sample", {"limit": 300}, s))
    assert len(shared.items) == 2
    assert sum(d.nbytes for d in shared.items.values()) <= 10 * 2**20
    assert [k[2] for k in shared.items][-1] == 3           # the latest stays


def test_hidden_unit_maps_follow_the_network_and_show_on_the_weights_page_for_2d_data():
    cfg = default_config("moons", hidden=[5, 3], activations=["tanh", "sigmoid", "softmax"])
    tr = Trainer(cfg)
    tr.fit(2)
    xs, ys, pts = predict.grid_points(tr.data.X_train, 12)
    net, kept = predict.network_at(tr, 2)
    outs = [a for _, a in net.layer_outputs(pts)[:-1]]
    assert kept == 2 and [o.shape for o in outs] == [(144, 5), (144, 3)]
    fig = figures.unit_maps(xs, ys, outs, tr.network.activations, 2)
    hover = fig.data[1].text
    assert len(hover) == 8 and hover[0].startswith("layer 1 (tanh), unit 0")
    lo, hi = outs[0][:, 0].min(), outs[0][:, 0].max()
    assert hover[0].endswith(f"output from {lo:.3g} to {hi:.3g}")
    assert [a.text for a in fig.layout.annotations] == ["layer 1 (tanh, 5 units)",
                                                        "layer 2 (sigmoid, 3 units)"]
    with_inputs = figures.unit_maps(xs, ys, outs, tr.network.activations, 2, inputs=(pts, ["x1", "x2"]))
    hover = with_inputs.data[1].text
    assert len(hover) == 10 and hover[1] == (f"input, x2<br>value from {pts[:, 1].min():.3g} "
                                             f"to {pts[:, 1].max():.3g}")
    assert [a.text for a in with_inputs.layout.annotations][0] == "inputs: x1, x2"
    at = start(PAGES[1])
    click(at, "btn_train_1")
    assert "What each hidden unit computes at epoch 1" in " ".join(titles(at))
    at = start(PAGES[1], dataset="mnist_sample", hidden="8")
    assert not any("hidden unit computes" in t for t in titles(at))


def test_network_diagram_draws_every_weight_for_small_networks_only():
    tr = Trainer(default_config("xor", hidden=[3]))
    tr.fit(2)
    layers = [(l.weights, l.biases) for l in tr.network.layers]
    fig = figures.network_graph(layers, tr.network.activations, ["x1", "x2"], ["y"], 2)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert sum(t.x.count(None) for t in lines) == 2 * 3 + 3 * 1      # one segment per weight
    w = tr.network.layers[0].weights
    hover = next(t for t in fig.data if t.mode == "markers" and t.marker.opacity == 0).text
    assert f"weight input x1 → layer 1 unit 0: {w[0, 0]:.4g}" in hover
    nodes = fig.data[-1]
    assert len(nodes.x) == 2 + 3 + 1 and nodes.y[0] > nodes.y[1]    # x1 above x2
    at = start(PAGES[1], dataset="xor", hidden="3")
    assert any(t.startswith("The network at epoch 0") for t in titles(at))
    at = start(PAGES[1], dataset="mnist_sample", hidden="8")
    assert not any(t.startswith("The network at epoch") for t in titles(at))


def test_histogram_notes_sit_in_the_gradient_panels_and_say_why_they_are_empty():
    W = [np.ones((3, 4)), np.ones((4, 2))]
    zero = [np.zeros((3, 4)), np.zeros((4, 2))]
    for epoch, text in ((0, "no gradient yet (epoch 0)"), (7, "every gradient is 0")):
        fig = figures.histograms(W, zero, "t", epoch=epoch)
        notes = [a for a in fig.layout.annotations if a.text.startswith(text.split("<")[0])]
        assert len(notes) == 2 and all(a.xref == "paper" and a.x > 0.55 for a in notes)
        assert notes[0].y > notes[1].y                       # layer 1's panel, then layer 2's
    fig = figures.histograms(W, [None, None], "t", epoch=3)
    assert sum("not stored" in a.text for a in fig.layout.annotations) == 2


def test_a_slow_single_epoch_trains_with_a_progress_bar(monkeypatch):
    from dashboard import controls
    at = start()
    click(at, "btn_train_1")                       # fast: trained in the click itself
    assert trainer(at).epoch == 1 and at.session_state[state.EPOCHS_LEFT] == 0
    monkeypatch.setattr(controls, "SLOW_EPOCH_S", 0.0)
    runs, start_run = [], controls._start_run
    monkeypatch.setattr(controls, "_start_run", lambda n=None: (runs.append(n), start_run(n)))
    click(at, "btn_train_1")                       # slow: one epoch through the running panel
    assert runs == [1] and trainer(at).epoch == 2
    for _ in range(3):
        if at.session_state[state.EPOCHS_LEFT] == 0:
            break
        at.run()
        ok(at)
    assert trainer(at).epoch == 2 and epoch_metric(at) == "2" and at.session_state[state.EPOCHS_LEFT] == 0


def test_continue_from_an_earlier_epoch_drops_the_later_ones():
    at = start(PAGES[1])
    for _ in range(4):
        click(at, "btn_train_1")
    assert "btn_rewind" not in [b.key for b in at.button]         # at the latest: nothing to drop
    at.select_slider(key="epoch_slider").set_value(2).run()
    ok(at)
    click(at, "btn_rewind")
    tr = trainer(at)
    assert tr.epoch == 2 and len(tr.records) == 3 and epoch_metric(at) == "2"
    assert any("Back at epoch 2: epochs 3–4 were dropped" in i.value for i in at.info)
    click(at, "btn_undo")                         # the dropped epochs come back
    assert trainer(at).epoch == 4 and len(trainer(at).records) == 5
    at.select_slider(key="epoch_slider").set_value(2).run()
    click(at, "btn_rewind")
    click(at, "btn_train_1")
    assert trainer(at).epoch == 3


def test_undo_brings_back_a_trained_run_that_a_setup_change_replaced():
    at = start()
    for _ in range(3):
        click(at, "btn_train_1")
    old = trainer(at)
    at.sidebar.slider(key="sb_opt_moons_noise").set_value(0.3).run()      # a new run
    ok(at)
    assert trainer(at) is not old and trainer(at).epoch == 0
    assert "(moons, epoch 3)" in at.button(key="btn_undo").label
    click(at, "btn_undo")
    assert trainer(at) is old and trainer(at).epoch == 3
    assert at.sidebar.slider(key="sb_opt_moons_noise").value == 0.15       # its setup is back
    assert any("Back to the previous run: moons at epoch 3" in i.value for i in at.info)
    at.sidebar.number_input(key="sb_lr").set_value(0.02).run()     # the next edit keeps the run
    ok(at)
    assert trainer(at) is old and trainer(at).config.lr == 0.02
    # two setup changes in a row: Undo still goes back to the last trained run
    at.sidebar.slider(key="sb_opt_moons_noise").set_value(0.3).run()
    at.sidebar.slider(key="sb_opt_moons_noise").set_value(0.35).run()
    assert "(moons, epoch 3)" in at.button(key="btn_undo").label
    click(at, "btn_undo")
    assert trainer(at) is old
    click(at, "btn_train_1")                       # training on: no more undo
    assert "btn_undo" not in [b.key for b in at.button] and trainer(at).epoch == 4


def test_the_train_page_scrubs_its_data_view_back_and_marks_the_curves():
    at = start()
    for _ in range(3):
        click(at, "btn_train_1")
    at.select_slider(key="epoch_slider").set_value(1).run()
    ok(at)
    assert any(t.startswith("Decision boundary at epoch 1") for t in titles(at))
    loss = next(c for c in charts(at) if c["layout"]["title"]["text"] == "Loss")
    assert [s["x0"] for s in loss["layout"]["shapes"]] == [1]
    click(at, "btn_train_1")                      # training follows the latest again
    assert any(t.startswith("Decision boundary at epoch 4") for t in titles(at))
    loss = next(c for c in charts(at) if c["layout"]["title"]["text"] == "Loss")
    assert not loss["layout"].get("shapes")


def test_play_trains_frame_by_frame_and_pause_stops_on_one_epoch_shown_everywhere():
    at = start()
    assert at.button(key="btn_play").label == "Play"
    click(at, "btn_play")
    assert at.session_state[state.EPOCHS_LEFT] > 0
    assert at.button(key="btn_pause").label == "Pause"    # Pause takes Play's place
    seen = [trainer(at).epoch]
    for _ in range(3):                             # AppTest does not tick run_every: step it
        at.run()
        ok(at)
        seen.append(trainer(at).epoch)
        assert epoch_metric(at) == str(seen[-1])
    assert seen == sorted(seen) and seen[-1] > seen[0] > 0
    click(at, "btn_pause")
    paused = trainer(at).epoch
    assert at.session_state[state.EPOCHS_LEFT] == 0 and at.button(key="btn_play").label == "Play"
    at.run()
    ok(at)
    assert trainer(at).epoch == paused and epoch_metric(at) == str(paused)
    assert at.select_slider(key="epoch_slider").value == paused
    assert any(t.startswith(f"Decision boundary at epoch {paused} ") for t in titles(at))
    assert any(i.value == f"Paused at epoch {paused}." for i in at.info)


def test_an_unchanged_loss_says_no_change_in_grey():
    at = start(dataset="xor")
    tr = trainer(at)
    tr.records.append(dataclasses.replace(tr.records[-1], epoch=1))
    tr.epoch = 1
    at.run()
    ok(at)
    loss = next(m for m in at.metric if m.label == "Train loss")
    assert loss.proto.delta == "no change" and "color: GRAY" in str(loss.proto)
    assert "direction: NONE" in str(loss.proto)                   # no red arrow


def test_a_notice_shown_on_one_page_is_gone_on_the_next():
    at = start()
    click(at, "btn_train_1")
    click(at, "btn_reset")
    assert any(i.value.startswith("Reset: back to epoch 0") for i in at.info)
    at.switch_page(PAGES[1]).run()
    ok(at)
    assert not any(i.value.startswith("Reset") for i in at.info)
    at.switch_page(PAGES[0]).run()
    ok(at)
    assert not any(i.value.startswith("Reset") for i in at.info)


def test_sse_shows_the_per_sample_loss_beside_the_summed_one():
    at = start()
    at.sidebar.selectbox(key="sb_loss").set_value("sse").run()
    ok(at)
    tr = trainer(at)
    n = len(tr.data.X_train)
    assert any(f"per sample: train {tr.records[-1].train_loss / n:.4g}" in c.value
               for c in at.caption)
