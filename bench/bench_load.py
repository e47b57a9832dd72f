"""Load: N concurrent browser sessions on one hosted-mode server.

Starts ``streamlit run dashboard/app.py`` with ``NNCORE_HOSTED=1`` on a loopback port (a
fresh server for every N, so closed sessions of the last round do not count), then opens N
Playwright contexts at once in one headless Chromium. Each session opens the app, chooses a
dataset and sets the hidden layers (timed as "setup"); once every session is set up, all of
them click **Train 1 epoch** E times, each as soon as its last click's update is painted
(plus ``--think`` seconds), timing each click until the epoch count shows the new epoch, the
app is idle and the charts are painted. Prints per N:

- click -> update time: median, p95 and max over all clicks of all sessions;
- setup time (open the app, choose the data, set the layers): median;
- failed sessions (an error, a timeout, or a traceback on the page);
- lost runs (a session whose run is not at epoch E with its own network at the end);
- the server's RSS (the streamlit process and its children, sampled every 0.1 s):
  after start, peak, and the growth per session;
- CPU seconds per click of the server and of the browser (both run on this machine: in a
  real class each browser has a machine of its own), and the load average.

The browsers share this machine's cores with the server, so the click times here include
rendering 16 pages' charts on the same 2 cores. ``--clients protocol`` replaces the browsers by
clients that speak Streamlit's WebSocket protocol and render nothing (the same widget changes,
and clicks sent as fragment reruns, as the browser sends them): their click -> update time ends
when the rerun's last message has arrived, which is the server's side of a class whose browsers
run on machines of their own.

    python bench/bench_load.py                       # N = 1, 4, 8, 16; MNIST sample 128, 64
    python bench/bench_load.py --clients protocol    # the same, without browsers
    python bench/bench_load.py --sessions 1 4 --epochs 3 --dataset moons --hidden "16, 8"
    python bench/bench_load.py --replicas 2 --kill-one --sessions 32   # nginx, kill -9 one

Only loopback addresses are used; every wait is bounded (``--timeout``).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "browser"))
sys.path.insert(0, ROOT)

from appdriver import CHROMIUM, CHROMIUM_ARGS, app_log, start_app, stop_app  # noqa: E402

IDLE = ('[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
        '[data-test-script-state="notRunning"]')
EPOCH_IS = """(want) => [...document.querySelectorAll('[data-testid="stMetric"]')]
    .some(m => m.textContent.startsWith('Epoch') &&
               m.querySelector('[data-testid="stMetricValue"]').textContent.trim() === want)"""
# Installed in every page before it loads: notes the time (ms since the epoch) each script
# or fragment run ends, i.e. when the server's last message of a rerun has arrived.
RECORD_FINISHED = """(() => {
  const done = window.__nnFinished = [];
  let last = null;
  const note = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    const s = app && app.getAttribute('data-test-script-state');
    if (s !== last) { last = s; if (s === 'notRunning') done.push(Date.now()); }
  };
  const start = () => new MutationObserver(note).observe(document.body,
      {subtree: true, childList: true, attributes: true, attributeFilter: ['data-test-script-state']});
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})()"""
# Resolves once the epoch metric shows ``want``, no script runs, no element is still loading
# and two frames are painted. It watches DOM mutations instead of polling, so that waiting
# costs the page next to nothing (16 polling pages would add their own load to the machine).
UPDATED = """(want) => new Promise((resolve) => {
  const epochIs = %s;
  const ready = () => epochIs(want) && document.querySelector(%r) &&
                      !document.querySelector('[data-testid="stSkeleton"]');
  const finish = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(true)));
  if (ready()) return finish();
  const obs = new MutationObserver(() => { if (ready()) { obs.disconnect(); finish(); } });
  obs.observe(document.body, {subtree: true, childList: true, characterData: true,
                              attributes: true, attributeFilter: ['data-test-script-state']});
})""" % (EPOCH_IS, IDLE)
FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


# -- server memory -------------------------------------------------------------------------
def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def tree_rss(pid) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
        todo += _children(p)
    return total


def tree_cpu(pid) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
        todo += _children(p)
    return total


def _kind(pid) -> str:
    """What a process of the client side is: page renderers, the rest of the browser, or
    the harness (this script and the Playwright driver)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().decode("utf-8", "replace").replace("\0", " ")
    except OSError:
        return "harness"
    if "--type=renderer" in cmd:       # (Chromium rewrites its command lines as one string)
        return "pages"
    if "--type=" in cmd or "chrom" in os.path.basename(cmd.split(" ", 1)[0]):
        return "browser"
    return "harness"


def client_cpu(server_pid) -> dict:
    """CPU seconds so far of this process's descendants other than the server, by kind
    (and of this process itself, under "harness")."""
    out = {"pages": 0.0, "browser": 0.0, "harness": 0.0}
    me = os.getpid()
    todo = [me]
    while todo:
        p = todo.pop()
        if p == server_pid:
            continue
        out["harness" if p == me else _kind(p)] += tree_cpu(p) - sum(tree_cpu(c) for c in _children(p))
        todo += _children(p)
    return out


def load_average() -> float:
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return float("nan")


def renice_browsers(server_pid, nice):
    """Lower the priority of this process's descendants other than the server (the
    Playwright driver and the browser), so that the server gets the cores first."""
    todo = [c for c in _children(os.getpid()) if c != server_pid]
    while todo:
        p = todo.pop()
        try:
            if os.getpriority(os.PRIO_PROCESS, p) < nice:
                os.setpriority(os.PRIO_PROCESS, p, nice)
        except OSError:
            pass
        todo += _children(p)


class Sampler(threading.Thread):
    """Samples the server's RSS (keeps the peak) and renices the browsers."""

    def __init__(self, pid, every=0.1, nice=0):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.nice = pid, every, 0, nice
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            if self.nice:
                renice_browsers(self.pid, self.nice)
            self._stop_event.wait(self.every)

    def stop(self):
        self._stop_event.set()
        self.join(5)
        return self.peak


# -- one session ---------------------------------------------------------------------------
async def idle(page, timeout):
    await page.wait_for_selector(IDLE, timeout=timeout)
    await page.evaluate(FRAMES)


async def choose(page, label, option, timeout):
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    for _ in range(5):
        await idle(page, timeout)
        await box.locator("input").click()
        try:
            await page.get_by_role("option", name=option, exact=True).click(timeout=5000)
        except Exception:             # a rerun closed the list: open it again
            await page.keyboard.press("Escape")
            continue
        return
    raise RuntimeError(f"could not choose {option} in {label}")


class Barrier:
    """All sessions set up first; the clicks start together once every session is ready
    (or failed), so that the click times measure training under load, not page loads."""

    def __init__(self, n, on_release):
        self.n, self.arrived, self.on_release = n, 0, on_release
        self.event = asyncio.Event()

    def arrive(self):
        self.arrived += 1
        if self.arrived == self.n:
            self.on_release()
            self.event.set()


async def session(browser, url, args, shape, out, barrier):
    """Run one session; append its record to ``out``."""
    rec = {"clicks": [], "server": [], "setup": None, "failed": None, "lost": False}
    arrived = False
    timeout = args.timeout * 1000
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await ctx.new_page()
        page.set_default_timeout(timeout)
        await page.add_init_script(RECORD_FINISHED)
        t0 = time.perf_counter()
        await page.goto(url + "/", wait_until="domcontentloaded")
        await page.wait_for_selector('[data-testid="stSidebar"]', timeout=timeout)
        await idle(page, timeout)
        await choose(page, "Dataset", args.dataset, timeout)
        await page.get_by_text(args.dataset, exact=True).first.wait_for()
        field = page.get_by_label("Hidden layers", exact=True)
        await field.fill(args.hidden)
        await field.press("Enter")
        await page.get_by_text(f"{args.dataset} · {shape}").first.wait_for()
        await asyncio.wait_for(page.evaluate(UPDATED, "0"), args.timeout)
        rec["setup"] = time.perf_counter() - t0
        barrier.arrive()
        arrived = True
        await asyncio.wait_for(barrier.event.wait(), args.round_timeout)
        button = page.get_by_role("button", name="Train 1 epoch", exact=True)
        for e in range(1, args.epochs + 1):
            t, t_ms = time.perf_counter(), time.time() * 1000
            await button.click()
            await asyncio.wait_for(page.evaluate(UPDATED, str(e)), args.timeout)
            rec["clicks"].append(time.perf_counter() - t)
            done = [f for f in await page.evaluate("() => window.__nnFinished") if f > t_ms]
            if done:
                rec["server"].append((done[0] - t_ms) / 1000)
            if args.think:
                await asyncio.sleep(args.think)
        summary = await page.get_by_text(f"{args.dataset} · {shape}").count()
        epoch_ok = await page.evaluate(f"({EPOCH_IS})('{args.epochs}')")
        rec["lost"] = not (summary and epoch_ok)
        if await page.get_by_test_id("stException").count():
            rec["failed"] = "a traceback on the page"
    except Exception as exc:          # a failed session is counted, not fatal
        rec["failed"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    finally:
        if not arrived:
            barrier.arrive()
    out.append(rec)                   # the context stays open until all are done (CPU count)


# -- one session without a browser ---------------------------------------------------------
class ProtocolClient:
    """A session that speaks Streamlit's own WebSocket protocol, as the browser does, but
    renders nothing: it sends widget changes and button clicks (a fragment rerun, as the
    browser sends them) and reads the server's messages until the run's last one."""

    def __init__(self, url, timeout):
        self.url, self.timeout = url, timeout
        self.ids, self.fragments, self.metrics = {}, {}, {}
        self.texts, self.errors, self.page_hash = [], [], ""
        self.query, self.headers = "", {}      # the address's query string, as the page keeps it
        self.timers = {}       # fragment id -> seconds: run_every fragments the browser reruns

    async def connect(self):
        import websockets
        self.ws = await websockets.connect(self.url.replace("http", "ws", 1) + "/_stcore/stream",
                                           subprotocols=["streamlit"], max_size=None,
                                           additional_headers=self.headers)

    async def close(self):
        await self.ws.close()

    async def rerun(self, states=(), fragment=""):
        """Send a rerun with ``states`` [(widget key, value field, value)]; return once the
        server says the run finished."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string, cs.page_script_hash = self.query, self.page_hash
        if fragment:
            cs.fragment_id = fragment
        for key, field, value in states:
            w = cs.widget_states.widgets.add()
            w.id = self.ids[key]
            setattr(w, field, value)
        self.texts = []
        await self.ws.send(msg.SerializeToString())
        await self._until_finished()

    async def click(self, key):
        """Click ``key``; return once the app is idle again. A slow epoch (as on a busy
        server) trains in a ``run_every`` panel whose frames the browser asks for on a
        timer: they are asked for here too, as the browser does, until the panel ends."""
        await self.rerun([(key, "trigger_value", True)], self.fragments[key])
        deadline = time.perf_counter() + self.timeout
        while self.timers:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the app was still training {self.timeout:g} s after the click")
            fragment, interval = next(iter(self.timers.items()))
            await asyncio.sleep(interval)
            await self.rerun(fragment=fragment)

    async def _until_finished(self):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        timers = None                 # the run_every fragments this full run registers
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await asyncio.wait_for(self.ws.recv(), self.timeout))
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.page_hash = msg.new_session.page_script_hash
                timers = {}
            elif kind == "auto_rerun":
                (self.timers if timers is None else timers)[msg.auto_rerun.fragment_id] = \
                    msg.auto_rerun.interval
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element, msg.delta.fragment_id)
            elif kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string
            elif kind == "script_finished":
                # a run cut short for another (e.g. the click's fragment making way for the
                # page) is not the end: its successor's messages follow
                if msg.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    timers = None
                    continue
                if timers is not None:   # a full run: the browser keeps only its timers
                    self.timers = timers
                return

    def _element(self, el, fragment):
        kind = el.WhichOneof("type")
        inner = getattr(el, kind)
        wid = getattr(inner, "id", "") if hasattr(inner, "id") else ""
        if isinstance(wid, str) and wid.startswith("$$ID-"):
            key = wid.rsplit("-", 1)[1]
            self.ids[key], self.fragments[key] = wid, fragment
        if kind == "metric":
            self.metrics[inner.label] = inner.body
        elif kind == "markdown":
            self.texts.append(inner.body.replace("**", ""))
        elif kind == "exception":
            self.errors.append(inner.message)


async def set_up(client, args, shape, rec, barrier):
    """Open the app, choose the dataset and the layers, check the setup took, then arrive at
    ``barrier`` (every session starts clicking together); ``rec["setup"]``: seconds taken."""
    t0 = time.perf_counter()
    await client.connect()
    await client.rerun()
    await client.rerun([("sb_dataset", "string_value", args.dataset)])
    await client.rerun([("sb_hidden", "string_value", args.hidden)])
    if client.metrics.get("Epoch") != "0" or not any(f"{args.dataset} · {shape}" in t
                                                      for t in client.texts):
        raise RuntimeError("the setup did not take")
    rec["setup"] = time.perf_counter() - t0
    barrier.arrive()


async def protocol_session(url, args, shape, out, barrier):
    rec = {"clicks": [], "server": [], "setup": None, "failed": None, "lost": False}
    arrived = False
    client = ProtocolClient(url, args.timeout)
    try:
        await set_up(client, args, shape, rec, barrier)
        arrived = True
        await asyncio.wait_for(barrier.event.wait(), args.round_timeout)
        for e in range(1, args.epochs + 1):
            t = time.perf_counter()
            await client.click("btn_train_1")
            rec["clicks"].append(time.perf_counter() - t)
            if client.metrics.get("Epoch") != str(e):
                raise RuntimeError(f"epoch {client.metrics.get('Epoch')} shown after click {e}")
            if args.think:
                await asyncio.sleep(args.think)
        await client.rerun()                  # a full rerun: is the run still this session's?
        rec["lost"] = not (client.metrics.get("Epoch") == str(args.epochs) and
                           any(f"{args.dataset} · {shape}" in t for t in client.texts))
        if client.errors:
            rec["failed"] = "a traceback: " + client.errors[0][:120]
        await client.close()
    except Exception as exc:          # a failed session is counted, not fatal
        rec["failed"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    finally:
        if not arrived:
            barrier.arrive()
    out.append(rec)


async def round_(n, url, args, shape, on_release, on_done):
    out = []
    barrier = Barrier(n, on_release)
    if args.clients == "protocol":
        try:
            await asyncio.wait_for(asyncio.gather(*(protocol_session(url, args, shape, out, barrier)
                                                    for _ in range(n))), timeout=args.round_timeout)
        except TimeoutError:
            pass
        finally:
            on_done()
        return out + [{"clicks": [], "setup": None, "failed": "round time limit", "lost": True}
                      for _ in range(n - len(out))]
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        browsers = [await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                            headless=True) for _ in range(min(n, args.browsers))]
        try:
            await asyncio.wait_for(
                asyncio.gather(*(session(browsers[i % len(browsers)], url, args, shape, out, barrier)
                                 for i in range(n))),
                timeout=args.round_timeout)
        except TimeoutError:
            pass
        finally:
            on_done()
            for browser in browsers:
                await browser.close()
    while len(out) < n:               # sessions cut off by the round's time limit
        out.append({"clicks": [], "setup": None, "failed": "round time limit", "lost": True})
    return out


def pct(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--dataset", default="mnist_sample")
    ap.add_argument("--hidden", default="128, 64")
    ap.add_argument("--timeout", type=float, default=90.0, help="seconds per browser action")
    ap.add_argument("--round-timeout", type=float, default=600.0, help="seconds per N")
    ap.add_argument("--browsers", type=int, default=1,
                    help="Chromium instances to spread the sessions over")
    ap.add_argument("--nice", type=int, default=0,
                    help="niceness of the browsers (e.g. 10: the server gets the cores first)")
    ap.add_argument("--think", type=float, default=0.0,
                    help="seconds each session waits after an update before its next click")
    ap.add_argument("--clients", choices=("browser", "protocol"), default="browser",
                    help="browser: headless Chromium pages (they render on this machine too); "
                         "protocol: clients that speak Streamlit's WebSocket protocol and render "
                         "nothing, i.e. the server's side of a class whose browsers are elsewhere")
    ap.add_argument("--local", action="store_true", help="run the server in local mode")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="an environment variable for the server (repeatable)")
    ap.add_argument("--replicas", type=int, default=0,
                    help="N replicas behind nginx (deploy/replicas.py), protocol clients with "
                         "sticky cookies; see bench/load_replicas.py")
    ap.add_argument("--kill-one", action="store_true",
                    help="with --replicas: kill -9 the busiest replica halfway through the clicks")
    args = ap.parse_args(argv)
    if args.kill_one and args.replicas < 2:
        ap.error("--kill-one needs --replicas 2 or more")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # stop the server on the way out

    import numpy as np

    from nncore import parse_hidden
    from nncore.datasets import load_dataset
    from nncore.network import count_params
    from nncore.text import shape_text
    data = load_dataset(args.dataset, None, np.random.default_rng(0))
    sizes = [data.n_in, *parse_hidden(args.hidden), data.n_out]
    shape = shape_text(sizes)
    print(f"{args.dataset} {shape} ({count_params(sizes):,} parameters), {args.epochs} clicks on "
          f"Train 1 epoch per session, {'local' if args.local else 'hosted'} mode, "
          f"{os.cpu_count()} cores", flush=True)
    if args.replicas:
        from load_replicas import replica_main
        return replica_main(args, shape)
    env = {"NNCORE_HOSTED": "0" if args.local else "1"}
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    header = (f"{'N':>3} {'ok':>3} {'failed':>6} {'lost':>4} | {'update: median':>14} {'p95':>5} "
              f"{'max':>5} | {'server: median':>14} {'p95':>5} | {'setup':>6} | {'RSS start':>9} "
              f"{'peak':>7} {'per session':>11}")
    rows = []
    for n in args.sessions:
        proc, url = start_app(env=env)
        try:
            time.sleep(1.0)
            base = tree_rss(proc.pid)
            sampler = Sampler(proc.pid, nice=args.nice)
            sampler.start()
            mark = {}

            def release():             # the click phase starts: note the time and CPU
                mark.update(t=time.perf_counter(), cpu=tree_cpu(proc.pid), load=load_average(),
                            me=client_cpu(proc.pid))

            def done():                # the click phase is over: the browser is still open
                server = tree_cpu(proc.pid)
                mark.update(t_end=time.perf_counter(), cpu_end=server, load_end=load_average(),
                            me_end=client_cpu(proc.pid))
            recs = asyncio.run(round_(n, url, args, shape, release, done))
            wall = mark.get("t_end", 0.0) - mark.get("t", 0.0)
            cpu = mark.get("cpu_end", 0.0) - mark.get("cpu", 0.0)
            load0, load1 = mark.get("load", float("nan")), mark.get("load_end", float("nan"))
            # the browser's pages, the rest of the browser, and the harness
            m0, m1 = mark.get("me", {}), mark.get("me_end", {})
            client = {k: m1.get(k, 0.0) - m0.get(k, 0.0) for k in ("pages", "browser", "harness")}
            peak = sampler.stop()
        finally:
            stop_app(proc)
        clicks = [c for r in recs for c in r["clicks"]]
        server = [c for r in recs for c in r["server"]]
        failed = [r["failed"] for r in recs if r["failed"]]
        lost = sum(1 for r in recs if r["lost"] and not r["failed"])
        setup = [r["setup"] for r in recs if r["setup"] is not None]
        med = lambda v: statistics.median(v) if v else float("nan")
        row = (f"{n:>3} {n - len(failed):>3} {len(failed):>6} {lost:>4} | "
               f"{med(clicks):>12.2f} s {pct(clicks, 0.95):>5.2f} {max(clicks, default=float('nan')):>5.2f} | "
               f"{med(server):>12.2f} s {pct(server, 0.95):>5.2f} | {med(setup):>4.0f} s | "
               f"{base / 2**20:>6.0f} MB {peak / 2**20:>4.0f} MB {(peak - base) / 2**20 / n:>8.0f} MB")
        rows.append(row)
        print(header if len(rows) == 1 else "", end="\n" if len(rows) == 1 else "")
        per = lambda v: v / max(1, len(clicks))
        print(row, f"  ({len(clicks)} clicks in {wall:.0f} s; CPU per click: server "
                   f"{per(cpu):.2f} s, pages {per(client['pages']):.2f} s, rest of the browser "
                   f"{per(client['browser']):.2f} s, harness {per(client['harness']):.2f} s;"
                   f" load average {load0:.1f} -> {load1:.1f})", flush=True)
        for why in sorted(set(failed)):
            print(f"      failed: {why} (x{failed.count(why)})")
        if failed and os.environ.get("NNCORE_BENCH_LOG") == "1":
            print(app_log(proc)[-4000:])
    print("\n" + header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
