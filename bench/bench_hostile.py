"""One hostile visitor on a hosted server: how much memory does the server take?

Usage: ``python bench/bench_hostile.py [--images 150] [--image-mb 4.9]``

Starts the app in hosted mode (``NNCORE_HOSTED=1``) with a full-size Fashion-MNIST folder
(60,000 + 10,000 images of 28×28, random pixels, written to a temporary folder and named by
``NNCORE_DATA_DIR``), opens it in headless Chromium, and as one visitor tries what issue 11's
items 1-3 describe:

1. chooses ``fashion_mnist`` in the sidebar (60,000 training images, over the hosted limit)
   and changes the seed twice;
2. loads a training-state file of a full Fashion-MNIST run whose ``data.n_train`` says 100;
3. trains the digits, opens Predictions → Your images and uploads ``--images`` PNG files of
   ``--image-mb`` MB each at once;

then closes the tab. The server's resident memory (the streamlit process and its children)
is sampled every 0.1 s. Prints the idle level (the visitor's page open, nothing tried yet),
the peak, and the level at the end, each above idle, and what the page said at each step.
The limit to compare with: 200 MB above idle.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "bench"))

from appdriver import choose_option, launch_browser, open_app, start_app, stop_app, wait_idle  # noqa: E402
from bench_load import tree_rss  # noqa: E402

MB = 2**20


def write_idx(path, arr):
    header = struct.pack(">HBB", 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with open(path, "wb") as f:
        f.write(header)
        f.write(arr.astype(np.uint8).tobytes())


def fashion_folder(folder):
    rng = np.random.default_rng(0)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (60_000, 28, 28), np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(60_000) % 10)
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10_000, 28, 28), np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(10_000) % 10)


def lying_snapshot(folder, path):
    """A full Fashion-MNIST run's file (epoch 0) that says it trained on 100 images."""
    os.environ["NNCORE_DATA_DIR"] = str(folder)
    from nncore import Trainer, snapshot
    from nncore.presets import default_config
    tr = Trainer(default_config("fashion_mnist").replace(hidden=[8]))
    doc = json.loads(snapshot.dumps(tr))
    doc["data"]["n_train"] = 100
    path.write_text(json.dumps(doc))
    del tr


def noise_pngs(folder, n, mb):
    """``n`` PNG files of about ``mb`` MB (noise does not compress): one file, linked."""
    from PIL import Image
    side = int((mb * 1e6 / 3) ** 0.5)          # MB as a file manager counts them
    first = folder / "photo000.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (side, side, 3), np.uint8)).save(
        first, compress_level=1)
    files = [first]
    for i in range(1, n):
        p = folder / f"photo{i:03d}.png"
        os.link(first, p)
        files.append(p)
    return files, first.stat().st_size


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.running = pid, [], True

    def run(self):
        while self.running:
            self.samples.append((time.monotonic(), tree_rss(self.pid)))
            time.sleep(0.1)

    def since(self, t0):
        return [r for t, r in self.samples if t >= t0]


def said(page, kinds=("stAlertContentError", "stAlertContentWarning")):
    out = []
    for kind in kinds:
        loc = page.get_by_test_id(kind)
        out += [loc.nth(i).inner_text()[:140].replace("\n", " ") for i in range(loc.count())]
    return out or ["(no message)"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=150)
    ap.add_argument("--image-mb", type=float, default=4.9)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp(prefix="nncore-hostile-"))
    data, pics = tmp / "fashion", tmp / "pics"
    data.mkdir()
    pics.mkdir()
    fashion_folder(data)
    snap = tmp / "fashion-lying.json"
    lying_snapshot(data, snap)
    files, size = noise_pngs(pics, args.images, args.image_mb)
    proc, url = start_app(env={"NNCORE_HOSTED": "1", "NNCORE_DATA_DIR": str(data)})
    sampler = Sampler(proc.pid)
    sampler.start()
    try:
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_app(page, url)
            time.sleep(2)
            idle = tree_rss(proc.pid)
            t0 = time.monotonic()
            print(f"server idle with the visitor's page open: {idle / MB:.0f} MB")

            choose_option(page, "Dataset", "fashion_mnist")
            wait_idle(page, 120_000)
            print("1. fashion_mnist:", *said(page)[:1], f"[{(tree_rss(proc.pid) - idle) / MB:+.0f} MB]")
            seed = page.get_by_label("Seed", exact=True)
            for s in ("1", "2"):
                seed.fill(s)
                seed.press("Enter")
                wait_idle(page, 120_000)
            print("   seed 1, 2:", *said(page)[:1])

            page.get_by_role("link", name="Snapshots").click()      # the same session
            wait_idle(page, 120_000)
            page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(snap))
            page.wait_for_function("() => document.body.innerText.includes('Could not load') || "
                                   "document.body.innerText.includes('Loaded ')", timeout=120_000)
            wait_idle(page, 120_000)
            loaded = page.get_by_text("Could not load", exact=False)
            print("2. the lying file:", loaded.first.inner_text()[:160] if loaded.count() else said(page)[0],
                  f"[{(tree_rss(proc.pid) - idle) / MB:+.0f} MB]")

            page.get_by_role("link", name="Predictions").click()
            wait_idle(page, 120_000)
            choose_option(page, "Dataset", "digits")
            wait_idle(page, 120_000)
            page.get_by_role("tab", name="Your images").click()
            wait_idle(page, 120_000)
            print(f"   digits, Predictions → Your images: [{(tree_rss(proc.pid) - idle) / MB:+.0f} MB]")
            t_up = time.monotonic()
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(f) for f in files])
            page.wait_for_function("() => document.body.innerText.includes(' images:')",
                                   timeout=300_000)
            t_read = time.monotonic()
            before_read = max(sampler.since(t_up))
            time.sleep(5)
            wait_idle(page, 300_000)
            up_peak = max(sampler.since(t_up))
            shown = page.locator('[class*="st-key-pred_result_"]').count() + page.get_by_test_id(
                "stAlertContentError").count()
            refused = page.get_by_text("status code 413").count()
            print(f"3. {len(files)} files of {size / 1e6:.1f} MB uploaded at once: {shown} read, "
                  f"{refused} refused by the session's upload limit; peak while they arrived "
                  f"{(before_read - idle) / MB:+.0f} MB, while they were read "
                  f"{(max(sampler.since(t_read) or [0]) - idle) / MB:+.0f} MB; "
                  f"server peak during the upload {(up_peak - idle) / MB:+.0f} MB above idle")
            after = tree_rss(proc.pid)
            page.close()
            browser.close()
        time.sleep(5)
        closed = tree_rss(proc.pid)
        peak = max(sampler.since(t0))
        print(f"server above idle: peak {(peak - idle) / MB:+.0f} MB, with the page still open "
              f"{(after - idle) / MB:+.0f} MB, 5 s after the tab closed {(closed - idle) / MB:+.0f} MB "
              f"(limit: +200 MB)")
    finally:
        sampler.running = False
        stop_app(proc)
        for f in sorted(tmp.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        tmp.rmdir()


if __name__ == "__main__":
    main()
