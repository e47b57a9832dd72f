"""Test accuracy targets, per seed.

* MNIST sample: ``python -m nncore train --dataset mnist_sample --epochs 20`` with the CLI's own
  defaults for that dataset (run through the CLI here, one seed at a time): target >= 95 % on the
  held-out digits.
* Fashion-MNIST (full set, when Debian's ``dataset-fashion-mnist`` is installed or ``--data-dir``
  names the IDX files): the benchmark MLP 784-256-128-10, ReLU, softmax + cross-entropy, Adam 1e-3
  decaying along a cosine over the 10 epochs (``--lr-schedule cosine``), batches of 128, float32:
  target >= 88.5 % on the 10,000 test images (a constant rate gives 88.1-89.1 % by seed).

Accuracy does not depend on the BLAS kernel, so no environment variable needs changing::

    python bench/bench_accuracy.py                 # both, seeds 0 1 2
    python bench/bench_accuracy.py --only mnist --seeds 0 1 2 3 4
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from nncore import load_dataset  # noqa: E402
from nncore.cli import main as cli_main  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_trainer import ACCURACY_TARGET, Nncore  # noqa: E402

MNIST_TARGET = 0.95


def mnist_sample_run(seed, epochs=20):
    """The CLI's own run; returns (test accuracies per epoch, seconds)."""
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = cli_main(["train", "--dataset", "mnist_sample", "--epochs", str(epochs),
                         "--seed", str(seed), "--json"])
    if code != 0:
        raise SystemExit(f"bench_accuracy: the CLI run for seed {seed} exited with {code}")
    records = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return [r["test_acc"] for r in records], time.perf_counter() - t0


def fashion_run(seed, data_dir=None, epochs=10):
    opts = {"data_dir": data_dir} if data_dir else {}
    data = load_dataset("fashion_mnist", opts, seed)
    run = Nncore(data, seed, "cosine", epochs)
    t0 = time.perf_counter()
    accs = [run.epoch()[1] for _ in range(epochs)]
    return accs, time.perf_counter() - t0


def report(title, target, runs):
    print(f"\n{title}")
    finals = []
    for seed, (accs, seconds) in runs.items():
        finals.append(accs[-1])
        tail = ", ".join(f"{a:.2%}" for a in accs[-5:])
        print(f"  seed {seed}: {accs[-1]:.2%}  (last 5 epochs: {tail}; best {max(accs):.2%}; "
              f"{seconds:.1f} s)")
    verdict = "met" if min(finals) >= target else "NOT met"
    print(f"  final accuracy: min {min(finals):.2%}, mean {statistics.mean(finals):.2%} "
          f"over {len(finals)} seeds (target >= {target:.1%} for every seed: {verdict})")
    return min(finals) >= target


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--only", choices=("mnist", "fashion"))
    p.add_argument("--data-dir", help="folder of the Fashion-MNIST IDX files")
    args = p.parse_args(argv)
    ok = True
    if args.only in (None, "mnist"):
        runs = {s: mnist_sample_run(s) for s in args.seeds}
        ok &= report("MNIST sample, `train --dataset mnist_sample --epochs 20` (CLI defaults), "
                     "held-out digits", MNIST_TARGET, runs)
    if args.only in (None, "fashion"):
        try:
            runs = {s: fashion_run(s, args.data_dir) for s in args.seeds}
        except ValueError as exc:
            print(f"\nFashion-MNIST full set not available: {exc}")
        else:
            ok &= report("Fashion-MNIST full set, MLP 784-256-128-10, Adam 1e-3 with a cosine decay, batch 128, "
                         "10 epochs, 10,000 test images", ACCURACY_TARGET, runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
