"""The app with a conv network: the same sidebar, the Weights page's filters, feature maps
and block diagram, and the other pages unchanged."""
from __future__ import annotations

import pytest
from test_app import charts, click, ok, start, titles, trainer

HIDDEN = "conv 4@3x3, pool 2, 16"


@pytest.fixture(scope="module")
def trained():
    at = start(dataset="digits", hidden=HIDDEN)
    click(at, "btn_train_1")
    return at


def test_a_conv_net_trains_from_the_hidden_layers_text(trained):
    tr = trainer(trained)
    assert tr.network.sizes == ["1x8x8", "conv 4@3x3", "pool 2", 16, 10] and tr.epoch == 1
    labels = [s.label for s in trained.sidebar.selectbox]
    assert "Layer 1 activation (conv 4@3x3)" in labels and "Layer 2 activation" in labels
    assert not any("Layer 3 activation" in label for label in labels)     # the pool has none


def test_weights_page_shows_filters_feature_maps_and_blocks(trained):
    at = trained
    at.switch_page("app_pages/weights.py").run()
    ok(at)
    names = titles(at)
    assert names[0].startswith("The network: conv and pool blocks")
    assert any(t.startswith("Layer 1 weights at epoch 1: 4 filters of 3×3") for t in names)
    assert any(t.startswith("Layer output 1 (conv): 4 × 6 × 6") for t in names)
    assert any(t.startswith("Layer output 2 (max-pool 2): 4 × 3 × 3") for t in names)
    spec = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("Layer 1 weights"))
    z = spec["data"][0]["z"]
    rows = z["shape"] if isinstance(z, dict) else (len(z), len(z[0]))
    # four 3x3 filters over one input channel: one row of four tiles, 1-cell gaps
    assert tuple(int(v) for v in (rows.split(",") if isinstance(rows, str) else rows)) == (3, 4 * 4 - 1)
    diagram = next(c for c in charts(at) if c["layout"]["title"]["text"].startswith("The network"))
    texts = [a["text"] for a in diagram["layout"]["annotations"] if a.get("text")]
    assert "<b>conv 4@3×3</b>" in texts and any("4×6×6" in t for t in texts)
    at.radio(key="w_view").set_value("Change since previous epoch (ΔW)").run()
    ok(at)
    assert any(t.startswith("Layer 1 ΔW, epoch 0 → 1: 4 filters") for t in titles(at))
    at.number_input(key="w_image").set_value(3).run()
    ok(at)
    assert not at.error


@pytest.mark.parametrize("page", ["app_pages/predictions.py", "app_pages/snapshots.py",
                                  "app_pages/train.py"])
def test_the_other_pages_work_unchanged(trained, page):
    trained.switch_page(page).run()
    ok(trained)
    assert not trained.error


def test_conv_layers_on_points_data_are_a_clear_sidebar_error():
    at = start(dataset="moons", hidden="conv 4@3x3, 16")
    assert any("'conv 4@3x3' needs images" in e.value for e in at.sidebar.error)
    at = start(dataset="digits", hidden="conv 4@9x9, 16")
    assert any("'conv 4@9x9' does not fit its input 1x8x8" in e.value for e in at.sidebar.error)
