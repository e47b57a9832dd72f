"""In the browser: train an image network, read the gallery and the confusion matrix, click a
cell, upload photos (bad files among them) and read the predictions off the page, check
them against the CLI on the downloaded training state, and draw a digit on the canvas."""
import json
import os
import re

import pytest
from appdriver import choose_option, metric_value, open_app, page_problems, screenshot, wait_idle

from nncore.cli import main as cli
from tests.test_predict import bad_images, digit_png, odd_good_images

pytestmark = pytest.mark.browser

READY = {"Train": "Train 1 epoch", "Predictions": "Train 1 epoch",
         "Snapshots": "Download training state"}


def goto(page, title):
    """Switch page in the same session (a new URL would start a new session)."""
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).first.click()
    page.wait_for_url(lambda u: u.rstrip("/").endswith(title.lower()) or title == "Train")
    page.get_by_role("button", name=READY[title]).wait_for()
    wait_idle(page)


def train_all(page, epochs):
    """Click 'Train N epochs' and wait until the Epoch metric reads ``epochs``."""
    page.get_by_role("button", name=f"Train {epochs} epochs").click()
    page.wait_for_function("""(want) => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => m.innerText.startsWith('Epoch') &&
                   m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === want)""",
                           arg=str(epochs), timeout=60_000)
    wait_idle(page)


def plot(page, start):
    """Title, data and plot-area box of the plotly chart whose title starts with ``start``."""
    return page.evaluate("""(start) => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            const t = ((el.layout && el.layout.title && el.layout.title.text) || '')
                      .replace(/<[^>]+>/g, '');
            if (!t.startsWith(start)) continue;
            const r = el.querySelector('.nsewdrag').getBoundingClientRect();
            return {title: t, box: {x: r.x, y: r.y, w: r.width, h: r.height},
                    data: el._fullData.map(d => ({type: d.type, z: d.z ? Array.from(d.z, row =>
                        Array.from(row, v => (v === null || Number.isNaN(v)) ? 0 : v)) : null,
                        customdata: d.customdata ? Array.from(d.customdata, v =>
                        (typeof v === 'number') ? v : Array.from(v)) : null}))};
        }
        return null; }""", start)


def selectbox_value(page, label):
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    return box.locator("input").input_value() or box.inner_text().split("\n")[-1].strip()


def results(page):
    """{file name: guessed label} read from the result cards' headers."""
    texts = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
        .map(e => e.innerText.trim()).filter(t => t.includes(' → '))""")
    out = {}
    for t in texts:
        m = re.match(r"^(.+?) → (\S+) \((\d+\.\d)%\)", t)
        if m:
            out[m[1]] = m[2]
    return out


def errors(page):
    return page.get_by_test_id("stAlertContentError").all_inner_texts()


def test_predictions_page_end_to_end(page, app_url, tmp_path, shots_dir):
    open_app(page, app_url)
    choose_option(page, "Dataset", "digits")
    wait_idle(page)
    train_all(page, 40)

    # the training state, to compare the app's answers with the CLI's
    goto(page, "Snapshots")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download training state").click()
    model = os.path.join(tmp_path, "digits.json")
    info.value.save_as(model)

    # -- test samples: gallery, confusion matrix, a click on a cell ---------------------------
    goto(page, "Predictions")
    page.get_by_text("Confusion matrix at epoch 40", exact=False).first.wait_for()
    gallery = plot(page, "Epoch 40: test samples 1–20 of 359")
    assert gallery and gallery["data"][1]["customdata"] == list(range(20))
    cm = plot(page, "Confusion matrix at epoch 40")
    counts = [[a + b for a, b in zip(r1, r2)] for r1, r2 in zip(cm["data"][0]["z"], cm["data"][1]["z"])]
    assert sum(map(sum, counts)) == 359
    t, g = max(((t, g) for t in range(10) for g in range(10) if t != g),
               key=lambda c: counts[c[0]][c[1]])
    assert counts[t][g] > 0, "a trained network still makes a few mistakes"
    screenshot(page, os.path.join(shots_dir, "predictions-1-gallery.png"))
    box = cm["box"]
    page.mouse.click(box["x"] + (g + 0.5) * box["w"] / 10, box["y"] + (t + 0.5) * box["h"] / 10)
    n = counts[t][g]
    page.get_by_text(f"{n} test sample{'s' if n != 1 else ''} of true class {t} guessed as {g}",
                     exact=False).wait_for()
    wait_idle(page)
    assert selectbox_value(page, "True class") == str(t)
    assert selectbox_value(page, "Guessed class") == str(g)
    shown = plot(page, "Epoch 40: test samples")
    assert shown["title"].endswith(f"1–{n} of {n} (page 1 of 1)")
    assert len(shown["data"][1]["customdata"]) == n
    # a click on a picture shows every class's probability for that sample
    first = shown["data"][1]["customdata"][0]
    gb = shown["box"]
    page.mouse.click(gb["x"] + gb["w"] / (2 * max(n, 1)) if n < 5 else gb["x"] + gb["w"] / 10,
                     gb["y"] + gb["h"] * 0.6)
    page.get_by_text(f"Sample #{first}: guessed {g} (", exact=False).first.wait_for()
    wait_idle(page)
    screenshot(page, os.path.join(shots_dir, "predictions-2-cell.png"))
    assert page_problems(page) == []

    # -- your images: upload photos of test digits and bad files ---------------------------------
    page.get_by_role("tab", name="Your images").click()
    wait_idle(page)
    import numpy as np

    from nncore import load_dataset
    from nncore.presets import default_config
    cfg = default_config("digits")
    data = load_dataset(cfg.dataset, cfg.dataset_options,
                        np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(2)[0]))
    files = []
    for i in range(8):
        path = os.path.join(tmp_path, f"digit{i}.png")
        with open(path, "wb") as f:
            f.write(digit_png(data.X_test[i].reshape(8, 8)))
        files.append(path)
    for name, blob in list(odd_good_images().items())[:2]:
        path = os.path.join(tmp_path, name)
        with open(path, "wb") as f:
            f.write(blob)
        files.append(path)
    bad = bad_images()
    for name, (blob, _) in bad.items():
        path = os.path.join(tmp_path, name)
        with open(path, "wb") as f:
            f.write(blob)
        files.append(path)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files)
    page.get_by_text(f"{len(files)} images", exact=False).first.wait_for()
    wait_idle(page)
    page.wait_for_function("(n) => document.querySelectorAll('[class*=\"st-key-pred_result_\"] "
                           ".nn-pstrip').length >= n", arg=len(files) - len(bad))
    shown = results(page)
    good = [os.path.basename(p) for p in files if os.path.basename(p) not in bad]
    assert sorted(shown) == sorted(good)
    texts = errors(page)
    assert len(texts) == len(bad)
    for name, (_, piece) in bad.items():
        assert any(f"{name}: " in t and piece in t for t in texts), (name, texts)
    labels = [str(v) for v in data.labels(data.Y_test[:8])]
    right = sum(shown[f"digit{i}.png"] == labels[i] for i in range(8))
    assert right >= 6, (shown, labels)
    screenshot(page, os.path.join(shots_dir, "predictions-3-uploads.png"))

    # the CLI, on the downloaded state, gives the same answers for the same files
    out_path = os.path.join(tmp_path, "cli.jsonl")
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli(["predict", "--model", model, "--json", *files])
    assert code == 1                               # the bad files
    with open(out_path, "w") as f:
        f.write(buf.getvalue())
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert {os.path.basename(r["file"]): r["label"] for r in rows if "label" in r} == shown

    # -- draw a digit: a vertical stroke, predicted through the same path -------------------------
    canvas = page.locator(".canvas-root canvas").last
    canvas.scroll_into_view_if_needed()
    wait_idle(page)
    cb = canvas.bounding_box()
    x = cb["x"] + cb["width"] * 0.45          # the toolbar floats over the top right corner
    page.mouse.move(x, cb["y"] + 60)
    page.mouse.down()
    for k in range(1, 21):
        page.mouse.move(x, cb["y"] + 60 + k * (cb["height"] - 90) / 20, steps=2)
    page.mouse.up()
    page.get_by_text("Your drawing → ", exact=False).wait_for()
    wait_idle(page)
    drawn = page.get_by_text("Your drawing → ", exact=False).inner_text()
    assert re.match(r"Your drawing → \d \(\d+\.\d%\)", drawn), drawn
    assert page.get_by_text("what the network sees", exact=True).count() >= 1
    screenshot(page, os.path.join(shots_dir, "predictions-4-canvas.png"))
    assert page_problems(page) == []
    assert metric_value(page, "Epoch") == "40"
