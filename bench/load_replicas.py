"""``bench_load.py --replicas N [--kill-one]``: protocol sessions through nginx over N replicas.

Starts N hosted replicas sharing one run store, and nginx in front (deploy/replicas.py).
Each session is a protocol client with a sticky cookie of its own, so nginx spreads the
sessions over the replicas as it would spread a class's browsers. All sessions set up (data,
hidden layers), then click **Train 1 epoch** E times. With ``--kill-one``, once half of all
clicks are done the replica serving the most sessions gets ``kill -9``; its sessions see their
socket close, connect again through nginx (as Streamlit's page does), with the address's
query (``run=<token>``), land on another replica, and must find their run at its last
completed epoch, then click on to epoch E. At the end every session's run is read from the
store and compared with an uninterrupted run of the same setup: parameters, optimiser state
and generator state, bit for bit. Prints click -> update times (median, p95, max), failed and
lost sessions, how many came back and at which epoch, and the time to come back.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from urllib.parse import parse_qs

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "deploy"))

from bench_load import Barrier, ProtocolClient, pct, set_up, tree_rss  # noqa: E402
from replicas import Cluster, connections_to  # noqa: E402


class LinkedClient(ProtocolClient):
    """A protocol client with a browser's sticky cookie, which keeps the address's query."""

    def __init__(self, url, timeout):
        super().__init__(url, timeout)
        self.headers = {"Cookie": f"nncore_replica={secrets.token_hex(16)}"}

    async def train(self, key, want):
        """Click ``key`` and, as a browser's timer does, send the fragment reruns the page
        asks for (``run_every``: a slow epoch trains in the running panel) until a run ends
        with none pending; True if the Epoch metric then shows ``want``."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        await self._send([(key, "trigger_value", True)], self.fragments[key])
        auto, early = None, ForwardMsg.ScriptFinishedStatus.Value("FINISHED_EARLY_FOR_RERUN")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = ForwardMsg()
            msg.ParseFromString(await asyncio.wait_for(self.ws.recv(), self.timeout))
            kind = msg.WhichOneof("type")
            if kind == "new_session":          # a full run: the page drops its timers
                self.page_hash, auto = msg.new_session.page_script_hash, None
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element, msg.delta.fragment_id)
            elif kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string
            elif kind == "auto_rerun":
                auto = (msg.auto_rerun.interval, msg.auto_rerun.fragment_id)
            elif kind == "stop_auto_rerun":
                auto = None
            elif kind == "script_finished" and msg.script_finished != early:
                if auto is None:
                    return self.metrics.get("Epoch") == str(want)
                await asyncio.sleep(auto[0])
                await self._send([], auto[1], auto=True)
        raise TimeoutError(f"epoch {want} not shown within {self.timeout:.0f} s")

    async def _send(self, states, fragment, auto=False):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string, cs.page_script_hash, cs.is_auto_rerun = self.query, self.page_hash, auto
        if fragment:
            cs.fragment_id = fragment
        for key, field, value in states:
            w = cs.widget_states.widgets.add()
            w.id = self.ids[key]
            setattr(w, field, value)
        self.texts = []
        await self.ws.send(msg.SerializeToString())

    def token(self):
        values = parse_qs(self.query).get("run")
        return values[0] if values else None


async def come_back(client, tries=20):
    """Connect again through nginx and rerun with the address's query; the epoch shown."""
    for attempt in range(tries):
        try:
            await client.connect()
            await client.rerun()
            return int(client.metrics.get("Epoch"))
        except Exception:
            if attempt == tries - 1:
                raise
            await asyncio.sleep(0.5)


async def _or_come_back(client, rec, action, e):
    """Await ``action``; if the socket closes under it (its replica died), come back through
    nginx and return the epoch shown then (else None)."""
    import websockets
    try:
        await action
        return None
    except (websockets.ConnectionClosed, OSError) as exc:
        if not client.token():
            raise RuntimeError(f"no run=<token> in the address at click {e}") from exc
    tb = time.perf_counter()
    shown = await come_back(client)
    rec["back_s"].append(time.perf_counter() - tb)
    rec["back"].append((e - 1, shown))
    return shown


async def barrier_done(progress):
    """Hold the last full rerun until the kill (if any) has happened: every session is
    still open then, as a class's tabs would be."""
    while progress[1] is not None and not progress[1].is_set():
        await asyncio.sleep(0.05)


async def linked_session(url, args, shape, out, barrier, progress):
    rec = {"clicks": [], "setup": None, "failed": None, "lost": False, "token": None,
           "back": [], "back_s": []}
    arrived = False
    client = LinkedClient(url, args.timeout)
    try:
        await set_up(client, args, shape, rec, barrier)
        arrived = True
        await asyncio.wait_for(barrier.event.wait(), args.round_timeout)
        e = 1
        while e <= args.epochs:
            t = time.perf_counter()
            shown = await _or_come_back(client, rec, client.train("btn_train_1", e), e)
            if shown is not None:             # the replica died under this click
                if shown not in (e - 1, e):   # the click's epoch may have been saved, or not
                    raise RuntimeError(f"came back at epoch {shown} after {e - 1} completed")
                progress[0] += shown - (e - 1)
                e = shown + 1
                continue
            rec["clicks"].append(time.perf_counter() - t)
            if client.metrics.get("Epoch") != str(e):
                raise RuntimeError(f"epoch {client.metrics.get('Epoch')} shown after click {e}")
            progress[0] += 1
            e += 1
        await barrier_done(progress)
        shown = await _or_come_back(client, rec, client.rerun(), args.epochs + 1)
        if shown is not None and shown != args.epochs:
            raise RuntimeError(f"came back at epoch {shown} after {args.epochs} completed")
        rec["lost"] = client.metrics.get("Epoch") != str(args.epochs)
        rec["token"] = client.token()
        if client.errors:
            rec["failed"] = "a traceback: " + client.errors[0][:120]
        await client.close()
    except Exception as exc:
        rec["failed"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    finally:
        if not arrived:
            barrier.arrive()
    out.append(rec)


async def _round(cluster, n, args, shape, marks):
    out, progress = [], [0, asyncio.Event() if args.kill_one else None]
    barrier = Barrier(n, lambda: marks.update(t=time.perf_counter()))

    async def killer():
        await barrier.event.wait()
        total = n * args.epochs
        while progress[0] < total // 2:
            await asyncio.sleep(0.05)
        victim = cluster.busiest()
        marks.update(victim=victim, victim_conns=connections_to(cluster.ports[victim]),
                     kill_at=progress[0], kill_t=time.perf_counter())
        cluster.kill(victim)
        progress[1].set()

    tasks = [linked_session(cluster.url, args, shape, out, barrier, progress) for _ in range(n)]
    if args.kill_one:
        kill = asyncio.ensure_future(killer())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.round_timeout)
    if args.kill_one and not kill.done():
        kill.cancel()
        progress[1].set()
    marks["t_end"] = time.perf_counter()
    return out + [{"clicks": [], "setup": None, "failed": "round time limit", "lost": True,
                   "token": None, "back": [], "back_s": []} for _ in range(n - len(out))]


def _same(a, b) -> bool:
    if (a.epoch, a.iterations) != (b.epoch, b.iterations):
        return False
    if not np.array_equal(a.network.params, b.network.params):
        return False
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    if sa.keys() != sb.keys() or sa["t"] != sb["t"]:
        return False
    if not all(np.array_equal(sa[k], sb[k]) for k in sa if k != "t"):
        return False
    return a.rng.bit_generator.state == b.rng.bit_generator.state


def check_runs(store_url, recs, epochs):
    """How many sessions' stored runs equal an uninterrupted run, bit for bit."""
    from dashboard import limits, runstore
    from nncore import Trainer
    limits.set_blas_threads(limits.HOSTED.blas_threads)   # as the replicas compute (bit for bit)
    cfg = runstore.settings({"NNCORE_RUN_STORE": store_url}, hosted=True)
    store = runstore.RunStore(cfg, writer="bench")
    refs, ok = {}, 0
    try:
        for r in recs:
            if not r["token"]:
                continue
            try:
                run = runstore.read_trainer(store.get(r["token"]).body, limits.HOSTED)
            except Exception as exc:
                r["failed"] = r["failed"] or f"stored run unreadable: {exc}"
                continue
            key = repr(run.config.to_dict())
            if key not in refs:
                ref = Trainer(run.config)
                for _ in range(epochs):
                    ref.run_epoch()
                refs[key] = ref
            if _same(run, refs[key]):
                ok += 1
            else:
                r["lost"] = True
    finally:
        store.close()
    return ok


def replica_main(args, shape):
    env = {"NNCORE_HOSTED": "0" if args.local else "1"}
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    tmp = tempfile.mkdtemp(prefix="nncore-bench-store-")
    env.setdefault("NNCORE_RUN_STORE", "sqlite:///" + os.path.join(tmp, "runs.sqlite"))
    med = lambda v: statistics.median(v) if v else float("nan")          # noqa: E731
    for n in args.sessions:
        marks = {}
        with Cluster(args.replicas, env=env, hosted=not args.local, log_dir=tmp) as cluster:
            time.sleep(1.0)
            base = sum(tree_rss(pid) for pid in cluster.pids())
            recs = asyncio.run(_round(cluster, n, args, shape, marks))
            rss = sum(tree_rss(pid) for pid in cluster.pids())
        same = check_runs(env["NNCORE_RUN_STORE"], recs, args.epochs)
        clicks = [c for r in recs for c in r["clicks"]]
        failed = [r["failed"] for r in recs if r["failed"]]
        lost = sum(1 for r in recs if r["lost"] and not r["failed"])
        back = [b for r in recs for b in r["back"]]
        back_s = [b for r in recs for b in r["back_s"]]
        print(f"N={n} over {args.replicas} replicas behind nginx: {n - len(failed)} ok, "
              f"{len(failed)} failed, {lost} lost; click -> update median {med(clicks):.2f} s, "
              f"p95 {pct(clicks, 0.95):.2f} s, max {max(clicks, default=float('nan')):.2f} s "
              f"({len(clicks)} clicks in {marks.get('t_end', 0) - marks.get('t', 0):.0f} s)")
        if args.kill_one:
            at = marks.get("kill_at")
            print(f"  kill -9 of replica {marks.get('victim')} ({marks.get('victim_conns')} open "
                  f"connections from nginx) after {at} of {n * args.epochs} clicks: "
                  f"{len(back)} sessions came back through nginx, "
                  f"{sum(1 for a, b in back if a == b)} at their last completed epoch, "
                  f"{sum(1 for a, b in back if b == a + 1)} at the epoch of the click cut off "
                  f"(saved before the kill); time to come back median {med(back_s):.2f} s, "
                  f"max {max(back_s, default=float('nan')):.2f} s")
        print(f"  runs in the store equal to an uninterrupted run, bit for bit: {same} of {n}; "
              f"replicas' RSS {base / 2**20:.0f} MB at start, {rss / 2**20:.0f} MB at the end")
        for why in sorted(set(failed)):
            print(f"      failed: {why} (x{failed.count(why)})")
    if os.environ.get("NNCORE_BENCH_LOG") == "1":
        print(f"replica logs and the store: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
