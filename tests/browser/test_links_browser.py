"""Links in a real browser: a setup's link opens the same run elsewhere, the address follows
the sidebar, lessons hide controls, hostile links get one plain-text notice."""
import os
import urllib.parse

import pytest
from appdriver import (
    VIEWPORT,
    metric_value,
    open_app,
    page_problems,
    screenshot,
    set_text,
    wait_epoch,
    wait_idle,
)

pytestmark = pytest.mark.browser

LINK = "?dataset=spiral&hidden=8,8&lr=0.03&seed=7"


def query(page) -> dict:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))


def wait_query(page, want: dict, timeout=30_000):
    """Wait until the address bar's query holds exactly ``want``."""
    page.wait_for_function("""(want) => { const q = new URLSearchParams(location.search);
        const got = Object.fromEntries(q.entries());
        return JSON.stringify(Object.keys(got).sort().map(k => [k, got[k]])) ===
               JSON.stringify(Object.keys(want).sort().map(k => [k, want[k]])); }""",
                           arg=want, timeout=timeout)


def train_one(page):
    page.get_by_role("button", name="Train 1 epoch").click()
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => m.innerText.startsWith('Epoch') &&
                   m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === '1')""")
    wait_idle(page)
    return metric_value(page, "Train loss"), metric_value(page, "Test accuracy")


def test_a_link_gives_the_same_run_in_two_fresh_browsers(browser, app_url, shots_dir):
    results = []
    for i in range(2):
        context = browser.new_context(viewport=VIEWPORT)     # no shared cookies or storage
        page = context.new_page()
        page.set_default_timeout(30_000)
        open_app(page, app_url, LINK)
        side = page.get_by_test_id("stSidebar").inner_text()
        assert "2-8-8-2" in side
        assert page.get_by_label("Learning rate", exact=True).input_value() == "0.03"
        assert page.get_by_label("Seed", exact=True).input_value() == "7"
        results.append(train_one(page))
        assert page_problems(page) == []
        if i == 0:
            screenshot(page, os.path.join(shots_dir, "link_opened.png"))
        context.close()
    assert results[0] == results[1]                    # same loss after one epoch


def test_the_address_follows_the_sidebar_and_share_shows_it(page, app_url, shots_dir):
    open_app(page, app_url)
    set_text(page, "Hidden layers", "8, 8")
    wait_idle(page)
    wait_query(page, {"hidden": "8,8"})
    field = page.get_by_label("Learning rate", exact=True)
    field.fill("0.03")
    field.press("Enter")
    wait_idle(page)
    wait_query(page, {"hidden": "8,8", "lr": "0.03"})
    page.get_by_role("link", name="Weights").click()          # another page keeps the setup
    wait_idle(page)
    page.wait_for_timeout(500)
    wait_query(page, {"hidden": "8,8", "lr": "0.03"})
    assert urllib.parse.urlsplit(page.url).path == "/weights"
    page.get_by_test_id("stSidebar").get_by_test_id("stPopoverButton").filter(has_text="Share").click()
    code = page.get_by_test_id("stCode").filter(has_text="hidden=8,8")
    code.wait_for()
    assert code.inner_text().strip() == f"{app_url}/weights?hidden=8,8&lr=0.03"
    screenshot(page, os.path.join(shots_dir, "share.png"), full_page=False)


HOSTILE = [
    "?lr=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&zzz=1&%3Cscript%3Ealert(2)%3C%2Fscript%3E=x",
    "?title=**Bold**%20%3Cb%3Ex%3C%2Fb%3E&note=%23%20Heading%0A%3Cscript%3Ealert(3)%3C%2Fscript%3E"
    "&hidden=%EF%BC%98&seed=-1",
    "?lr=" + "9" * 20_000 + "&dataset=..%2F..%2Fetc%2Fpasswd&hide=sidebar%3C%2Fstyle%3E",
]


def test_hostile_links_get_one_plain_notice_and_the_app_works(page, app_url, shots_dir):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for i, link in enumerate(HOSTILE):
        open_app(page, app_url, link)
        main = page.get_by_test_id("stMain")
        notices = main.get_by_text("This link has settings that cannot be used")
        assert notices.count() == 1
        box = page.locator(".st-key-link_notice")
        assert box.locator("img, script, a, b, h1").count() == 0   # nothing rendered as markup
        if i == 1:
            banner = page.locator(".st-key-lesson_banner")
            assert "**Bold** <b>x</b>" in banner.inner_text()
            assert "<script>alert(3)</script>" in banner.inner_text()
            assert banner.locator("b, strong, h1, script").count() == 0
            screenshot(page, os.path.join(shots_dir, "hostile_link.png"), full_page=False)
        train_one(page)
        assert metric_value(page, "Epoch") == "1"
        assert page.locator('[data-testid="stException"]').count() == 0
    assert dialogs == []                                  # no script ran


def test_lesson_links_hide_controls_and_open_on_their_page(page, app_url, shots_dir):
    from dashboard import address
    from dashboard.lessons import LESSONS
    spiral = next(x for x in LESSONS if x["key"] == "spiral_depth")["params"]
    open_app(page, app_url, "?" + address.query_string(spiral))
    side = page.get_by_test_id("stSidebar")
    assert side.get_by_text("Dataset", exact=True).is_hidden()
    assert side.get_by_text("Classes", exact=True).is_hidden()
    assert page.get_by_label("Hidden layers", exact=True).is_visible()
    assert page.get_by_label("Hidden layers", exact=True).input_value() == "6"
    banner = page.locator(".st-key-lesson_banner")
    assert "A spiral that needs depth" in banner.inner_text()
    assert page_problems(page) == []
    screenshot(page, os.path.join(shots_dir, "lesson_spiral.png"), full_page=False)

    watch = next(x for x in LESSONS if x["key"] == "xor_watch")["params"]
    page.goto(app_url + "/?" + address.query_string(watch))
    page.wait_for_selector(".st-key-lesson_banner")
    wait_idle(page)
    assert page.get_by_test_id("stSidebar").count() == 0
    assert page.locator(".js-plotly-plot .gtitle").filter(has_text="Layer 1 weights").count() >= 1
    page.get_by_role("button", name="Train 1 epoch").click()
    wait_epoch(page, 1)               # the click's rerun may not have started when idle is seen
    assert metric_value(page, "Epoch") == "1"
    screenshot(page, os.path.join(shots_dir, "lesson_no_sidebar.png"), full_page=False)
    page.get_by_role("link", name="Lessons").click()
    page.wait_for_selector(".st-key-lesson_ring_features")
    wait_idle(page)
    screenshot(page, os.path.join(shots_dir, "lessons_page.png"))
