"""The load benchmark's browserless clients still speak the app's protocol: one session
sets up the MNIST sample network and trains two epochs by clicking, as a browser would."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_load_benchmark_protocol_clients_train_and_keep_their_runs():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_load.py"),
                        "--clients", "protocol", "--sessions", "2", "--epochs", "2",
                        "--timeout", "60", "--round-timeout", "120"],
                       cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [l.split() for l in r.stdout.splitlines() if l.strip().startswith("2 ")]
    assert rows, r.stdout
    n, ok, failed, lost = rows[-1][:4]
    assert (ok, failed, lost) == ("2", "0", "0"), r.stdout


def test_protocol_clients_follow_a_slow_epochs_frames_as_a_browser_does():
    """On a busy server Train 1 epoch trains in a run_every panel: the click's run ends early
    for the page's rerun, and the epoch shows only after the frames the browser asks for."""
    import asyncio

    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from bench_load import ProtocolClient

    def msg(kind, value=None, fragment=""):
        m = ForwardMsg()
        if kind == "finished":
            m.script_finished = getattr(ForwardMsg, value)
        elif kind == "new_session":
            m.new_session.page_script_hash = "page"
        elif kind == "auto_rerun":
            m.auto_rerun.interval, m.auto_rerun.fragment_id = 0.01, "panel"
        elif kind == "epoch":
            m.delta.new_element.metric.label, m.delta.new_element.metric.body = "Epoch", value
            m.delta.fragment_id = fragment
        return m.SerializeToString()

    replies = [  # to the click, then to each frame the client asks for
        [msg("finished", "FINISHED_EARLY_FOR_RERUN"), msg("new_session"), msg("auto_rerun"),
         msg("epoch", "0", "panel"), msg("finished", "FINISHED_SUCCESSFULLY")],
        [msg("epoch", "0", "panel"), msg("finished", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY")],
        [msg("finished", "FINISHED_EARLY_FOR_RERUN"), msg("new_session"), msg("epoch", "1", "idle"),
         msg("finished", "FINISHED_SUCCESSFULLY")],
    ]

    class FakeSocket:
        def __init__(self):
            self.queue, self.sent = [], 0

        async def send(self, data):
            self.queue += replies[self.sent]
            self.sent += 1

        async def recv(self):
            return self.queue.pop(0)

    client = ProtocolClient("http://127.0.0.1:1", timeout=5)
    client.ws = FakeSocket()
    client.ids, client.fragments = {"btn_train_1": "$$ID-x-btn_train_1"}, {"btn_train_1": "idle"}
    # its own thread: a browser test's Playwright may hold this thread's event loop
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, client.click("btn_train_1")).result(timeout=60)
    assert client.metrics["Epoch"] == "1" and client.ws.sent == 3 and not client.timers
