"""In the browser: download the run from the Snapshots page, load the same file back, and
see the same run (epoch count, losses, loss curve); a bad file changes nothing."""
import gzip
import json
import os

import pytest
from appdriver import metric_value, open_app, page_problems, screenshot, wait_idle

from nncore import snapshot

pytestmark = pytest.mark.browser


READY = {"Train": "Train 1 epoch", "Weights": "Train 1 epoch", "Snapshots": "Download training state"}


def goto(page, title):
    """Switch page in the same session (a new URL would start a new session)."""
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).first.click()
    page.wait_for_url(lambda u: u.rstrip("/").endswith(title.lower()) or title == "Train")
    page.get_by_role("button", name=READY[title], exact=True).wait_for()
    wait_idle(page)


def current_epoch(page):
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
        .some(l => l.innerText.trim() === 'Epoch')""")
    return int(metric_value(page, "Epoch"))


def train_one(page, times=1):
    for _ in range(times):
        epoch = current_epoch(page)
        page.get_by_role("button", name="Train 1 epoch", exact=True).click()
        page.wait_for_function("""(want) => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.startsWith('Epoch') &&
                       m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === want)""",
                               arg=str(epoch + 1))
        wait_idle(page)


def numbers(page):
    return {k: metric_value(page, k) for k in ("Epoch", "Train loss", "Test loss", "Test accuracy")}


def loss_curve(page):
    """(x, y) of every trace of the loss chart, read from Plotly's own data."""
    return page.evaluate("""() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            const t = (el.layout && el.layout.title && (el.layout.title.text || el.layout.title)) || '';
            const data = el._fullData || [];
            if (String(t).toLowerCase().includes('loss') && data.length)
                return data.map(d => [Array.from(d.x || []), Array.from(d.y || [])]);
        }
        return null; }""")


def choose_radio(page, label, option):
    group = page.get_by_test_id("stRadio").filter(has=page.get_by_text(label, exact=True))
    group.get_by_text(option, exact=True).click()
    wait_idle(page)


def download(page, tmp_path, name):
    """Click Download training state and save the file (the file is made on the click)."""
    button = page.get_by_role("button", name="Download training state", exact=True)
    with page.expect_download() as info:
        button.click()
    path = os.path.join(tmp_path, name)
    info.value.save_as(path)
    assert page.get_by_test_id("stDownloadButtonError").count() == 0
    return path


def upload(page, path):
    page.get_by_test_id("stFileUploader").filter(
        has=page.get_by_text("Load training state", exact=True)
    ).get_by_test_id("stFileUploaderDropzoneInput").set_input_files(path)
    wait_idle(page)


def test_download_then_load_back_shows_the_same_run(page, app_url, tmp_path, shots_dir):
    open_app(page, app_url)
    train_one(page, 3)
    before = numbers(page)
    curve_before = loss_curve(page)
    assert before["Epoch"] == "3" and curve_before and len(curve_before[0][0]) == 4

    goto(page, "Snapshots")
    assert page.get_by_role("button", name="Download training state", exact=True).is_visible()
    screenshot(page, os.path.join(shots_dir, "snapshots-1-download.png"))
    first = download(page, tmp_path, "first.json")
    snap = snapshot.load(first)
    assert snap.epoch == 3 and snap.encoding == "compact"
    assert [s["epoch"] for s in snap.states] == [0, 1, 2, 3]
    assert f"{snap.records[-1].train_loss:.4g}" == before["Train loss"]

    # the download is the run as it is now: train on, download again
    goto(page, "Train")
    train_one(page)
    assert metric_value(page, "Epoch") == "4"
    goto(page, "Snapshots")
    choose_radio(page, "Epochs to include", "Latest epoch only")
    choose_radio(page, "Arrays", "Readable")
    choose_radio(page, "File", ".json.gz")
    page.get_by_text("moons-2-16-8-2-epoch4-readable.json.gz", exact=True).wait_for()
    wait_idle(page)
    second = download(page, tmp_path, "second.json.gz")
    raw = open(second, "rb").read()
    doc = json.loads(gzip.decompress(raw))
    assert doc["encoding"] == "readable" and [s["epoch"] for s in doc["training_states"]] == [4]
    assert isinstance(doc["training_states"][0]["layers"][0]["weights"], list)

    # start over (epoch 0), then load the first file back
    goto(page, "Train")
    page.get_by_role("button", name="Reset", exact=True).click()
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => m.innerText.startsWith('Epoch') &&
                   m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === '0')""")
    wait_idle(page)
    assert metric_value(page, "Epoch") == "0"
    goto(page, "Snapshots")
    upload(page, first)
    page.get_by_test_id("stAlertContentSuccess").filter(has_text="Loaded first.json").wait_for()
    wait_idle(page)
    screenshot(page, os.path.join(shots_dir, "snapshots-2-loaded.png"))
    assert page_problems(page) == []

    goto(page, "Train")
    assert numbers(page) == before
    assert loss_curve(page) == curve_before
    screenshot(page, os.path.join(shots_dir, "snapshots-3-train-page.png"))
    goto(page, "Weights")
    wait_idle(page)
    assert page.locator(".js-plotly-plot").count() >= 3      # one heatmap per layer
    goto(page, "Train")
    train_one(page)                                           # and it trains on
    assert metric_value(page, "Epoch") == "4"

    # a damaged file: a clear message, the run stays as it is
    goto(page, "Snapshots")
    bad = os.path.join(tmp_path, "damaged.json")
    with open(bad, "wb") as f:
        f.write(open(first, "rb").read()[:4000])
    upload(page, bad)
    alert = page.get_by_test_id("stAlertContentError")
    alert.first.wait_for()
    assert alert.count() == 1 and "Could not load damaged.json" in alert.inner_text()
    assert "truncated" in alert.inner_text() and "unchanged" in alert.inner_text()
    screenshot(page, os.path.join(shots_dir, "snapshots-4-bad-file.png"))
    goto(page, "Train")
    assert metric_value(page, "Epoch") == "4"
