"""The link back, in a real browser: once a run has trained the address carries run=<token>;
a reload, and a restarted server, reopen the run at its last epoch with its setup."""
import os
from urllib.parse import parse_qs, urlparse

import pytest
from appdriver import (
    free_port,
    open_app,
    page_problems,
    screenshot,
    set_text,
    start_app,
    stop_app,
    wait_epoch,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def run_key(page):
    values = parse_qs(urlparse(page.url).query).get("run")
    return values[0] if values else None


def test_reload_and_restart_return_the_run(browser, tmp_path, shots_dir):
    env = {"NNCORE_HOSTED": "1", "NNCORE_RUN_STORE": "sqlite:///" + str(tmp_path / "runs.sqlite")}
    port = free_port()
    proc, url = start_app(port=port, env=env)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        open_app(page, url)
        set_text(page, "Hidden layers", "8, 4")
        page.get_by_text("2-8-4-2").first.wait_for()
        wait_idle(page)
        assert run_key(page) is None                       # nothing trained: no link yet
        for e in (1, 2, 3):
            page.get_by_role("button", name="Train 1 epoch", exact=True).click()
            wait_epoch(page, e)
        page.wait_for_function("() => new URLSearchParams(location.search).get('run')")
        token = run_key(page)
        assert len(token) >= 32
        loss = page.get_by_test_id("stMetric").filter(has_text="Train loss").inner_text()

        page.reload(wait_until="domcontentloaded")         # a reload: a new session
        page.wait_for_selector('[data-testid="stSidebar"]')
        wait_epoch(page, 3)
        assert page.get_by_label("Hidden layers", exact=True).input_value() == "8, 4"
        assert page.get_by_test_id("stMetric").filter(has_text="Train loss").inner_text() == loss
        page.get_by_text("Reopened the run of this link at epoch 3").wait_for()
        page.wait_for_function("(old) => { const r = new URLSearchParams(location.search).get('run');"
                               " return r && r !== old; }", arg=token)
        copy = run_key(page)                                # the reopened run is its own copy
        assert page_problems(page) == []
        screenshot(page, os.path.join(shots_dir, "link-1-reloaded.png"), full_page=False)

        stop_app(proc)                                      # a restarted server
        proc, url = start_app(port=port, env=env)
        open_app(page, url, f"?run={copy}")
        wait_epoch(page, 3)
        assert page.get_by_label("Hidden layers", exact=True).input_value() == "8, 4"
        page.get_by_role("button", name="Train 1 epoch", exact=True).click()
        wait_epoch(page, 4)

        open_app(page, url, "?run=not-a-run")             # a wrong link: a notice, a fresh run
        page.get_by_text("The run of this link cannot be opened").wait_for()
        wait_epoch(page, 0)
        assert run_key(page) in (None, "not-a-run")
        screenshot(page, os.path.join(shots_dir, "link-2-wrong.png"), full_page=False)
    finally:
        ctx.close()
        stop_app(proc)
