"""Click-to-chart latency of the app in a real browser, and the bytes sent per heatmap.

Starts ``streamlit run dashboard/app.py``, drives Debian's Chromium with Playwright and,
for XOR 2-4-1 and the MNIST sample with 784-128-64-10, clicks **Train 1 epoch** over and
over on the Train and the Weights page. Each click is timed in the page, from the click
event until the page shows the new epoch, the script has finished, every per-epoch chart
title names the new epoch and two animation frames have passed (so the charts are
painted). Prints the median and spread per case, the websocket bytes received per click,
and the figure bytes per heatmap at default and full resolution (also for a 784x512 layer).

Wall-clock times depend on what else the machine is doing (the browser and the server
share its two cores), so the work per click is printed too: the CPU time of the server
process and of the page's main thread in the browser (Chrome's ``ThreadTime``), medians
over the same clicks, and their sum: about what a click takes when nothing else competes
for the machine (the two run one after the other). The load average is printed as well.

    python bench/bench_ui.py [--clicks 15] [--warmup 3]
    nice -n -20 python bench/bench_ui.py     # on a busy shared machine (as root): the app and
                                             # the browser inherit the priority
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "browser"))

import numpy as np  # noqa: E402
from appdriver import (  # noqa: E402
    VIEWPORT,
    app_log,
    browser_missing,
    choose_option,
    cpu_seconds,
    launch_browser,
    open_app,
    set_text,
    start_app,
    stop_app,
    wait_idle,
)

UPDATED = """(n) => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    let epoch = null;
    for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
        const l = m.querySelector('[data-testid="stMetricLabel"]');
        if (l && l.innerText.trim() === 'Epoch')
            epoch = m.querySelector('[data-testid="stMetricValue"]').innerText.trim();
    }
    if (epoch !== String(n)) return false;
    const titles = [...document.querySelectorAll('.js-plotly-plot .gtitle')].map(t => t.textContent);
    return titles.filter(t => /epoch \\d+/.test(t)).every(t => t.includes('epoch ' + n));
}"""

CASES = [("XOR 2-4-1", "xor", "4"), ("MNIST sample 784-128-64-10", "mnist_sample", "128, 64")]


def _epoch(page):
    return int(page.evaluate("""() => { for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
        const l = m.querySelector('[data-testid="stMetricLabel"]');
        if (l && l.innerText.trim() === 'Epoch')
            return m.querySelector('[data-testid="stMetricValue"]').innerText.trim(); } }"""))


def time_clicks(page, clicks, warmup, ws_bytes, server_pid=None, cdp=None):
    """Per click on Train 1 epoch: seconds from the click event in the page to updated,
    painted charts; bytes received; server CPU seconds; browser main-thread seconds."""
    page.evaluate("""() => document.addEventListener('click',
        () => { window.__clickAt = performance.now(); }, true)""")
    button = page.get_by_role("button", name="Train 1 epoch")
    times, sizes, server, browser = [], [], [], []
    for i in range(warmup + clicks):
        n = _epoch(page) + 1
        before, cpu0 = ws_bytes[0], cpu_seconds(server_pid) if server_pid else 0.0
        busy0 = _main_thread_seconds(cdp)
        button.click()
        page.wait_for_function(UPDATED, arg=n, polling="raf", timeout=60_000)
        dt = page.evaluate("""() => new Promise(r => requestAnimationFrame(() =>
            requestAnimationFrame(() => r((performance.now() - window.__clickAt) / 1000))))""")
        if i >= warmup:
            times.append(dt)
            sizes.append(ws_bytes[0] - before)
            server.append((cpu_seconds(server_pid) - cpu0) if server_pid else float("nan"))
            browser.append(_main_thread_seconds(cdp) - busy0)
        time.sleep(0.15)
    return times, sizes, server, browser


def _main_thread_seconds(cdp):
    if cdp is None:
        return float("nan")
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "ThreadTime")


def heatmap_bytes():
    """Figure bytes per layer heatmap for the benchmark networks and a 784x512 layer."""
    from dashboard import figures
    rng = np.random.default_rng(0)
    rows = []
    for label, shapes in (("XOR 2-4-1", [(2, 4), (4, 1)]),
                          ("MNIST 784-128-64-10", [(784, 128), (128, 64), (64, 10)]),
                          ("784x512 layer", [(784, 512)])):
        for n_in, n_out in shapes:
            W = rng.normal(0, 0.05, (n_in, n_out)).astype(np.float32)
            b = rng.normal(0, 0.05, n_out).astype(np.float32)
            sizes = [figures.figure_bytes(figures.weight_heatmap(W, b, 0.2, "layer", full=full))
                     for full in (False, True)]
            rows.append((label, f"{n_in}x{n_out}", *sizes))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clicks", type=int, default=15, help="timed clicks per case and page")
    ap.add_argument("--warmup", type=int, default=3, help="untimed clicks first")
    a = ap.parse_args(argv)
    why = browser_missing()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    print("Figure bytes per weight heatmap (default = block means, <= 128 per side):")
    print(f"  {'network':<22} {'layer':>9} {'default':>11} {'full res':>11}")
    for label, shape, default, full in heatmap_bytes():
        print(f"  {label:<22} {shape:>9} {default / 1e6:>9.3f}MB {full / 1e6:>9.3f}MB")

    proc, url = start_app()
    results = []
    try:
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport=VIEWPORT)
            ws_bytes = [0]

            def on_ws(ws):
                ws.on("framereceived", lambda payload: ws_bytes.__setitem__(
                    0, ws_bytes[0] + len(payload)))
            page.on("websocket", on_ws)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            open_app(page, url)
            for label, dataset, hidden in CASES:
                choose_option(page, "Dataset", dataset)
                page.wait_for_timeout(300)
                wait_idle(page, 120_000)
                set_text(page, "Hidden layers", hidden)
                page.wait_for_timeout(300)
                wait_idle(page, 60_000)
                for name in ("Train", "Weights"):
                    page.get_by_role("link", name=name).click()
                    page.wait_for_timeout(300)
                    wait_idle(page, 60_000)
                    results.append((label, name, *time_clicks(page, a.clicks, a.warmup, ws_bytes,
                                                                  proc.pid, cdp)))
            browser.close()
    finally:
        stop_app(proc)
    print(f"\nClick on Train 1 epoch -> charts updated ({a.clicks} timed clicks after {a.warmup} "
          f"warm-up clicks, headless Chromium, same machine as the server):")
    print(f"  {'case':<28} {'page':<8} {'median':>8} {'p10':>7} {'p90':>7} {'max':>7} {'KB/click':>9}"
          f" {'server CPU':>11} {'browser CPU':>12} {'sum':>7}")
    for label, name, times, sizes, server, browser in results:
        q = np.quantile(times, [0.1, 0.9])
        cpu_s, cpu_b = statistics.median(server), statistics.median(browser)
        print(f"  {label:<28} {name:<8} {statistics.median(times):>7.3f}s {q[0]:>6.3f}s "
              f"{q[1]:>6.3f}s {max(times):>6.3f}s {statistics.median(sizes) / 1e3:>9.1f}"
              f" {cpu_s:>10.3f}s {cpu_b:>11.3f}s {cpu_s + cpu_b:>6.3f}s")
    print(f"\nLoad average while measuring: {os.getloadavg()[0]:.1f} (2 cores); the targets are "
          "<= 0.5 s for XOR and <= 1 s for the MNIST sample.")
    errors = [l for l in app_log(proc).splitlines() if "Traceback" in l or "Error" in l]
    if errors:
        print("\nserver log shows errors:", *errors[:5], sep="\n  ")
    try:
        os.unlink(proc.log_path)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
