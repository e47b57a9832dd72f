"""Input features of 2-D data (x1², x1·x2, sin x1, ...), from the engine to the pages."""
from __future__ import annotations

import numpy as np
import pytest
from test_app import PAGES, charts, click, ok, start, trainer
from test_predictions_page import decode

from nncore import RunConfig, Trainer, load_dataset, snapshot
from nncore.datasets import FEATURES, make_features
from nncore.presets import default_config


def test_features_are_computed_from_the_same_points():
    plain = load_dataset("circles", {}, 3)
    feat = load_dataset("circles", {"features": "x1^2, x2^2,x1*x2"}, 3)
    assert plain.features == ("x1", "x2") and plain.plane is None
    assert feat.features == ("x1^2", "x2^2", "x1*x2") and feat.n_in == 3
    np.testing.assert_array_equal(feat.P_train, plain.X_train)      # same points, same dtype
    np.testing.assert_array_equal(feat.P_test, plain.X_test)
    x1, x2 = feat.P_train[:, 0], feat.P_train[:, 1]
    np.testing.assert_allclose(feat.X_train, np.c_[x1 * x1, x2 * x2, x1 * x2], rtol=1e-6)
    np.testing.assert_allclose(feat.plane_inputs(feat.P_test), feat.X_test, rtol=1e-6)
    assert feat.plane_inputs(feat.P_test).dtype == np.float32
    assert "inputs: x1^2, x2^2, x1*x2" in feat.notes
    every = make_features(np.array([[0.5, -2.0]]), tuple(FEATURES))
    np.testing.assert_allclose(every, [[0.5, -2.0, 0.25, 4.0, -1.0, np.sin(0.5), np.sin(-2.0)]])


def test_feature_names_are_canonical_in_the_config():
    cfg = RunConfig(dataset="moons", dataset_options={"features": " sin(x2), x1 "})
    assert cfg.validate().dataset_options["features"] == "x1,sin(x2)"
    assert RunConfig(dataset="xor").validate().dataset_options == {"features": "x1,x2"}


@pytest.mark.parametrize("bad, needle", [("x3", "unknown 'x3'"), ("", "choose at least one"),
                                         ("x1,x1", "names one of them twice"),
                                         ("x1;x2", "unknown 'x1;x2'")])
def test_bad_feature_lists_name_the_problem(bad, needle):
    with pytest.raises(ValueError, match="features") as info:
        load_dataset("spiral", {"features": bad}, 0)
    assert needle in str(info.value)


def test_three_input_tables_and_images_are_not_on_the_plane():
    for name in ("xor3", "digits"):
        data = load_dataset(name, {}, 0)
        assert not data.on_plane and data.features is None
        with pytest.raises(ValueError, match="unknown option"):
            load_dataset(name, {"features": "x1"}, 0)


def _fit(dataset, features, hidden, epochs, **kw):
    cfg = default_config(dataset).replace(dataset_options={"features": features}, hidden=hidden,
                                          epochs=epochs, seed=0, **kw)
    tr = Trainer(cfg)
    tr.fit()
    return tr.records[-1]


def test_squares_make_circles_separable_without_a_hidden_layer():
    # the TensorFlow Playground's lesson: a ring is a line in (x1², x2²)
    plain = _fit("circles", "x1,x2", [], 300, optimizer="adam", lr=0.05, batch="full")
    squares = _fit("circles", "x1^2,x2^2", [], 300, optimizer="adam", lr=0.05, batch="full")
    assert plain.test_acc < 0.75
    assert squares.test_acc > 0.95


def test_the_product_makes_xor_a_single_unit_problem():
    cfg = default_config("xor").replace(dataset_options={"features": "x1,x2,x1*x2"}, hidden=[],
                                        activations=["sigmoid"], loss="mse", optimizer="adam",
                                        lr=0.1, batch="full", epochs=2000, seed=1)
    tr = Trainer(cfg)
    tr.fit()
    assert tr.network.sizes == [3, 1] and tr.records[-1].train_acc == 1.0


def test_a_snapshot_keeps_the_features_and_resumes_exactly():
    cfg = default_config("spiral").replace(dataset_options={"features": "x1,x2,sin(x1),sin(x2)"},
                                           epochs=6)
    a = Trainer(cfg)
    a.fit(3)
    b = snapshot.loads(snapshot.dumps(a)).to_trainer()
    assert b.data.features == ("x1", "x2", "sin(x1)", "sin(x2)") and b.network.sizes[0] == 4
    a.fit(3)
    b.fit(3)
    assert a.network.params.tobytes() == b.network.params.tobytes()


def test_the_sidebar_picks_features_and_every_page_draws_the_plane():
    at = start(dataset="circles")
    at.sidebar.multiselect(key="sb_opt_circles_features").select("x1^2").select("x2^2").run()
    ok(at)
    tr = trainer(at)
    assert tr.data.features == ("x1", "x2", "x1^2", "x2^2") and tr.network.sizes[0] == 4
    assert tr.config.dataset_options["features"] == "x1,x2,x1^2,x2^2"
    at.sidebar.multiselect(key="sb_opt_circles_features").unselect("x1").unselect("x2").run()
    ok(at)
    assert trainer(at).network.sizes[0] == 2 and trainer(at).data.plane is not None
    click(at, "btn_train_1")
    boundary = [c for c in charts(at) if c["layout"]["title"]["text"].startswith("Decision boundary")]
    assert boundary and boundary[0]["layout"]["images"]              # the field is drawn
    pts = [t for t in boundary[0]["data"] if t.get("name", "").endswith("(train)")]
    xs = np.concatenate([decode(t["x"]).astype(float) for t in pts])
    assert xs.min() < -0.5                    # points drawn on the plane, not as their squares
    for page in PAGES[1:3]:
        at.switch_page(page).run()
        ok(at)
    at.switch_page(PAGES[1]).run()
    graph = [c for c in charts(at) if c["layout"]["title"]["text"].startswith("The network at")]
    labels = [a["text"] for a in graph[0]["layout"]["annotations"]]
    assert "x1²" in labels and "x2²" in labels
    layer1 = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Layer 1 weights"))
    assert layer1["layout"]["yaxis"]["ticktext"] == ["x1²", "x2²"]


def test_features_of_a_truth_table_keep_its_inputs_in_the_table():
    at = start(dataset="xor")
    at.sidebar.multiselect(key="sb_opt_xor_features").select("x1*x2").run()
    ok(at)
    assert trainer(at).network.sizes[0] == 3
    table = at.table[0].value
    assert list(table.columns[:2]) == ["x1", "x2"] and "x3" not in table.columns
