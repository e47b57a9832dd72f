"""Two runs side by side in a real browser: Add to comparison, then the Compare page."""
import os

import pytest
from appdriver import metric_value, open_app, page_problems, screenshot, wait_idle

pytestmark = pytest.mark.browser


def train(page, n):
    for _i in range(n):
        before = metric_value(page, "Epoch")
        page.get_by_role("button", name="Train 1 epoch").click()
        page.wait_for_function("""(before) => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.startsWith('Epoch') &&
                       m.querySelector('[data-testid="stMetricValue"]').innerText.trim() !== before)""",
                               arg=before)
        wait_idle(page)


def test_two_runs_compared(page, app_url, shots_dir):
    open_app(page, app_url, "?dataset=spiral&classes=3&hidden=6&lr=0.03")
    train(page, 3)
    page.get_by_role("button", name="Add to comparison").click()
    page.get_by_text("1 run on the Compare page").wait_for()
    field = page.get_by_label("Hidden layers", exact=True)
    field.fill("6, 6")
    field.press("Enter")
    wait_idle(page)
    page.wait_for_function("() => location.search.includes('hidden=6%2C6') || "
                           "location.search.includes('hidden=6,6')")
    train(page, 3)
    page.get_by_role("button", name="Add to comparison").click()
    page.get_by_text("2 runs on the Compare page").wait_for()
    page.get_by_role("link", name="Compare").click()
    page.get_by_text("Setups").wait_for()
    wait_idle(page)
    page.wait_for_timeout(500)
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    assert "Loss (solid: test, dotted: train)" in titles
    assert {"hidden 6: epoch 3", "hidden 6,6: epoch 3"} <= set(titles)
    legend = page.locator(".js-plotly-plot .legendtext").all_text_contents()
    assert "hidden 6" in legend and "hidden 6,6" in legend
    assert page_problems(page) == []
    screenshot(page, os.path.join(shots_dir, "compare.png"))
