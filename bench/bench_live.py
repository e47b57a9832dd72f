"""Watching training live in a real browser: screen updates per second, engine speed, Pause.

Starts ``streamlit run dashboard/app.py``, opens it in Debian's Chromium (one session,
1400x1000) and, for moons 2-16-8-2 and the MNIST sample 784-128-64-10, clicks **Play** (or,
where there is none, **Train N epochs** with 10,000 epochs per run), watches for
``--seconds`` and clicks **Pause** (or **Stop**). In the page a MutationObserver notes each
change of the Epoch metric and of the epoch the decision boundary (or sample grid) says it
shows, with its time. Prints per case:

- screen updates per second (changes of the Epoch metric) and how many of them also redrew
  the boundary or the sample grid;
- the engine's epochs per second in the app, against ``nncore.Trainer`` on the same setup in
  this process (what ``python -m nncore train`` runs), measured in the same run: the ratio is
  the figure to watch (the target is >= 50 % for moons); for the MNIST sample, the time per
  epoch in the app against an epoch stepped alone (target <= 1.2x);
- Pause -> last screen change, in the page's clock (target <= 0.3 s), and that the Epoch
  metric, the boundary's title and the slider end on one epoch;
- browser CPU per frame (CDP ``Performance.getMetrics`` TaskDuration; target <= 40 ms) and
  server CPU per frame beyond the time spent training (target <= 20 ms).

CPU and wall-clock figures are noisy on a shared machine: the load average is printed too.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_live.py [--seconds 8]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
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

CASES = [("moons 2-16-8-2", "moons", "16, 8"),
         ("MNIST sample 784-128-64-10", "mnist_sample", "128, 64")]

# What the page shows: the Epoch metric, and the epoch named by the boundary / sample view
# (a Plotly title "... at epoch N" or a live view's data-epoch attribute) and the slider.
SHOWN = """() => {
    let metric = null, view = null, slider = null;
    for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
        const l = m.querySelector('[data-testid="stMetricLabel"]');
        if (l && l.innerText.trim() === 'Epoch')
            metric = m.querySelector('[data-testid="stMetricValue"]').innerText.trim();
    }
    for (const t of document.querySelectorAll('.js-plotly-plot .gtitle')) {
        const m = /^(Decision boundary|Test samples|Sample images)[^]*?at epoch (\\d+)/.exec(t.textContent);
        if (m) view = m[2];
    }
    const live = document.querySelector('[data-live-epoch]');
    if (live) view = live.getAttribute('data-live-epoch');
    const s = document.querySelector('[data-testid="stMain"] input[aria-label="Epoch to show"]');
    if (s) slider = s.getAttribute('aria-valuetext');
    return {metric, view, slider};
}"""

OBSERVE = """(shown) => {
    const read = eval(shown);
    const log = window.__live = {changes: [], views: [], clickAt: null};
    const last = read();             // the last epoch shown (a redraw of the same is no change)
    new MutationObserver(() => {
        const now = read(), t = performance.now();
        if (now.metric !== null && now.metric !== last.metric) log.changes.push([t, now.metric]);
        if (now.view !== null && now.view !== last.view) log.views.push([t, now.view]);
        for (const k of ["metric", "view"]) if (now[k] !== null) last[k] = now[k];
    }).observe(document.body, {subtree: true, childList: true, characterData: true,
                               attributes: true});
    document.addEventListener('click', () => { log.clickAt = performance.now(); }, true);
}"""


def engine_epochs_per_s(dataset, hidden, seconds=3.0):
    """Epochs per second of nncore.Trainer on the app's default setup for ``dataset``."""
    from nncore import Trainer
    from nncore.presets import default_config
    cfg = default_config(dataset).replace(hidden=[int(h) for h in hidden.split(",")],
                                          epochs=10_000_000)
    tr = Trainer(cfg)
    tr.run_epoch()                                   # warm up
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or n < 3:
        tr.run_epoch()
        n += 1
    return n / (time.perf_counter() - start)


def _task_seconds(cdp):
    """(TaskDuration, ThreadTime): the page's main-thread task time (wall clock, so it grows
    when other processes take the cores) and its CPU time."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return np.array([metrics["TaskDuration"], metrics["ThreadTime"]])


def _button(page, *names):
    for name in names:
        b = page.get_by_role("button", name=name, exact=True)
        if b.count():
            return b.first
    return page.get_by_role("button", name=re.compile(r"^Train \d\d+ epochs")).first


def play_case(page, cdp, server_pid, seconds):
    """Play for ``seconds``, then Pause; returns the figures of the case."""
    page.evaluate(OBSERVE, SHOWN)
    shown0 = page.evaluate(SHOWN)
    e0 = int(shown0["metric"])
    play = _button(page, "Play", "Train 10000 epochs")
    t_cpu0, s_cpu0 = _task_seconds(cdp), cpu_seconds(server_pid)
    play.click()
    page.wait_for_timeout(int(seconds * 1000))
    t_cpu1, s_cpu1 = _task_seconds(cdp), cpu_seconds(server_pid)
    log = page.evaluate("() => window.__live")
    draw_ms = page.evaluate("() => document.querySelector('[data-live-ms]')?.getAttribute('data-live-ms')")
    _button(page, "Pause", "Stop").click()
    page.wait_for_timeout(3000)
    wait_idle(page, 120_000)
    page.wait_for_timeout(500)
    after = page.evaluate("() => window.__live")
    if os.environ.get("BENCH_SHOT"):
        page.screenshot(path=os.environ["BENCH_SHOT"])
    end = page.evaluate(SHOWN)
    changes = [(t, int(v)) for t, v in log["changes"] if v is not None]
    if len(changes) < 2:
        return dict(updates=0)
    start_t = after["changes"][0][0] if after["changes"] else 0
    span = (changes[-1][0] - changes[0][0]) / 1000
    frames = len(changes) - 1
    epochs = changes[-1][1] - changes[0][1]
    pause_at = after["clickAt"]
    tail = [t for t, _ in after["changes"] + after["views"] if t >= pause_at]
    views = [v for t, v in log["views"] if t >= start_t]
    return dict(updates=frames / span if span else 0.0, frames=frames, epochs=epochs,
                app_eps=epochs / span if span else 0.0, views=len(views),
                pause_lag=(max(tail) - pause_at) / 1000 if tail else 0.0,
                browser_ms=(t_cpu1 - t_cpu0) * 1000 / max(len(log["changes"]), 1), draw_ms=draw_ms,
                server_ms=(s_cpu1 - s_cpu0) * 1000 / max(len(log["changes"]), 1),
                first=e0, end=end)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="moons,mnist", help="which cases (moons, mnist)")
    ap.add_argument("--seconds", type=float, default=8.0, help="seconds of play per case")
    a = ap.parse_args(argv)
    why = browser_missing()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    cases = [c for c in CASES if any(c[1].startswith(k) for k in a.cases.split(","))]
    refs = {label: engine_epochs_per_s(dataset, hidden) for label, dataset, hidden in cases}
    proc, url = start_app()
    results = []
    try:
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport=VIEWPORT)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            open_app(page, url)
            epochs = page.get_by_label("Epochs per run", exact=True)
            for label, dataset, hidden in cases:
                choose_option(page, "Dataset", dataset)
                page.wait_for_timeout(300)
                wait_idle(page, 120_000)
                set_text(page, "Hidden layers", hidden)
                page.wait_for_timeout(300)
                wait_idle(page, 60_000)
                if not page.get_by_role("button", name="Play", exact=True).count():
                    epochs.fill("10000")
                    epochs.press("Enter")
                    page.wait_for_timeout(300)
                    wait_idle(page, 60_000)
                slow = dataset.startswith("mnist")       # epochs of 0.1-0.3 s: watch longer
                results.append((label, play_case(page, cdp, proc.pid,
                                                 a.seconds * (3 if slow else 1))))
            browser.close()
    finally:
        stop_app(proc)
    print(f"Playing for {a.seconds:g} s per case, 3x for the MNIST sample (headless Chromium, one session, same machine "
          "as the server):")
    for label, r in results:
        ref = refs[label]
        if not r.get("updates"):
            print(f"  {label}: no screen updates seen")
            continue
        spf = (r["epochs"] / max(r["frames"], 1)) / ref          # seconds of training a frame
        print(f"  {label}")
        print(f"    screen updates        {r['updates']:6.1f} /s  ({r['frames']} frames, "
              f"{r['views']} with the boundary / sample grid redrawn)")
        print(f"    epochs/s in the app   {r['app_eps']:8.2f}   engine alone {ref:8.2f}   "
              f"ratio {r['app_eps'] / ref:5.0%}   (epoch time {ref / max(r['app_eps'], 1e-9):.2f}x"
              " stepped alone)")
        print(f"    epochs per frame      {r['epochs'] / max(r['frames'], 1):8.1f}")
        print(f"    Pause -> last change  {r['pause_lag']:6.2f} s   ends on: {r['end']}")
        task, thread = r["browser_ms"]
        print(f"    browser / frame       {task:6.1f} ms TaskDuration, {thread:.1f} ms ThreadTime "
              f"(the live view's drawing: {r['draw_ms'] or '-'} ms)")
        print(f"    server CPU / frame    {r['server_ms']:6.1f} ms "
              f"({r['server_ms'] - spf * 1000:.1f} ms beyond training)")
    print(f"\nLoad average while measuring: {os.getloadavg()[0]:.1f} (2 cores).")
    errors = [line for line in app_log(proc).splitlines() if "Traceback" in line]
    if errors:
        print("\nserver log shows errors:", *errors[:5], sep="\n  ")
    with contextlib.suppress(OSError):
        os.unlink(proc.log_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
