"""Crash safety for real: train in the browser, kill -9 the server mid-run, start it again,
click Resume, and get the run back at its last stored epoch, bit for bit."""
import os
import time

import numpy as np
import pytest
from appdriver import (
    free_port,
    open_app,
    page_problems,
    screenshot,
    set_text,
    start_app,
    stop_app,
    wait_idle,
)

from dashboard import limits, runstore
from nncore import Trainer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_epoch(page, want, timeout=30_000):
    page.wait_for_function("""(want) => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => m.innerText.startsWith('Epoch') &&
                   m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === want)""",
                           arg=str(want), timeout=timeout)
    wait_idle(page)


def only_run(url):
    """The one run in the app's store, as a Trainer (read as another process would)."""
    store = runstore.RunStore(runstore.Settings(url=url, ttl_s=3600, total_bytes=2**30,
                                                history_bytes=0, protect_interrupted=True),
                              writer="test")
    try:
        found = store.runs()
    finally:
        store.close()
    assert len(found) == 1, [r.summary for r in found]
    return runstore.read_trainer(found[0].body, limits.LOCAL)


def assert_same(a, b):
    assert (a.epoch, a.iterations) == (b.epoch, b.iterations)
    assert np.array_equal(a.network.params, b.network.params)
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["t"] == sb["t"] and all(np.array_equal(sa[k], sb[k]) for k in sa if k != "t")
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


def test_kill_9_mid_run_then_resume(browser, tmp_path, shots_dir):
    runs = "sqlite:///" + str(tmp_path / "runs.sqlite")
    env = {"NNCORE_HOSTED": "0", "NNCORE_RUN_STORE": runs}
    port = free_port()
    proc, url = start_app(port=port, env=env)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        open_app(page, url)
        assert page.get_by_role("button", name="Resume").count() == 0      # nothing to resume yet
        set_text(page, "Hidden layers", "8, 4")
        page.get_by_text("2-8-4-2").first.wait_for()
        wait_idle(page)
        for e in (1, 2):
            page.get_by_role("button", name="Train 1 epoch", exact=True).click()
            wait_epoch(page, e)
        assert only_run(runs).epoch == 2

        # a long run; kill -9 the server while it trains
        set_text(page, "Epochs per run", "3000")
        page.get_by_role("button", name="Train 3000 epochs").wait_for()
        wait_idle(page)
        page.get_by_role("button", name="Train 3000 epochs").click()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if only_run(runs).epoch >= 10:
                break
            time.sleep(0.1)
        proc.kill()                        # SIGKILL: no shutdown handler runs
        proc.wait(10)
        saved = only_run(runs)
        k = saved.epoch
        assert 10 <= k < 3002, k            # killed mid-run, after some saves

        # start again: the app offers the run and resumes it at its last stored epoch
        proc, url = start_app(port=port, env=env)
        open_app(page, url)
        banner = page.get_by_test_id("stVerticalBlock").filter(
            has_text="An interrupted run can be resumed").last
        banner.wait_for()
        wait_idle(page)
        assert "moons 2-8-4-2" in banner.inner_text() and f"epoch {k}" in banner.inner_text()
        screenshot(page, os.path.join(shots_dir, "crash-1-offer.png"), full_page=False)
        page.get_by_role("button", name="Resume", exact=True).click()
        wait_epoch(page, k)
        assert page.get_by_role("button", name="Resume").count() == 0
        assert "2-8-4-2" in page.get_by_text("moons · 2-8-4-2").first.inner_text()
        assert page.get_by_label("Hidden layers", exact=True).input_value() == "8, 4"
        assert page_problems(page) == []
        screenshot(page, os.path.join(shots_dir, "crash-2-resumed.png"), full_page=False)

        # the run was moved to the new session's row in the store, unchanged
        resumed = only_run(runs)
        assert_same(resumed, saved)

        # and carries on exactly as an uninterrupted run of the same setup
        page.get_by_role("button", name="Train 1 epoch", exact=True).click()
        wait_epoch(page, k + 1)
        after = only_run(runs)
        straight = Trainer(saved.config)
        for _ in range(k + 1):
            straight.run_epoch()
        assert_same(after, straight)
    finally:
        ctx.close()
        stop_app(proc)
