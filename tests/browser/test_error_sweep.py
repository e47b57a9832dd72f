"""Bad input through the browser: every case shows a short error message, never a
traceback, and the page stays usable (Train 1 epoch still trains)."""
import gzip
import io
import json
import os
import zlib

import pytest
from appdriver import metric_value, open_app, screenshot, set_text, wait_epoch, wait_idle
from PIL import Image

from nncore import Trainer, snapshot
from nncore.presets import default_config

pytestmark = pytest.mark.browser


def choose_option(page, label, option):
    """Pick ``option`` in the selectbox ``label``; try again if a rerun closed the list."""
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    for _ in range(5):
        wait_idle(page)
        box.locator("input").click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=3000)
        except Exception:              # the list closed under a rerun: open it again
            page.keyboard.press("Escape")
            continue
        page.wait_for_function("([el, want]) => el.value === want",
                               arg=[box.locator("input").element_handle(), option])
        wait_idle(page)
        return
    raise AssertionError(f"could not choose {option!r} in {label!r}")


def goto(page, title):
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).first.click()
    page.wait_for_url(lambda u: u.rstrip("/").endswith(title.lower()) or title == "Train")
    wait_idle(page)


def no_traceback(page):
    assert page.get_by_test_id("stException").count() == 0, page.get_by_test_id(
        "stException").first.inner_text()
    body = page.inner_text("body")
    assert "Traceback" not in body and 'File "' not in body


def errors(page):
    return page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid="stAlertContentError"]')].map(e => e.innerText.trim())""")


def wait_error(page, text):
    page.get_by_test_id("stAlertContentError").filter(has_text=text).first.wait_for()
    wait_idle(page)


def current_epoch(page):
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
        .some(l => l.innerText.trim() === 'Epoch')""")
    return int(metric_value(page, "Epoch"))


def still_trains(page):
    epoch = current_epoch(page)
    page.get_by_role("button", name="Train 1 epoch", exact=True).click()
    wait_epoch(page, epoch + 1)
    no_traceback(page)
    return epoch + 1


def test_bad_hidden_layer_text(page, app_url, shots_dir):
    open_app(page, app_url)
    still_trains(page)
    for text, why in [("16, abc", "'abc'"), ("8, 0", "'8, 0'"), ("2.5", "'2.5'"), ("999999", "too large"),
                      ("4000, 4000, 4000", "4000-4000-4000")]:
        set_text(page, "Hidden layers", text)
        wait_error(page, why)
        if text == "4000, 4000, 4000":
            screenshot(page, os.path.join(shots_dir, "sweep-1-hidden.png"), full_page=False)
        no_traceback(page)
        assert still_trains(page) >= 2            # the previous run is kept and trains on
    set_text(page, "Hidden layers", "4")
    wait_epoch(page, 0)                           # a valid setup starts a new run
    assert errors(page) == []
    still_trains(page)


def _bomb(size):
    """A gzip file that inflates to ``size`` bytes of spaces (made without holding them)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk, parts = b" " * 2**20, []
    for _ in range(size // 2**20):
        parts.append(z.compress(chunk))
    parts.append(z.flush())
    return b"".join(parts)


def _bad_files():
    tr = Trainer(default_config("moons", hidden=[4]))
    tr.run_epoch()
    good = snapshot.dumps(tr, readable=True)
    doc = json.loads(good)
    nan = good.replace(b'"train_loss": ', b'"train_loss": NaN, "x": ', 1)
    wrong_shape = json.loads(good)
    wrong_shape["training_states"][0]["layers"][0]["weights"] = [[1.0, 2.0]]
    return [
        ("not-json.json", b"this is not JSON {", "not valid JSON"),
        ("truncated.json", good[: len(good) // 3], "truncated"),
        ("deep.json", b"[" * 200_000 + b"]" * 200_000, "nested"),
        ("wrong-format.json", json.dumps({**doc, "format": "keras"}).encode(), "format"),
        ("newer.json", json.dumps({**doc, "version": 99}).encode(), "version"),
        ("nan.json", nan, ""),
        ("shape.json", json.dumps(wrong_shape).encode(), "weights"),
        ("empty.json", b"", ""),
        ("bomb.json.gz", _bomb(260 * 2**20), "limit"),
        ("binary.json", gzip.compress(b"\x00\xff" * 1000)[:40], ""),
    ]


def test_hostile_training_state_files(page, app_url, shots_dir):
    open_app(page, app_url)
    still_trains(page)
    goto(page, "Snapshots")
    dropzone = page.get_by_test_id("stFileUploader").filter(
        has=page.get_by_text("Load training state", exact=True)).get_by_test_id(
        "stFileUploaderDropzoneInput")
    for name, raw, why in _bad_files():
        dropzone.set_input_files(files=[{"name": name, "mimeType": "application/json",
                                         "buffer": raw}])
        wait_error(page, f"Could not load {name}")
        text = " ".join(errors(page))
        assert why.lower() in text.lower() and "unchanged" in text, (name, text)
        no_traceback(page)
    screenshot(page, os.path.join(shots_dir, "sweep-2-snapshot.png"), full_page=False)
    goto(page, "Train")
    assert current_epoch(page) == 1                # the run was never touched
    still_trains(page)


def _png(mode, size, color):
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, "PNG")
    return buf.getvalue()


def test_corrupt_and_hostile_images(page, app_url, shots_dir):
    open_app(page, app_url)
    choose_option(page, "Dataset", "digits")
    wait_epoch(page, 0)
    still_trains(page)
    goto(page, "Predictions")
    page.get_by_role("tab", name="Your images").click()
    wait_idle(page)
    png = _png("L", (40, 40), 255)
    files = [("corrupt.png", png[:60] + b"\x00" * 50, "image/png"),
             ("text.jpg", b"just some text, not a JPEG", "image/jpeg"),
             ("bomb.png", _png("1", (12_000, 12_000), 1), "image/png"),
             ("empty.gif", b"", "image/gif"),
             ("blank.png", png, "image/png")]
    dropzone = page.get_by_test_id("stFileUploader").filter(
        has=page.get_by_text("Upload images", exact=True)).get_by_test_id(
        "stFileUploaderDropzoneInput")
    dropzone.set_input_files(files=[{"name": n, "mimeType": m, "buffer": b} for n, b, m in files])
    for name, _, _ in files:
        wait_error(page, name)
    text = " ".join(errors(page))
    assert "too large" in text or "limit" in text, text
    no_traceback(page)
    screenshot(page, os.path.join(shots_dir, "sweep-3-images.png"))
    still_trains(page)                              # the page trains on, uploads and all
    assert len(errors(page)) >= len(files)


def test_a_learning_rate_that_makes_the_loss_explode(page, app_url, shots_dir):
    open_app(page, app_url)
    choose_option(page, "Loss", "mse (mean squared error)")
    wait_idle(page)
    choose_option(page, "Output activation", "linear")
    wait_idle(page)
    choose_option(page, "Optimiser", "SGD + momentum")
    wait_idle(page)
    set_text(page, "Learning rate", "100")
    wait_idle(page)
    for _ in range(5):
        page.get_by_role("button", name="Train 1 epoch", exact=True).click()
        wait_idle(page)
        if any("diverged" in e for e in errors(page)):
            break
    message = [e for e in errors(page) if "diverged" in e]
    assert message and "lower the learning rate" in message[0], errors(page)
    no_traceback(page)
    screenshot(page, os.path.join(shots_dir, "sweep-4-diverged.png"), full_page=False)
    # the charts still draw (the last good weights are kept); a sane rate from a fresh
    # start trains on
    assert page.locator(".js-plotly-plot").count() >= 2
    set_text(page, "Learning rate", "0.01")
    page.get_by_text("applies from epoch").first.wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Reset", exact=True).click()
    wait_epoch(page, 0)
    for e in (1, 2):
        page.get_by_role("button", name="Train 1 epoch", exact=True).click()
        wait_epoch(page, e)
    assert not any("diverged" in e for e in errors(page))
    no_traceback(page)
