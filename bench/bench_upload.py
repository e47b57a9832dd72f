"""Upload 20 images on the Predictions page: how long until every prediction is on the page?

Usage: ``python bench/bench_upload.py [--reps 5] [--dataset mnist_sample] [--phone]``

Starts the app (``streamlit run``) and drives it in headless Chromium: chooses the dataset,
trains one epoch, opens Predictions → Your images, then, ``--reps`` times, uploads 20 photos
not seen before (from bench/out/digit_photos/, written by make_digit_photos.py if missing)
and measures, in the browser, from handing the files to the uploader to the moment all 20
result cards show their guess and their probability bars and the app is idle.
``--phone`` also times 20 phone-sized photos (the same digits enlarged to 4032×3024 JPEG,
about 1-2 MB each). Prints each time and the median.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "bench"))

import make_digit_photos  # noqa: E402
from appdriver import (  # noqa: E402
    choose_option,
    cpu_seconds,
    launch_browser,
    open_app,
    screenshot,
    start_app,
    stop_app,
    wait_idle,
)

N = 20
DONE_JS = """([n, names]) => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    const cards = [...document.querySelectorAll('[class*="st-key-pred_result_"]')];
    const errors = [...document.querySelectorAll('[data-testid="stAlertContentError"]')];
    if (cards.length + errors.length !== n) return false;
    const text = cards.map(c => c.innerText).concat(errors.map(e => e.innerText)).join(' | ');
    if (!names.every(nm => text.includes(nm + ' → ') || text.includes(nm + ': '))) return false;
    return cards.every(c => c.querySelector('.nn-pstrip .nn-pbar'));
}"""


def photo_sets(reps):
    folder = ROOT / "bench" / "out" / "digit_photos"
    if not (folder / "labels.csv").is_file():
        make_digit_photos.make(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix in (".png", ".jpg"))
    step = max(1, len(files) // (N * reps))
    picked = files[::step][:N * reps]
    return [picked[i * N:(i + 1) * N] for i in range(reps)]


def phone_set(files, tmp):
    """The same photos enlarged to 4032×3024 JPEGs (quality 90)."""
    out = []
    for p in files:
        im = Image.open(p)
        im.seek(0)
        im = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im).convert("RGB")
        im = im.resize((4032, 3024), Image.Resampling.BICUBIC)
        dest = Path(tmp) / f"phone_{p.stem}.jpg"
        im.save(dest, "JPEG", quality=90)
        out.append(dest)
    return out


PARTS = ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration")


def busy(cdp):
    """Seconds the page's main thread has been busy so far (Chrome's TaskDuration), and
    its parts: JavaScript, layout, style."""
    m = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return np.array([m["TaskDuration"], *(m[k] for k in PARTS)])


def upload_and_time(page, files, cdp=None, pid=None):
    """Seconds from giving the files to the uploader until the first results show and until
    all predictions are painted, and the browser's main-thread busy time meanwhile."""
    names = [f.name for f in files]
    b0 = busy(cdp) if cdp else np.zeros(4)
    s0 = cpu_seconds(pid) if pid else float("nan")
    page.evaluate("() => { window.__t0 = performance.now(); }")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(f) for f in files])
    page.wait_for_function(f"() => document.body.innerText.includes('{len(files)} images:')",
                           polling="raf", timeout=120_000)
    shown = page.evaluate("() => (performance.now() - window.__t0) / 1000")
    page.wait_for_function(DONE_JS, arg=[len(files), names], polling="raf", timeout=120_000)
    total = page.evaluate("() => (performance.now() - window.__t0) / 1000")
    cpu = busy(cdp) - b0 if cdp else np.full(4, np.nan)
    cpu = np.r_[cpu, cpu_seconds(pid) - s0 if pid else np.nan]
    bad = page.get_by_test_id("stAlertContentError")
    if bad.count():
        print(f"  ({bad.count()} of {len(files)} could not be read: {bad.first.inner_text()[:160]})")
    return total, shown, cpu


def clear(page):
    """Empty the uploader and the results ("Clear images")."""
    page.get_by_role("button", name="Clear images").click()
    wait_idle(page)
    page.wait_for_function("() => !document.body.innerText.includes(' images:')")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dataset", default="mnist_sample")
    ap.add_argument("--phone", action="store_true", help="also time 20 phone-sized photos")
    ap.add_argument("--shot", default=str(ROOT / "bench" / "out" / "bench_upload.png"))
    a = ap.parse_args(argv)
    sets = photo_sets(a.reps)
    from playwright.sync_api import sync_playwright
    proc, url = start_app()
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
            browser = launch_browser(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            open_app(page, url)
            choose_option(page, "Dataset", a.dataset)
            wait_idle(page)
            page.get_by_role("button", name="Train 1 epoch").click()
            wait_idle(page)
            page.locator('[data-testid="stSidebarNavLink"]', has_text="Predictions").first.click()
            page.get_by_role("tab", name="Your images").wait_for()
            wait_idle(page)
            page.get_by_role("tab", name="Your images").click()
            wait_idle(page)
            times, busy_s, server_s = [], [], []
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            for i, files in enumerate(sets):
                if i:
                    clear(page)
                total, first, cpu = upload_and_time(page, files, cdp, proc.pid)
                times.append(total)
                busy_s.append(cpu[0])
                server_s.append(cpu[4])
                print(f"upload {i + 1}: {N} photos ({sum(f.stat().st_size for f in files) / 1e3:.0f} kB) "
                      f"-> results begin to show after {first:.2f} s, all predictions painted "
                      f"after {total:.2f} s (server CPU {cpu[4]:.2f} s; browser main thread busy "
                      f"{cpu[0]:.2f} s: script {cpu[1]:.2f}, layout {cpu[2]:.2f}, style "
                      f"{cpu[3]:.2f})", flush=True)
            screenshot(page, a.shot)
            print(f"median over {len(times)}: {statistics.median(times):.2f} s "
                  f"(min {min(times):.2f}, max {max(times):.2f}); server CPU median "
                  f"{statistics.median(server_s):.2f} s, browser busy median "
                  f"{statistics.median(busy_s):.2f} s; load average {os.getloadavg()[0]:.1f}; "
                  f"dataset {a.dataset}; "
                  f"screenshot {a.shot}")
            if a.phone:
                big = phone_set(sets[0], tmp)
                clear(page)
                try:
                    t, _, _ = upload_and_time(page, big)
                except Exception:
                    screenshot(page, a.shot.replace(".png", "-phone-failed.png"))
                    raise
                mb = sum(f.stat().st_size for f in big) / 1e6
                print(f"phone photos: {N} × 4032×3024 JPEG ({mb:.1f} MB) -> {t:.2f} s")
            browser.close()
    finally:
        stop_app(proc)


if __name__ == "__main__":
    main()
