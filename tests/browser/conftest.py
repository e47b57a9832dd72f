"""Shared Playwright fixtures: Debian's Chromium and a live ``streamlit run`` of the app.

Without /usr/bin/chromium (or Playwright) the browser tests are skipped, unless
NNCORE_REQUIRE_BROWSER=1 (CI), when they fail. The plain helpers live in appdriver.py.
"""
from __future__ import annotations

import os

import pytest
from appdriver import VIEWPORT, browser_missing, launch_browser, start_app, stop_app


# -- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    why = browser_missing()
    if why:
        if os.environ.get("NNCORE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required but {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()


@pytest.fixture(scope="session")
def app_url(browser):
    proc, url = start_app()
    yield url
    stop_app(proc)
    if os.environ.get("NNCORE_KEEP_APP_LOG") != "1":
        try:
            os.unlink(proc.log_path)
        except OSError:
            pass


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


@pytest.fixture
def shots_dir(tmp_path):
    """Where screenshots go: $NNCORE_SHOTS_DIR if set, else the test's tmp dir."""
    d = os.environ.get("NNCORE_SHOTS_DIR") or str(tmp_path)
    os.makedirs(d, exist_ok=True)
    return d
