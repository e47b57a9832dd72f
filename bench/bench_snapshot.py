"""Training-state snapshot benchmark: export / import times and file sizes.

A 50-epoch run of 784-128-64-10 on the MNIST sample (the CLI's defaults for that dataset:
ReLU, softmax + cross-entropy, Adam 1e-3, batches of 64), then, as medians over repeats:

- compact export of every epoch (``.json`` and ``.json.gz``): seconds and megabytes;
- import of that file into a new Trainer (parse, validate, decode, rebuild and check the
  data, build the trainer): seconds, with the dataset's file already read once
  (as in the app or a CLI process that used it) and, once, from a cold cache;
- readable export of the latest epoch only, and of every epoch (for reference).

Targets (issue 4): compact export <= 1 s and <= 25 MB (smaller gzipped), import <= 1 s,
readable latest-only export <= 0.5 s.

    python bench/bench_snapshot.py [--epochs 50] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from nncore import Trainer, datasets, snapshot  # noqa: E402
from nncore.presets import default_config  # noqa: E402

MB = 2**20


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args(argv)

    cfg = default_config("mnist_sample", hidden=[128, 64], epochs=a.epochs)
    t0 = time.perf_counter()
    trainer = Trainer(cfg)
    trainer.fit()
    net = trainer.network
    print(f"run: mnist_sample {'-'.join(map(str, net.sizes))}, {net.n_params:,} parameters, "
          f"{trainer.epoch} epochs in {time.perf_counter() - t0:.1f} s, test acc "
          f"{trainer.records[-1].test_acc:.3f}, history {len(trainer.history.epochs)} epochs "
          f"({trainer.history.nbytes / MB:.1f} MB)")
    raw_mb = len(trainer.history.epochs) * net.n_params * net.dtype.itemsize / MB
    print(f"raw float32 weights of all stored epochs: {raw_mb:.1f} MB "
          f"(plain base64 would be {raw_mb * 4 / 3:.1f} MB)")

    rows = []
    med, best, compact = timed(lambda: snapshot.dumps(trainer), a.repeats)
    rows.append(("compact export, every epoch (.json)", med, best, len(compact), "<= 1 s, <= 25 MB"))
    med, best, gz = timed(lambda: snapshot.dumps(trainer, compress=True), a.repeats)
    rows.append(("compact export, every epoch (.json.gz)", med, best, len(gz), "smaller"))
    med, best, latest = timed(lambda: snapshot.dumps(trainer, epochs="latest", readable=True), a.repeats)
    rows.append(("readable export, latest epoch only", med, best, len(latest), "<= 0.5 s"))
    med, best, every10 = timed(lambda: snapshot.dumps(trainer, epochs=10), a.repeats)
    rows.append(("compact export, every 10th epoch", med, best, len(every10), ""))
    med, best, readable = timed(lambda: snapshot.dumps(trainer, readable=True), 1)
    rows.append(("readable export, every epoch (reference)", med, best, len(readable), ""))

    datasets._read_csv_gz.cache_clear()
    t = time.perf_counter()
    snapshot.loads(compact).to_trainer()
    cold_s = time.perf_counter() - t
    med, best, loaded = timed(lambda: snapshot.loads(compact).to_trainer(), a.repeats)
    rows.append(("import compact file into a new Trainer", med, best, None, "<= 1 s"))
    rows.append(("  the same, dataset file not yet read (once)", cold_s, cold_s, None, ""))
    med, best, _ = timed(lambda: snapshot.loads(compact).to_trainer(data=trainer.data), a.repeats)
    rows.append(("  the same, reusing the live run's dataset", med, best, None, ""))
    med, best, _ = timed(lambda: snapshot.loads(gz).to_trainer(), a.repeats)
    rows.append(("import .json.gz into a new Trainer", med, best, None, ""))
    med, best, _ = timed(lambda: snapshot.loads(compact), a.repeats)
    rows.append(("  of which parse + validate + decode", med, best, None, ""))
    med, best, _ = timed(lambda: snapshot.loads(latest).to_trainer(), a.repeats)
    rows.append(("import readable latest-only file", med, best, None, ""))

    print(f"\n{'step':48} {'median s':>9} {'best s':>8} {'size MB':>9}  target")
    for name, med, best, size, target in rows:
        size_txt = f"{size / MB:9.2f}" if size is not None else " " * 9
        print(f"{name:48} {med:9.3f} {best:8.3f} {size_txt}  {target}")

    same = (np.array_equal(loaded.network.params, net.params)
            and loaded.rng.bit_generator.state == trainer.rng.bit_generator.state
            and loaded.optimizer.t == trainer.optimizer.t and loaded.epoch == trainer.epoch
            and loaded.history.epochs == trainer.history.epochs
            and all(np.array_equal(loaded.history.weights[e], trainer.history.weights[e])
                    for e in trainer.history.epochs))
    print(f"\nround trip exact (params, rng, optimizer, every stored epoch): {same}")
    print(f"compact file: {len(compact) / MB:.2f} MB ({len(compact) / 1e6:.2f} MB decimal); "
          f"gzipped {len(gz) / MB:.2f} MB; readable latest-only {len(latest) / MB:.2f} MB; "
          f"readable every epoch {len(readable) / MB:.1f} MB")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
