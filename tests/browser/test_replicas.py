"""Two replicas behind nginx (deploy/): kill -9 the one serving a tab; the tab reconnects
through nginx to the other replica, which reopens the run from the store at its last epoch."""
import os
import shutil
import sys

import pytest
from appdriver import ROOT, open_app, page_problems, screenshot, wait_epoch

sys.path.insert(0, os.path.join(ROOT, "deploy"))
from replicas import NGINX, Cluster  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.skipif(not os.path.exists(NGINX) and not shutil.which("nginx"), reason="no nginx")
def test_a_killed_replica_hands_its_tab_to_another(browser, tmp_path, shots_dir):
    env = {"NNCORE_RUN_STORE": "sqlite:///" + str(tmp_path / "runs.sqlite")}
    with Cluster(2, env=env) as cluster:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = ctx.new_page()
            page.set_default_timeout(30_000)
            open_app(page, cluster.url)
            assert any(c["name"] == "nncore_replica" for c in ctx.cookies())   # sticky
            for e in (1, 2, 3):
                page.get_by_role("button", name="Train 1 epoch", exact=True).click()
                wait_epoch(page, e)
            page.wait_for_function("() => new URLSearchParams(location.search).get('run')")
            loss = page.get_by_test_id("stMetric").filter(has_text="Train loss").inner_text()
            cluster.kill(cluster.busiest())                  # kill -9 the replica serving it
            page.get_by_text("Reopened the run of this link at epoch 3").wait_for(timeout=60_000)
            wait_epoch(page, 3)
            assert page.get_by_test_id("stMetric").filter(has_text="Train loss").inner_text() == loss
            page.get_by_role("button", name="Train 1 epoch", exact=True).click()
            wait_epoch(page, 4)
            assert page_problems(page) == []
            screenshot(page, os.path.join(shots_dir, "replica-killed.png"), full_page=False)
        finally:
            ctx.close()
