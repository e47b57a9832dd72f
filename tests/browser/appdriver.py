"""Driving the app in Debian's Chromium: start ``streamlit run``, open pages, read metrics.

Plain functions used by the browser tests (tests/browser) and the benchmarks (bench/).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = os.environ.get("NNCORE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}


def cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port=None, env=None, timeout=60.0):
    """Start ``streamlit run dashboard/app.py`` from the repo root; return (process, url)."""
    port = port or free_port()
    log = tempfile.NamedTemporaryFile("w+b", prefix="streamlit-", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    # the test app's run store: a temporary SQLite file, not runs/runs.sqlite
    store = (None if "NNCORE_RUN_STORE" in (env or {}) else
             "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="nncore-runs-"), "runs.sqlite"))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **({"NNCORE_RUN_STORE": store} if store else {}),
                                 **(env or {})})
    proc.log_path = log.name
    proc.run_store = store or env["NNCORE_RUN_STORE"]
    proc.runs_dir = os.path.dirname(store[len("sqlite:///"):]) if store else None
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{app_log(proc)}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    stop_app(proc)
    raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout} s")


def app_log(proc) -> str:
    try:
        with open(proc.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def stop_app(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if getattr(proc, "runs_dir", None):
        shutil.rmtree(proc.runs_dir, ignore_errors=True)


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def wait_idle(page, timeout=30_000):
    """Wait until the app is connected, no script (or fragment) is running and no element
    is still loading its code (skeletons), then for two animation frames so charts are
    painted."""
    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
                           '[data-test-script-state="notRunning"]', timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')",
                           timeout=timeout)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def open_app(page, url, path="", timeout=60_000):
    page.goto(url + "/" + path, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stSidebar"]', timeout=timeout)
    wait_idle(page, timeout)


def scroll_top(page):
    page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
                            if (m) m.scrollTo(0, 0); window.scrollTo(0, 0); }""")


def screenshot(page, path, full_page=True):
    """Scroll the main area to the top and save a screenshot (the whole page by default)."""
    scroll_top(page)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if full_page:   # Streamlit scrolls inside stMain: grow the viewport to its content first
        h = page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
                                     return m ? m.scrollHeight : document.body.scrollHeight; }""")
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(h, 8000))})
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.screenshot(path=path)
        page.set_viewport_size(size)
    else:
        page.screenshot(path=path)
    return path


def metric_value(page, label):
    """The text of the st.metric labelled ``label`` (None if absent)."""
    return page.evaluate("""(label) => {
        for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
            const l = m.querySelector('[data-testid="stMetricLabel"]');
            if (l && l.innerText.trim() === label)
                return m.querySelector('[data-testid="stMetricValue"]').innerText.trim();
        }
        return null; }""", label)


def wait_epoch(page, want):
    """Wait until the Epoch metric shows ``want``, then for the app to be idle."""
    page.wait_for_function("""(want) => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => m.innerText.startsWith('Epoch') &&
                   m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === want)""",
                           arg=str(want))
    wait_idle(page)


def page_problems(page):
    """Texts of exceptions and warnings shown on the page (should be none)."""
    return page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid="stException"], [data-testid="stAlertContentWarning"]')]
        .map(e => e.innerText.trim())""")


def choose_option(page, label, option):
    """Pick ``option`` in the st.selectbox labelled ``label``."""
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    field = box.locator("input")
    field.click()
    field.fill(option)              # the list is virtualised: filter it so the option is drawn
    page.get_by_role("option", name=option, exact=True).click()


def set_text(page, label, text):
    """Type ``text`` into the st.text_input labelled ``label`` and submit it."""
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press("Enter")
