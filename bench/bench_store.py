"""What saving runs to the run store costs the training (hosted limits, one BLAS thread).

1. Moons while playing (Train N epochs): two runs of the same setup side by side, one saving
   through the app's own throttle (``dashboard.autosave.after_epoch`` after every epoch, as
   the running panel does between its 0.3 s slices), one not; slices alternate between them. Prints both epoch-per-second rates and their ratio (the target:
   saving costs at most 10 %).
2. The MNIST sample (784-128-64-10), one epoch per click: the time of one save (encode +
   write) next to the epoch's time, as medians over the epochs (the target: at most 5 ms).

    python bench/bench_store.py [--store sqlite:////tmp/x.sqlite | postgresql://...]

The store is a temporary SQLite file unless ``--store`` names one. Figures are medians of
one process's runs: the machine's other load moves them.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SLICE_S = 0.3


def _quiet():
    for name in ("streamlit", "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).setLevel(logging.ERROR)


def playing(epochs, slices):
    """Epochs/s of moons with and without saving, slices alternating."""
    from dashboard import autosave, limits, state
    from nncore import Trainer
    from nncore.presets import default_config
    cfg = default_config("moons")
    data = state.run_data(cfg)
    plain = Trainer(cfg, data=data, history_budget=limits.HOSTED.history_bytes)
    saved = Trainer(cfg, data=data, history_budget=limits.HOSTED.history_bytes)
    spent = {"plain": [0.0, 0], "saved": [0.0, 0]}
    ss = {}                             # the session's state, as a plain dict
    for i in range(2 * slices):
        name, tr = ("plain", plain) if i % 2 == 0 else ("saved", saved)
        if tr.epoch >= epochs:
            continue
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < SLICE_S and tr.epoch < epochs:
            tr.run_epoch()
            n += 1
            if name == "saved":
                autosave.after_epoch(tr, ss=ss)
        spent[name][0] += time.perf_counter() - t0
        spent[name][1] += n
    if ss.get(autosave.PROBLEM):
        raise SystemExit(ss[autosave.PROBLEM])
    rate = {k: v[1] / v[0] for k, v in spent.items()}
    return rate, saved.epoch


def mnist(epochs):
    """Median epoch time and median save time (ms) for the MNIST sample, one save per epoch."""
    from dashboard import autosave, limits, state
    from nncore import Trainer
    from nncore.presets import default_config
    cfg = default_config("mnist_sample").replace(hidden=[128, 64])
    tr = Trainer(cfg, data=state.run_data(cfg), history_budget=limits.HOSTED.history_bytes)
    ss = {}
    epoch_s, save_s, sizes = [], [], []
    for _ in range(epochs):
        t0 = time.perf_counter()
        tr.run_epoch()
        t1 = time.perf_counter()
        autosave.save_now(tr, ss=ss)
        save_s.append(time.perf_counter() - t1)
        epoch_s.append(t1 - t0)
        sizes.append(len(autosave.store().get(autosave.token(ss)).body))
    if ss.get(autosave.PROBLEM):
        raise SystemExit(ss[autosave.PROBLEM])
    return statistics.median(epoch_s), statistics.median(save_s), sizes[-1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="NNCORE_RUN_STORE for the run (default: a temporary SQLite file)")
    ap.add_argument("--moons-epochs", type=int, default=2000)
    ap.add_argument("--mnist-epochs", type=int, default=9)
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="nncore-bench-store-")
    os.environ["NNCORE_RUN_STORE"] = args.store or "sqlite:///" + os.path.join(tmp, "runs.sqlite")
    os.environ["NNCORE_HOSTED"] = "1"
    _quiet()
    from dashboard import limits, runstore
    limits.set_blas_threads(limits.HOSTED.blas_threads)
    print(f"run store: {runstore.describe_url(os.environ['NNCORE_RUN_STORE'])}, hosted settings",
          flush=True)
    rate, reached = playing(args.moons_epochs, slices=10_000)
    print(f"moons while playing ({reached} epochs): {rate['plain']:,.0f} epochs/s without "
          f"saving, {rate['saved']:,.0f} with: saving costs "
          f"{100 * (1 - rate['saved'] / rate['plain']):.1f} % of the rate (target <= 10 %)",
          flush=True)
    ep, sv, size = mnist(args.mnist_epochs)
    print(f"MNIST sample 784-128-64-10: epoch {ep * 1000:.0f} ms, one save {sv * 1000:.1f} ms "
          f"({size / 2**20:.2f} MB stored; {100 * sv / ep:.1f} % of the epoch; target <= 5 ms)")


if __name__ == "__main__":
    main()
