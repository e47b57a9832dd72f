"""Two browser sessions side by side on one server: each trains its own network, and
neither sees the other's dataset, epoch count or layer shapes."""
import pytest
from appdriver import (
    VIEWPORT,
    choose_option,
    metric_value,
    open_app,
    page_problems,
    set_text,
    wait_epoch,
    wait_idle,
)

pytestmark = pytest.mark.browser


def summary(page):
    """The run's one-line summary above the training buttons, e.g. 'xor · 2-3-1 (...)'."""
    return page.get_by_test_id("stMarkdownContainer").filter(has_text=" parameters").filter(
        has_text=" · ").first.inner_text()


def train(page, times):
    for _ in range(times):
        epoch = int(metric_value(page, "Epoch"))
        page.get_by_role("button", name="Train 1 epoch", exact=True).click()
        wait_epoch(page, epoch + 1)


def setup(page, url, dataset, hidden, shape):
    open_app(page, url)
    choose_option(page, "Dataset", dataset)
    wait_idle(page)
    set_text(page, "Hidden layers", hidden)
    wait_idle(page)
    page.get_by_text(shape, exact=False).first.wait_for()
    assert shape in summary(page)


def state_of(page):
    return {"summary": summary(page), "epoch": metric_value(page, "Epoch"),
            "hidden": page.get_by_label("Hidden layers", exact=True).input_value(),
            "dataset": page.get_by_test_id("stSelectbox").filter(
                has=page.get_by_text("Dataset", exact=True)).locator("input").input_value()}


def test_two_sessions_train_their_own_networks(browser, app_url):
    ctx_a = browser.new_context(viewport=VIEWPORT)
    ctx_b = browser.new_context(viewport=VIEWPORT)
    try:
        a, b = ctx_a.new_page(), ctx_b.new_page()
        for p in (a, b):
            p.set_default_timeout(30_000)
        setup(a, app_url, "xor", "3", "2-3-1")
        setup(b, app_url, "moons", "8, 4", "2-8-4-2")
        # interleave the clicks: each session's run moves on its own
        train(a, 1)
        train(b, 2)
        train(a, 1)
        train(b, 1)

        sa, sb = state_of(a), state_of(b)
        assert sa["epoch"] == "2" and sb["epoch"] == "3"
        assert sa["summary"].startswith("xor · 2-3-1") and "moons" not in sa["summary"]
        assert sb["summary"].startswith("moons · 2-8-4-2") and "xor" not in sb["summary"]
        assert (sa["hidden"], sb["hidden"]) == ("3", "8, 4")
        assert (sa["dataset"], sb["dataset"]) == ("xor", "moons")

        # a full rerun of each (another page and back) still shows only its own run
        for p in (a, b):
            p.locator('[data-testid="stSidebarNavLink"]', has_text="Weights").first.click()
            p.get_by_role("button", name="Train 1 epoch", exact=True).wait_for()
            wait_idle(p)
        assert a.locator(".js-plotly-plot").count() >= 2 and b.locator(".js-plotly-plot").count() >= 3
        assert "2-8-4-2" not in a.inner_text("body") and "2-3-1" not in b.inner_text("body")
        assert state_of(a) == sa and state_of(b) == sb

        # resetting one leaves the other alone
        b.get_by_role("button", name="Reset", exact=True).click()
        wait_epoch(b, 0)
        a.locator('[data-testid="stSidebarNavLink"]', has_text="Train").first.click()
        a.get_by_role("button", name="Train 1 epoch", exact=True).wait_for()
        wait_idle(a)
        assert state_of(a) == sa
        train(a, 1)
        assert metric_value(a, "Epoch") == "3" and metric_value(b, "Epoch") == "0"
        assert page_problems(a) == [] and page_problems(b) == []
    finally:
        ctx_a.close()
        ctx_b.close()
