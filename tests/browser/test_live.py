"""In a real browser: Play redraws the live view as it trains, Pause stops on one epoch."""
import os

import pytest
from appdriver import choose_option, metric_value, open_app, page_problems, screenshot, wait_idle

pytestmark = pytest.mark.browser

LIVE = """() => { const r = document.querySelector('[data-live-epoch]');
    if (!r) return null;
    const c = r.querySelector('.nnlive-plane canvas, .nnlive-grid canvas');
    return {epoch: r.getAttribute('data-live-epoch'), frame: +r.getAttribute('data-live-frame'),
            picture: c ? c.toDataURL().length + ':' + c.toDataURL().slice(-400) : null}; }"""


def _play_and_watch(page, frames=3):
    """Click Play; return the live view's states over ``frames`` new frames."""
    page.get_by_role("button", name="Play", exact=True).click()
    page.get_by_role("button", name="Pause", exact=True).wait_for()
    seen = []
    for _ in range(frames):
        before = (page.evaluate(LIVE) or {}).get("frame", 0)
        page.wait_for_function(f"() => +document.querySelector('[data-live-epoch]')"
                               f"?.getAttribute('data-live-frame') > {before}", timeout=60_000)
        seen.append(page.evaluate(LIVE))
    return seen


def _pause(page):
    page.get_by_role("button", name="Pause", exact=True).click()
    page.get_by_role("button", name="Play", exact=True).wait_for()
    wait_idle(page)
    page.wait_for_timeout(1000)
    wait_idle(page)


def test_play_redraws_the_boundary_and_pause_stops_on_one_epoch_everywhere(page, app_url,
                                                                          shots_dir):
    open_app(page, app_url)
    seen = _play_and_watch(page)
    epochs = [int(s["epoch"]) for s in seen]
    assert epochs == sorted(epochs) and epochs[-1] > epochs[0]          # it advances
    assert len({s["picture"] for s in seen}) > 1                        # the boundary changes
    assert page.get_by_text("Playing: epoch").count() == 1
    screenshot(page, os.path.join(shots_dir, "live_playing.png"), full_page=False)
    _pause(page)
    stopped = metric_value(page, "Epoch")
    page.wait_for_timeout(1000)
    assert metric_value(page, "Epoch") == stopped and int(stopped) >= epochs[-1]
    assert page.evaluate(LIVE)["epoch"] == stopped
    assert page.get_by_text(f"Paused at epoch {stopped}.").count() == 1
    assert page.get_by_text(f"Decision boundary at epoch {stopped} ").count() == 1
    slider = page.locator('[data-testid="stMain"] input[aria-label="Epoch to show"]')
    assert slider.get_attribute("aria-valuetext") == stopped
    assert page_problems(page) == []
    screenshot(page, os.path.join(shots_dir, "live_paused.png"), full_page=False)


def test_one_screen_holds_the_controls_curves_and_boundary_at_1400_by_1000(page, app_url,
                                                                          shots_dir):
    open_app(page, app_url)
    page.get_by_role("button", name="Train 1 epoch").click()
    wait_idle(page)
    main = page.get_by_test_id("stMain").bounding_box()
    for selector in ('.st-key-run_buttons', '.nnlive-plane canvas', '.nnlive-curves canvas',
                     '.nnlive-net canvas', '[data-testid="stMetric"]'):
        box = page.locator(selector).first.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 1000, selector
        assert box["x"] + box["width"] <= main["x"] + main["width"] + 1, selector
    screenshot(page, os.path.join(shots_dir, "one_screen.png"), full_page=False)


def test_images_play_with_a_sample_grid(page, app_url, shots_dir):
    open_app(page, app_url)
    choose_option(page, "Dataset", "digits")
    page.wait_for_timeout(300)
    wait_idle(page, 120_000)
    seen = _play_and_watch(page, frames=2)
    assert int(seen[-1]["epoch"]) > int(seen[0]["epoch"]) >= 0
    assert page.locator(".nnlive-grid canvas").is_visible()
    _pause(page)
    assert page.evaluate(LIVE)["epoch"] == metric_value(page, "Epoch")
    assert page_problems(page) == []
    screenshot(page, os.path.join(shots_dir, "live_digits.png"), full_page=False)
