"""In a real browser: choose data and layers, train epoch by epoch, see curves and heatmaps."""
import os

import pytest
from appdriver import choose_option, metric_value, open_app, page_problems, screenshot, set_text, wait_idle

pytestmark = pytest.mark.browser

EPOCH_IS = """([n]) => { for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
    const l = m.querySelector('[data-testid="stMetricLabel"]');
    if (l && l.innerText.trim() === 'Epoch')
        return m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === String(n); }
    return false; }"""


def wait_epoch(page, n, timeout=60_000):
    page.wait_for_function(EPOCH_IS, arg=[n], timeout=timeout)
    wait_idle(page)


def go_to(page, name):
    page.get_by_role("link", name=name).click()
    page.wait_for_timeout(300)
    wait_idle(page)


def test_choose_data_set_layers_train_three_epochs_and_see_every_layer(page, app_url, shots_dir):
    open_app(page, app_url)
    choose_option(page, "Dataset", "circles")
    page.wait_for_timeout(300)
    wait_idle(page)
    set_text(page, "Hidden layers", "8, 4")
    page.wait_for_timeout(300)
    wait_idle(page)
    assert "2-8-4-2" in page.get_by_test_id("stSidebar").inner_text()
    go_to(page, "Weights")
    for n in (1, 2, 3):
        page.get_by_role("button", name="Train 1 epoch").click()
        wait_epoch(page, n)
    assert metric_value(page, "Epoch") == "3"
    heatmaps = page.locator('[class*="st-key-heatmap_layer_"]')
    assert heatmaps.count() == 3                       # 2-8-4-2 has three layers
    for i in range(3):
        chart = page.locator(f".st-key-heatmap_layer_{i}")
        assert chart.locator("g.heatmaplayer").count() >= 1
        assert f"Layer {i + 1} weights at epoch 3" in chart.locator(".gtitle").text_content()
    assert page_problems(page) == []
    screenshot(page, os.path.join(shots_dir, "weights_after_3_epochs.png"))
    go_to(page, "Train")
    assert metric_value(page, "Epoch") == "3"
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    assert {"Loss", "Accuracy", "Time per epoch"} <= set(titles)
    assert any(t.startswith("Decision boundary at epoch 3") for t in titles)
    assert page_problems(page) == []
    screenshot(page, os.path.join(shots_dir, "train_after_3_epochs.png"))


@pytest.mark.slow
def test_train_n_epochs_redraws_as_it_goes_and_stop_ends_it(page, app_url, shots_dir):
    open_app(page, app_url)
    epochs = page.get_by_label("Epochs per run", exact=True)
    epochs.fill("5000")
    epochs.press("Enter")
    page.wait_for_timeout(300)
    wait_idle(page)
    page.get_by_role("button", name="Train 5000 epochs").click()
    page.wait_for_selector('[data-testid="stProgress"]')
    wait_epoch_above = ("([n]) => { const v = document.querySelector('[data-testid=stMetricValue]');"
                        " return v !== null && Number(v.innerText) > n; }")
    page.wait_for_function(wait_epoch_above, arg=[0], timeout=60_000)
    first = int(metric_value(page, "Epoch"))
    page.wait_for_function(wait_epoch_above, arg=[first], timeout=60_000)   # it redraws
    page.get_by_role("button", name="Stop").click()
    page.wait_for_function("() => [...document.querySelectorAll('button')].some(b => "
                           "b.innerText.includes('Train 1 epoch') && !b.disabled)", timeout=60_000)
    wait_idle(page)
    stopped = metric_value(page, "Epoch")
    page.wait_for_timeout(1500)
    assert metric_value(page, "Epoch") == stopped and 0 < int(stopped) < 5000
    assert page.get_by_text(f"Stopped at epoch {stopped}.").count() == 1
    # the view shows the epoch it stopped at (not the slider's value in an older frame)
    assert page.get_by_text(f"Decision boundary at epoch {stopped} ").count() == 1
    assert page.get_by_role("button", name="Continue from epoch").count() == 0
    assert page_problems(page) == []
    screenshot(page, os.path.join(shots_dir, "train_stopped.png"))


def test_undo_brings_back_the_trained_run_and_its_sidebar(page, app_url, shots_dir):
    open_app(page, app_url)
    for n in (1, 2):
        page.get_by_role("button", name="Train 1 epoch").click()
        wait_epoch(page, n)
    set_text(page, "Hidden layers", "3")
    page.wait_for_timeout(300)
    wait_idle(page)
    wait_epoch(page, 0)
    page.get_by_role("button", name="Undo: back to the trained run").click()
    wait_epoch(page, 2)
    page.wait_for_timeout(300)
    wait_idle(page)
    assert page.get_by_label("Hidden layers", exact=True).input_value() == "16, 8"
    assert "2-16-8-2" in page.get_by_test_id("stSidebar").inner_text()
    set_text(page, "Learning rate", "0.02")          # the next edit keeps the restored run
    page.wait_for_timeout(300)
    wait_idle(page)
    assert metric_value(page, "Epoch") == "2"
    assert page_problems(page) == []
    screenshot(page, os.path.join(shots_dir, "undo.png"))
