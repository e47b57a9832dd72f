"""Convolution in nncore against PyTorch CPU, and the accuracy of the conv presets.

The workload of the speed figure: ``conv 8@5x5, pool 2, conv 16@5x5, pool 2, 64`` (the
``mnist_cnn`` preset), ReLU, softmax + cross-entropy, Adam (lr 1e-3), mini-batches of 64,
float32, on the shipped MNIST sample (4,000 training images). PyTorch (CPU, as many threads as
NumPy's BLAS) trains the same network from the same initial weights on the same batches in the
same order. The two take turns epoch by epoch in this one process and the figures are medians
over epochs (two-thread timings here are noisy while other work shares the machine); nncore's
epochs run through ``Trainer.run_epoch`` (its ``samples_per_s``, evaluation excluded), PyTorch's
through a plain ``zero_grad / forward / backward / step`` loop with the batch gathered by index.

Then, unless ``--speed-only``: the held-out accuracy of ``mnist_cnn`` after 10 epochs (target
>= 98 %) next to PyTorch's with the same layers, data and recipe, of ``digits_cnn``, and of ``fashion_cnn`` on the full Fashion-MNIST (target >= 91 % test
accuracy in 10 epochs) when Debian's ``dataset-fashion-mnist`` is installed or ``--data-dir``
names a folder of its IDX files (skipped, and said so, when neither is there).

Measure with the two OpenBLAS variables unset in this command only::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_conv.py
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from nncore import Trainer  # noqa: E402
from nncore.datasets import FASHION_DIRS, find_idx_files  # noqa: E402
from nncore.presets import preset_config  # noqa: E402

SPEED_TARGET = 1.0          # x PyTorch
MNIST_TARGET = 0.98
FASHION_TARGET = 0.91


def torch_model(net, torch):
    """The nncore network ``net`` as a torch.nn.Sequential holding the same weights."""
    nn = torch.nn
    mods = []
    for layer in net.layers:
        if layer.kind == "conv":
            k, c, kh, kw = layer.weights.shape
            m = nn.Conv2d(c, k, (kh, kw))
            m.weight.data = torch.tensor(np.array(layer.weights))
            m.bias.data = torch.tensor(np.array(layer.biases))
            mods += [m, nn.ReLU()]
        elif layer.kind == "pool":
            mods.append(nn.MaxPool2d(layer.p))
        else:
            if layer.flatten_from is not None:
                mods.append(nn.Flatten())
            m = nn.Linear(layer.n_in, layer.n_out)
            m.weight.data = torch.tensor(np.ascontiguousarray(layer.weights.T))
            m.bias.data = torch.tensor(np.array(layer.biases))
            mods.append(m)
            if layer.activation == "relu":
                mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def speed(epochs):
    try:
        import torch
    except ImportError:
        print("PyTorch is not importable: no speed comparison (pip install torch)")
        return None
    threads = torch.get_num_threads()
    cfg = preset_config("mnist_cnn", epochs=epochs + 1)
    tr = Trainer(cfg)
    data = tr.data
    model = torch_model(tr.network, torch)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    c, h, w = tr.network.input_shape
    X = torch.tensor(data.X_train).reshape(-1, c, h, w)
    y = torch.tensor(data.Y_train.argmax(axis=1))
    n, bs = X.shape[0], cfg.batch_size
    perm_rng = np.random.default_rng(1)

    def torch_epoch():
        order = torch.tensor(perm_rng.permutation(n))
        start = time.perf_counter()
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
        return n / (time.perf_counter() - start)

    torch_epoch()                       # warm-up, both
    tr.run_epoch()
    ours, theirs = [], []
    for e in range(epochs):
        if e % 2:
            theirs.append(torch_epoch())
            ours.append(tr.run_epoch().samples_per_s)
        else:
            ours.append(tr.run_epoch().samples_per_s)
            theirs.append(torch_epoch())
        print(f"  epoch {e + 1}: nncore {ours[-1]:7,.0f} samples/s   PyTorch {theirs[-1]:7,.0f}   "
              f"ratio {ours[-1] / theirs[-1]:.2f}", flush=True)
    ratios = [a / b for a, b in zip(ours, theirs)]
    ratio = statistics.median(ratios)
    print(f"training speed, {' '.join(str(s) for s in tr.network.sizes)}, batch {bs}, float32, "
          f"{threads} threads: nncore {statistics.median(ours):,.0f} samples/s, PyTorch "
          f"{statistics.median(theirs):,.0f} samples/s; ratio {ratio:.2f}x (median of per-epoch "
          f"ratios {min(ratios):.2f}-{max(ratios):.2f}; target >= {SPEED_TARGET:.1f}x): "
          f"{'met' if ratio >= SPEED_TARGET else 'NOT met'}")
    return ratio


def torch_accuracy(name, epochs):
    """PyTorch's held-out accuracy on preset ``name``'s data with the same recipe (layers,
    Adam and its rate, batch size, epochs; its own initialisation): what the data allow."""
    try:
        import torch
    except ImportError:
        return None
    cfg = preset_config(name)
    tr = Trainer(cfg.replace(epochs=1))
    data = tr.data
    torch.manual_seed(cfg.seed)
    model = torch_model(tr.network, torch)
    for m in model:
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()                  # PyTorch's own initialisation
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    c, h, w = tr.network.input_shape
    X = torch.tensor(data.X_train).reshape(-1, c, h, w)
    y = torch.tensor(data.Y_train.argmax(axis=1))
    Xt = torch.tensor(data.X_test).reshape(-1, c, h, w)
    yt = torch.tensor(data.Y_test.argmax(axis=1))
    for _ in range(epochs):
        order = torch.randperm(len(X))
        for s in range(0, len(X), cfg.batch_size):
            idx = order[s:s + cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
    with torch.no_grad():
        acc = float((model(Xt).argmax(1) == yt).float().mean())
    print(f"  PyTorch, the same layers, data and recipe, {epochs} epochs: test accuracy {acc:.2%}",
          flush=True)
    return acc


def accuracy(name, target=None, **overrides):
    tr = Trainer(preset_config(name, **overrides))
    start = time.perf_counter()
    tr.fit()
    acc = tr.records[-1].test_acc
    verdict = "" if target is None else (f" (target >= {target:.0%}: "
                                          f"{'met' if acc >= target else 'NOT met'})")
    print(f"{name}: {tr.data.name}, {len(tr.data.X_train):,} training / {len(tr.data.X_test):,} "
          f"test images, {tr.epoch} epochs in {time.perf_counter() - start:.0f} s: test accuracy "
          f"{acc:.2%}{verdict}", flush=True)
    return acc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=6, help="timed epochs per contender")
    ap.add_argument("--data-dir", help="folder of the full Fashion-MNIST IDX files")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--accuracy-only", action="store_true")
    a = ap.parse_args(argv)
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, numpy "
          f"{np.__version__}")
    if not a.accuracy_only:
        speed(a.epochs)
    if a.speed_only:
        return 0
    accuracy("mnist_cnn", MNIST_TARGET)
    torch_accuracy("mnist_cnn", preset_config("mnist_cnn").epochs)
    accuracy("digits_cnn")
    folder = a.data_dir or next((d for d in FASHION_DIRS if os.path.isdir(d)), None)
    if folder and find_idx_files(folder):
        accuracy("fashion_cnn", FASHION_TARGET, dataset_options={"data_dir": folder})
    else:
        print("fashion_cnn: skipped (no Fashion-MNIST IDX files: apt-get install "
              "dataset-fashion-mnist, or --data-dir FOLDER)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
