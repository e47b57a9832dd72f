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
