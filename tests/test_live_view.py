"""The live view's frames (figures.live) and the loss axis's ticks."""
import base64
import json

import numpy as np
import pytest

from dashboard import figures
from dashboard.figures import live
from dashboard.figures.curves import log_ticks
from nncore import Trainer, predict
from nncore.presets import default_config


def floats(b64):
    return np.frombuffer(base64.b64decode(b64), "<f4")


def raw(b64):
    return np.frombuffer(base64.b64decode(b64), np.uint8)


@pytest.fixture(scope="module")
def moons():
    tr = Trainer(default_config("moons").replace(epochs=1000))
    tr.fit(3)
    return tr


def test_curves_keep_the_last_epoch_and_at_most_max_points(moons):
    recs = moons.records * 300                     # 1,200 records
    c = live.curves(recs, log=True, mark=2)
    assert len(floats(c["epochs"])) <= live.MAX_POINTS + 1
    assert floats(c["train_loss"])[-1] == np.float32(recs[-1].train_loss)
    assert floats(c["test_acc"])[0] == np.float32(recs[0].test_acc * 100)
    assert c["log"] is True and c["mark"] == 2
    json.dumps(c)


def test_a_frame_for_2d_data_has_the_boundary_points_and_every_units_picture(moons):
    data, net = moons.data, moons.network
    xs, ys, probs = predict.plane_answers(data, net, 20)
    p = live.plane(xs, ys, probs, data.P_train, predict.labels_of(data.Y_train, data.target),
                   data.P_test, predict.labels_of(data.Y_test, data.target), ["0", "1"])
    assert len(raw(p["field"])) == 400 and p["binary"]
    top_left = raw(p["field"])[0]                  # row 0 is the top of the plane
    assert top_left == round(float(np.clip(probs[-20, -1], 0, 1)) * 255)
    n = len(data.P_train) + len(data.P_test)
    assert len(floats(p["x"])) == n and raw(p["test"]).sum() == len(data.P_test)
    _, _, points = predict.data_plane(data, live.UNIT_GRID)
    outs = [a for _, a in net.layer_outputs(points)]
    d = live.network(net.sizes, [layer.weights for layer in net.layers], net.activations,
                     ["x1", "x2"], points, outs)
    assert d["sizes"] == [2, 16, 8, 2] and d["labels"] == ["input", "16 relu", "8 relu", "output"]
    g = live.UNIT_GRID
    assert [len(raw(b)) for b in d["pictures"]] == [n_ * g * g for n_ in (2, 16, 8, 2)]
    np.testing.assert_array_equal(floats(d["weights"][0]), net.layers[0].weights.ravel())
    json.dumps(d)


def test_a_relu_unit_picture_is_grey_at_zero_and_blue_at_its_largest():
    out = np.zeros((4, 1))
    out[0, 0] = 2.0                                # (row-major, bottom row first)
    pic = raw(live.unit_pictures([out], ["relu"])[0]).reshape(2, 2)
    assert pic[1, 0] == 255 and pic[0, 0] == 128   # bottom-left blue, the rest grey


def test_sample_grid_counts_the_wrong_guesses():
    g = live.sample_grid(np.ones((3, 4)), (2, 2), [1, 2, 3], [1, 0, 3], ["a", "b", "c", "d"], cols=3)
    assert g["wrong"] == 1 and len(raw(g["pixels"])) == 12


@pytest.mark.parametrize("lo,hi", [(0.41, 0.7), (0.01, 0.7), (2e-4, 2.3), (0.9, 1.1), (1e-5, 1)])
def test_log_ticks_are_few_and_inside_the_range(lo, hi):
    ticks = log_ticks(lo, hi)
    assert 2 <= len(ticks) <= 7 and all(lo * 0.98 <= t <= hi * 1.02 for t in ticks)


def test_the_log_loss_axis_labels_every_tick(moons, monkeypatch):
    monkeypatch.setattr(figures.base, "VALIDATE", True)
    axis = figures.loss_curves(moons.records, log=True).layout.yaxis
    assert axis.type == "log" and len(axis.tickvals) >= 3
    assert list(axis.ticktext) == [f"{t:g}" for t in axis.tickvals]
