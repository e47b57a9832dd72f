"""Training throughput of nncore against PyTorch CPU, and nncore's share of NumPy's matmul peak.

The workload: an MLP 784-256-128-10, ReLU, softmax + cross-entropy, Adam (lr 1e-3), mini-batches
of 128, float32, on Fashion-MNIST (the full 60,000 / 10,000 images when Debian's
``dataset-fashion-mnist`` is installed or ``--data-dir`` names a folder of IDX files, else the
shipped sample). PyTorch (CPU, 2 threads) trains the same network from the same initial weights on
the same arrays, when it is importable (``pip install torch==2.13.0``; it is never a dependency of
the app), twice: with ``torch.optim.Adam(params, lr)`` as it runs on CPU unless told otherwise
(its for-loop implementation; the target is checked against this one) and with ``fused=True``,
PyTorch's fastest Adam on CPU (``--torch-adam`` picks others). The contenders take turns epoch by
epoch in this one process (six epochs each by default), and the figures are medians over epochs:
two-thread timings on a small VM are noisy and sometimes bimodal (single epochs of the same code
differ by up to 2x here), so the spread of the per-epoch ratios is printed beside their median.

Measure with the two OpenBLAS variables unset **in this command only**. Some machines set
``OPENBLAS_CORETYPE=Haswell`` (older OpenBLAS builds crash without it), which makes a current
NumPy run AVX2 kernels at about half speed::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_trainer.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_trainer.py --accuracy

``--accuracy`` trains 10 epochs with the learning rate decaying along a cosine over them (both
contenders; ``--lr-schedule cosine`` in the CLI) and checks the >= 88.5 % test-accuracy target on
the full test set (``bench/bench_accuracy.py`` checks it over several seeds). The script prints which OpenBLAS
kernel ran (``pip install threadpoolctl`` to see it; it also lets ``--threads`` set NumPy's BLAS
threads) and how much CPU other processes took around each epoch: epochs that shared the CPU are
marked ``!`` and left out of the medians when at least two clean ones remain. Other virtual
machines on the same host are invisible from inside, and they can halve everything for minutes:
that is why each epoch is compared with a matmul peak measured just before it, and with the
other contender's epoch next to it, rather than with figures from another moment.

Figures:

* samples/s: training samples per second of wall time, per epoch (evaluation excluded);
* GFLOP/s: the matmul work of one training epoch (forward, weight gradients, input gradients:
  about 1.0 MFLOP per sample, 60 GFLOP per epoch on the full set) over the epoch's time;
* peak: NumPy's own sgemm rate measured in this run, on large square matrices and on the
  matmuls of one training step at batch 128 (the best nncore could reach if everything but the
  matmuls took no time). "% of peak" is against the batch-128 figure, the other one shown too.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from nncore import RunConfig, Trainer, load_dataset  # noqa: E402

HIDDEN = [256, 128]
BATCH = 128
LR = 1e-3
THROUGHPUT_TARGET = 1.5      # x PyTorch
PEAK_TARGET = 0.60           # of NumPy's sgemm peak at the training shapes
ACCURACY_TARGET = 0.885      # full Fashion-MNIST test set after 10 epochs
BUSY_LIMIT = 0.10            # cores used by other processes above which an epoch is marked


# -- machine -----------------------------------------------------------------------------------
class CpuMeter:
    """CPU used by other processes during an interval, in cores (Linux; else None)."""

    def __init__(self):
        self.ok = os.path.exists("/proc/stat")
        self.tick = os.sysconf("SC_CLK_TCK") if self.ok else 100

    def _read(self):
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        busy = sum(v) - v[3] - v[4]          # all but idle and iowait (guest time is in user)
        t = os.times()
        return busy / self.tick, t.user + t.system, time.perf_counter()

    def start(self):
        self._t0 = self._read() if self.ok else None

    def others(self):
        if not self.ok:
            return None
        b0, own0, w0 = self._t0
        b1, own1, w1 = self._read()
        return max(0.0, (b1 - b0) - (own1 - own0)) / max(w1 - w0, 1e-9)


def blas_description():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS kernel unknown (pip install threadpoolctl to see it)"
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not infos:
        return "no BLAS found by threadpoolctl"
    i = infos[0]
    return (f"{i.get('internal_api')} {i.get('version')}, kernel {i.get('architecture')}, "
            f"{i.get('num_threads')} threads")


def env_warning():
    bad = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    if bad:
        return (f"WARNING: {', '.join(f'{k}={os.environ[k]}' for k in bad)} is set: OpenBLAS may "
                "run slower kernels. Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python "
                "bench/bench_trainer.py")
    return None


# -- FLOPs and the matmul peak ------------------------------------------------------------------
def flops_per_sample(sizes):
    """Matmul FLOPs of one training sample: forward x W, dW = x^T delta, dx = delta W^T
    (no dx for the first layer). Elementwise work is not counted."""
    pairs = list(zip(sizes, sizes[1:]))
    fwd = sum(2 * i * o for i, o in pairs)
    return fwd + fwd + sum(2 * i * o for i, o in pairs[1:])


def _rate(fn, flops, seconds=0.4, rounds=3):
    fn()
    best = 0.0
    for _ in range(rounds):
        k, t0 = 0, time.perf_counter()
        while True:
            fn()
            k += 1
            dt = time.perf_counter() - t0
            if dt >= seconds / rounds:
                break
        best = max(best, flops * k / dt)
    return best / 1e9


def square_peak(sizes=(1024, 2048, 3072)):
    """Best sgemm GFLOP/s on large square float32 matrices."""
    rng = np.random.default_rng(0)
    best = {}
    for n in sizes:
        a, b = (rng.random((n, n), dtype=np.float32) for _ in range(2))
        c = np.empty((n, n), np.float32)
        best[n] = _rate(lambda: np.matmul(a, b, out=c), 2.0 * n ** 3)
    return best


def step_peak(sizes, batch=BATCH, seconds=0.4):
    """GFLOP/s of exactly the matmuls of one training step (same shapes and transposes)."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    acts = [rng.random((batch, s), dtype=f32) for s in sizes]
    deltas = [rng.random((batch, s), dtype=f32) for s in sizes]
    Ws = [rng.random((i, o), dtype=f32) for i, o in zip(sizes, sizes[1:])]
    dWs = [np.empty_like(W) for W in Ws]

    def step():
        for l, W in enumerate(Ws):
            np.matmul(acts[l], W, out=acts[l + 1])
        for l in range(len(Ws) - 1, -1, -1):
            np.matmul(acts[l].T, deltas[l + 1], out=dWs[l])
            if l > 0:
                np.matmul(deltas[l + 1], Ws[l].T, out=deltas[l])

    return _rate(step, flops_per_sample(sizes) * batch, seconds)


# -- data and contenders -----------------------------------------------------------------------
def load_data(data_dir=None, sample=False, seed=0):
    if not sample:
        try:
            opts = {"data_dir": data_dir} if data_dir else {}
            return load_dataset("fashion_mnist", opts, seed), "Fashion-MNIST (full)"
        except ValueError as exc:
            if data_dir:
                raise SystemExit(f"bench_trainer: {exc}") from None
    return load_dataset("fashion_sample", {}, seed), "Fashion-MNIST sample (full set not found)"


class Nncore:
    name = "nncore"

    def __init__(self, data, seed, schedule="constant", epochs=10_000):
        cfg = RunConfig(dataset=data.name, hidden=HIDDEN, activations=None, loss="cross_entropy",
                        optimizer="adam", lr=LR, lr_schedule=schedule, batch="mini",
                        batch_size=BATCH, shuffle=True, epochs=epochs, seed=seed, dtype="float32")
        self.trainer = Trainer(cfg, data=data, history_budget=64 * 2**20)

    def initial_weights(self):
        return [(l.weights.copy(), l.biases.copy()) for l in self.trainer.network.layers]

    def epoch(self):
        rec = self.trainer.run_epoch()
        return rec.seconds, rec.test_acc


TORCH_NAMES = {"for-loop": "PyTorch", "fused": "PyT fused", "foreach": "PyT foreach"}


class Torch:
    """PyTorch on the same arrays from the same weights. ``adam``: "for-loop" is what
    ``torch.optim.Adam(params, lr)`` runs on CPU by default; "fused" and "foreach" are
    PyTorch's opt-in faster implementations."""

    def __init__(self, data, weights, seed, threads, adam, lr_at):
        import torch
        self.name = TORCH_NAMES[adam]
        self.torch = torch
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.gen = torch.Generator().manual_seed(seed)
        layers = []
        for i, (W, b) in enumerate(weights):
            lin = torch.nn.Linear(W.shape[0], W.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))
            layers += [lin] + ([torch.nn.ReLU()] if i < len(weights) - 1 else [])
        self.model = torch.nn.Sequential(*layers)
        kw = {"fused": True} if adam == "fused" else {"foreach": adam == "foreach"}
        self.adam = adam
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8, **kw)
        self.lr_at, self.done = lr_at, 0
        self.X = torch.from_numpy(data.X_train)
        self.y = torch.from_numpy(data.Y_train.argmax(axis=1))
        self.Xt = torch.from_numpy(data.X_test)
        self.yt = torch.from_numpy(data.Y_test.argmax(axis=1))

    def epoch(self):
        torch, model, opt = self.torch, self.model, self.opt
        n = self.X.shape[0]
        model.train()
        for group in opt.param_groups:          # the same per-epoch rate as nncore
            group["lr"] = self.lr_at(self.done)
        self.done += 1
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=self.gen)
        for s in range(0, n, BATCH):
            idx = perm[s:s + BATCH]
            xb, yb = self.X.index_select(0, idx), self.y.index_select(0, idx)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            acc = float((model(self.Xt).argmax(dim=1) == self.yt).float().mean())
        return seconds, acc


def make_torch(data, weights, args, lr_at):
    """The PyTorch contenders (one per Adam implementation asked for) and a line about them."""
    if args.no_torch:
        return [], "PyTorch skipped (--no-torch)"
    try:
        import torch
    except ImportError:
        return [], "PyTorch not importable (pip install torch==2.13.0 to compare)"
    adams = list(dict.fromkeys(args.torch_adam))
    return [Torch(data, weights, args.seed, args.threads, a, lr_at) for a in adams], \
        (f"torch {torch.__version__}, {args.threads} threads; Adam: "
         + ", ".join(f"{TORCH_NAMES[a]} = {a}" + (" (PyTorch's default on CPU)" if a == "for-loop"
                                                  else "") for a in adams))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=None, help="epochs per contender (default 6; "
                   "10 with --accuracy)")
    p.add_argument("--accuracy", action="store_true",
                   help=f"train 10 epochs and check test accuracy >= {ACCURACY_TARGET:.1%}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="folder of the Fashion-MNIST IDX files")
    p.add_argument("--sample", action="store_true", help="use the shipped sample, not the full set")
    p.add_argument("--no-torch", action="store_true", help="time nncore alone")
    p.add_argument("--threads", type=int, default=2,
                   help="threads for both: NumPy's BLAS (through threadpoolctl) and PyTorch "
                        "(default 2; 1 gives a comparison that suffers less when other "
                        "processes share the CPU)")
    p.add_argument("--torch-adam", choices=("for-loop", "fused", "foreach"), nargs="+",
                   default=["for-loop", "fused"],
                   help="PyTorch's Adam implementations to time (default: for-loop, what "
                        "torch.optim.Adam runs on CPU unless told otherwise, and fused, its "
                        "fastest); the target is checked against the first")
    p.add_argument("--pause", type=float, default=0.3,
                   help="seconds of rest between contenders, so idle BLAS/OpenMP threads sleep")
    args = p.parse_args(argv)
    epochs = args.epochs or (10 if args.accuracy else 6)
    if epochs < 1:
        p.error("--epochs must be at least 1")

    if args.threads < 1:
        p.error("--threads must be at least 1")
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=args.threads, user_api="blas")     # for the whole run
    except ImportError:
        if args.threads != 2:
            p.error("--threads needs threadpoolctl (pip install threadpoolctl)")
    warn = env_warning()
    data, label = load_data(args.data_dir, args.sample, args.seed)
    n_train, n_test = data.X_train.shape[0], data.X_test.shape[0]
    sizes = [data.n_in, *HIDDEN, data.n_out]
    # the accuracy target is for Adam with a cosine decay over the 10 epochs (speed does not
    # depend on the rate)
    nn = Nncore(data, args.seed, "cosine" if args.accuracy else "constant", epochs)
    torches, th_label = make_torch(data, nn.initial_weights(), args, nn.trainer.config.lr_at)

    print(f"{label}: {n_train:,} training / {n_test:,} test images")
    print(f"MLP {'-'.join(map(str, sizes))}, relu, softmax + cross-entropy, Adam "
          f"{nn.trainer.config.lr_text().replace('lr ', '')}, "
          f"batch {BATCH}, float32, seed {args.seed}")
    print(f"numpy {np.__version__}: {blas_description()}")
    print(th_label)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    if warn:
        print(warn)
    print()

    meter = CpuMeter()
    flops_epoch = flops_per_sample(sizes) * n_train
    contenders = [nn, *torches]
    width = max(10, *(len(c.name) + 2 for c in contenders))
    # The machine's speed drifts (other VMs on the host are invisible from here), so every
    # epoch gets its own peak measured just before it, and the contenders alternate.
    epochs_rows = []
    head = "".join(f"  {c.name + ' s':>{width}} {'samples/s':>10} {'test acc':>8}" for c in contenders)
    print(f"{'epoch':>5}{head}  {'peak*':>6} {'% peak':>6}"
          + "".join(f"  {'ratio' + str(i + 1):>6}" for i in range(len(torches))) + f"  {'others':>6}")
    for e in range(epochs):
        row = {}
        time.sleep(args.pause)
        meter.start()
        row["peak"] = step_peak(sizes, seconds=0.3)
        busy = [meter.others()]
        for c in (contenders if e % 2 == 0 else contenders[::-1]):
            time.sleep(args.pause)
            meter.start()
            row[c.name] = c.epoch()
            busy.append(meter.others())
        row["busy"] = None if None in busy else max(busy)
        row["share"] = flops_epoch / row["nncore"][0] / 1e9 / row["peak"]
        for t in torches:
            row["ratio " + t.name] = row[t.name][0] / row["nncore"][0]
        epochs_rows.append(row)
        cells = "".join(f"  {row[c.name][0]:>{width}.3f} {n_train / row[c.name][0]:>10,.0f} "
                        f"{row[c.name][1]:>8.2%}" for c in contenders)
        noisy = row["busy"] is not None and row["busy"] > BUSY_LIMIT
        others = "n/a" if row["busy"] is None else f"{row['busy']:.2f}{'!' if noisy else ' '}"
        ratio = "".join(f"  {row['ratio ' + t.name]:>5.2f}x" for t in torches)
        print(f"{e + 1:>5}{cells}  {row['peak']:>6.0f} {row['share']:>6.0%}{ratio}  {others:>6}",
              flush=True)
    sq = square_peak()

    clean = [r for r in epochs_rows if r["busy"] is None or r["busy"] <= BUSY_LIMIT]
    use = clean if len(clean) >= 2 else epochs_rows
    print(f"\npeak* = GFLOP/s of one training step's matmuls alone (NumPy sgemm, batch {BATCH}), "
          "measured just before that epoch;\nothers = most CPU cores used by other processes "
          f"during the epoch or its peak; ! = above {BUSY_LIMIT:.2f}.")
    print(f"Medians over {len(use)} of {epochs} epochs"
          f"{' (the ones without other load)' if use is clean and len(clean) < epochs else ''}:\n")
    med = lambda key, i=None: statistics.median(r[key] if i is None else r[key][i] for r in use)
    for c in contenders:
        t = med(c.name, 0)
        best = min(r[c.name][0] for r in epochs_rows)
        print(f"  {c.name:<11} {t:.3f} s/epoch = {n_train / t:>9,.0f} samples/s   (best epoch "
              f"{n_train / best:,.0f}; test accuracy after {epochs} epochs "
              f"{epochs_rows[-1][c.name][1]:.2%})")
    for i, t in enumerate(torches):
        ratio = med("ratio " + t.name)
        verdict = (f"target >= {THROUGHPUT_TARGET}x: {'met' if ratio >= THROUGHPUT_TARGET else 'NOT met'}"
                   if i == 0 else "for comparison")
        spread = sorted(r["ratio " + t.name] for r in use)
        print(f"  throughput nncore / {t.name}: {ratio:.2f}x (ratio{i + 1}: median of per-epoch "
              f"ratios, which ranged {spread[0]:.2f}-{spread[-1]:.2f}x; {verdict})")
    gflops = flops_epoch / med("nncore", 0) / 1e9
    share, peak = med("share"), med("peak")
    sq_n = max(sq, key=sq.get)
    print(f"\n  matmul work: {flops_epoch / 1e9:.1f} GFLOP per epoch "
          f"({flops_per_sample(sizes) / 1e6:.3f} MFLOP per sample)")
    print(f"  NumPy sgemm peak: {peak:.0f} GFLOP/s for a training step's matmuls at batch {BATCH} "
          f"(median; best {max(r['peak'] for r in epochs_rows):.0f}); {sq[sq_n]:.0f} GFLOP/s on "
          f"large squares ({', '.join(f'{n}: {v:.0f}' for n, v in sq.items())}), measured at the end")
    print(f"  nncore: {gflops:.0f} GFLOP/s = {share:.0%} of the batch-{BATCH} peak (median of "
          f"per-epoch shares; target >= {PEAK_TARGET:.0%}: {'met' if share >= PEAK_TARGET else 'NOT met'})"
          f", {gflops / sq[sq_n]:.0%} of the large-square peak")
    if args.accuracy:
        acc = epochs_rows[-1]["nncore"][1]
        full = label.startswith("Fashion-MNIST (full)")
        verdict = ("met" if acc >= ACCURACY_TARGET else "NOT met") if full else \
            "not checked: the target is for the full test set"
        print(f"nncore test accuracy after {epochs} epochs: {acc:.2%} "
              f"(target >= {ACCURACY_TARGET:.1%} on the full test set: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
