"""Named presets: every network of the classic tutorials, faithful to its text, plus a
modern variant of each MNIST one, small convolutional nets, and the per-dataset defaults
of the CLI and app.

The tutorials' "error = target - output" updates are the gradient of half the summed
squared error, so their learning rates are used as printed with ``loss="sse"``.
"""
from __future__ import annotations

from .config import RunConfig
from .datasets import get_spec

MODERN = dict(activations=None, init="auto", loss="cross_entropy", optimizer="adam", lr=0.001,
              batch="mini", batch_size=64, biases=True, shuffle=True)

LENET = ["conv 8@5x5", "pool 2", "conv 16@5x5", "pool 2", 64]

PRESETS = {
    "xor_9line": dict(
        tutorial="2. Simple Python Neural Network Example",
        description="3-4-1, sigmoid, no biases, uniform(-1,1), full batch, lr 1, 10,000 iterations",
        expected="outputs ~ [0.005, 0.989, 0.987, 0.014]",
        modern="xor_9line_modern",
        config=dict(dataset="xor3", hidden=[4], activations=["sigmoid", "sigmoid"], biases=False,
                    init="uniform", loss="sse", optimizer="sgd", lr=1.0, batch="full",
                    epochs=100, passes_per_epoch=100)),
    "xor_9line_6": dict(
        tutorial="2. Simple Python Neural Network Example",
        description="the same with 6 hidden units: 3-6-1",
        expected="outputs close to [0, 1, 1, 0]",
        config=dict(dataset="xor3", hidden=[6], activations=["sigmoid", "sigmoid"], biases=False,
                    init="uniform", loss="sse", optimizer="sgd", lr=1.0, batch="full",
                    epochs=100, passes_per_epoch=100)),
    "xor_modified": dict(
        tutorial="3. Implementing a neural network (biases, perturbation)",
        description="modified XOR 3-4-2, sigmoid, biases, uniform[0,1), online, lr 0.05, 100,000 passes",
        expected="the tutorial's cost (mean over the 8 samples of the summed squared error) "
                 "~ 0.0016, which is a loss (sse) of ~ 0.0064 as this app shows it",
        modern="xor_modified_modern",
        config=dict(dataset="modified_xor", hidden=[4], activations=["sigmoid", "sigmoid"],
                    init="uniform01", loss="sse", optimizer="sgd", lr=0.05, batch="online",
                    shuffle=False, epochs=100, passes_per_epoch=1000)),
    "xor_backprop": dict(
        tutorial="4. A Simple Neural Network - With Numpy in Python",
        description="XOR 2-2-1, sigmoid, bias nodes, normal(0,0.1), full batch, lr 0.2, "
                    "100,000 iterations or error <= 1e-5",
        expected="a loss (sse, half the summed squared residuals) of ~ 0.00022 after 100,000 "
                 "iterations, outputs ~ [0.011, 0.010, 0.990, 0.990] (the tutorial printed an "
                 "error, the full sum, of ~ 0.00029 and outputs ~ [0.008, 0.010, 0.992, 0.992])",
        modern="xor_backprop_modern",
        config=dict(dataset="xor", hidden=[2], activations=["sigmoid", "sigmoid"], init="normal01",
                    loss="sse", optimizer="sgd", lr=0.2, batch="full", epochs=100,
                    passes_per_epoch=1000, target_loss=0.5e-5)),
    # the XOR nets, modern: ReLU units (a few more: on a tiny net some die), cross-entropy,
    # Adam; the data is a handful of rows, so a batch is all of it
    "xor_9line_modern": dict(
        description="3-8-1 with ReLU, sigmoid output + cross-entropy, Adam 0.05, full batch",
        expected="every row right within a few epochs (10 steps each), loss < 0.001",
        config=dict(dataset="xor3", hidden=[8], epochs=100, passes_per_epoch=10,
                    **{**MODERN, "lr": 0.05})),
    "xor_modified_modern": dict(
        description="3-16-2 with ReLU, sigmoid outputs + cross-entropy, Adam 0.05, full batch",
        expected="all 8 rows right within ~10 epochs (10 steps each), loss < 0.001",
        config=dict(dataset="modified_xor", hidden=[16], epochs=100, passes_per_epoch=10,
                    **{**MODERN, "lr": 0.05})),
    "xor_backprop_modern": dict(
        description="2-8-1 with ReLU, sigmoid output + cross-entropy, Adam 0.05, full batch",
        expected="every row right within a few epochs (10 steps each), loss < 0.001",
        config=dict(dataset="xor", hidden=[8], epochs=100, passes_per_epoch=10,
                    **{**MODERN, "lr": 0.05})),
    "mnist_nlayer": dict(
        tutorial="1. Neural Networks in Numpy (N-layer)",
        description="784-512-256-16-10, sigmoid everywhere, randn weights, lr 0.01, full batch on "
                    "1,000 binarised images, 100 loops",
        expected="saturated sigmoids: learns little (its weakness); compare mnist_nlayer_modern",
        modern="mnist_nlayer_modern",
        config=dict(dataset="mnist_sample", dataset_options={"binarize": True, "limit": 1000},
                    hidden=[512, 256, 16], activations=["sigmoid"] * 4, init="randn", loss="sse",
                    optimizer="sgd", lr=0.01, batch="full", epochs=100)),
    "mnist_200": dict(
        tutorial="3. Implementing a neural network (biases, perturbation)",
        description="784-200-10, sigmoid, uniform[0,1), mini-batches of 100, lr 0.001",
        expected="only ~25-38% right after thousands of steps; compare mnist_200_modern",
        modern="mnist_200_modern",
        config=dict(dataset="mnist_sample", hidden=[200], activations=["sigmoid", "sigmoid"],
                    init="uniform01", loss="sse", optimizer="sgd", lr=0.001, batch="mini",
                    batch_size=100, epochs=50)),
    "mnist_perturb": dict(
        tutorial="3. Implementing a neural network (biases, perturbation)",
        description="784-200-10 trained by the random-perturbation hill climber, batches of 100, lr 0.001",
        expected="stays at chance (~10%); compare mnist_200_modern",
        modern="mnist_200_modern",
        config=dict(dataset="mnist_sample", hidden=[200], activations=["sigmoid", "sigmoid"],
                    init="uniform01", loss="sse", optimizer="perturb", lr=0.001, batch="mini",
                    batch_size=100, epochs=5)),
    "mnist_synapses": dict(
        tutorial="5. Implementing a neural network from scratch (JSON export)",
        description="784-32-10 (one hidden layer; the text gives no width), sigmoid, randn synapses, "
                    "80/20 split, online",
        expected="no published result; randn synapses saturate the sigmoids",
        modern="mnist_synapses_modern",
        config=dict(dataset="mnist_sample", dataset_options={"test_fraction": 0.2}, hidden=[32],
                    activations=["sigmoid", "sigmoid"], init="randn", loss="sse", optimizer="sgd",
                    lr=0.1, batch="online", epochs=10)),
    "mnist_nlayer_modern": dict(
        description="784-512-256-16-10 with ReLU, softmax + cross-entropy, Adam 1e-3, batches of 64",
        expected="~93-95% on the held-out digits",
        config=dict(dataset="mnist_sample", hidden=[512, 256, 16], epochs=20, **MODERN)),
    "mnist_200_modern": dict(
        description="784-200-10 with ReLU, softmax + cross-entropy, Adam 1e-3, batches of 64",
        expected="~93-95% on the held-out digits",
        config=dict(dataset="mnist_sample", hidden=[200], epochs=20, **MODERN)),
    "mnist_synapses_modern": dict(
        description="784-32-10 with ReLU, softmax + cross-entropy, Adam 1e-3, batches of 64",
        expected="~91-93% on the held-out digits",
        config=dict(dataset="mnist_sample", dataset_options={"test_fraction": 0.2}, hidden=[32],
                    epochs=20, **MODERN)),
    "mnist_modern": dict(
        description="the default MNIST network: 784-256-128-10, ReLU, Adam, shifted digits",
        expected=">= 95% on the held-out digits in 20 epochs",
        config=dict(dataset="mnist_sample", dataset_options={"augment_shift": 2},
                    hidden=[256, 128], epochs=20, **MODERN)),
    "mnist_cnn": dict(
        description="a small LeNet: conv 8@5x5, pool 2, conv 16@5x5, pool 2, 64, ReLU, Adam 1e-3, "
                    "batches of 64, 10 epochs",
        expected=">= 98% on the held-out digits in 10 epochs",
        config=dict(dataset="mnist_sample", hidden=LENET, epochs=10, **MODERN)),
    "fashion_cnn": dict(
        description="the same small LeNet on the full Fashion-MNIST (Debian's "
                    "dataset-fashion-mnist or a folder of IDX files): 10 epochs",
        expected=">= 91% on the 10,000 test images in 10 epochs",
        config=dict(dataset="fashion_mnist", hidden=LENET, epochs=10, **MODERN)),
    "digits_cnn": dict(
        description="8x8 digits through conv 16@3x3, pool 2, 32, ReLU, Adam 1e-3, batches of 32",
        expected="~97-98% on the held-out digits in 40 epochs",
        config=dict(dataset="digits", hidden=["conv 16@3x3", "pool 2", 32], epochs=40,
                    **{**MODERN, "batch_size": 32})),
}

# Modern settings per kind of dataset: what `train --dataset NAME` and the app start from.
_KIND_DEFAULTS = {
    "logic": dict(hidden=[4], activations=None, loss="cross_entropy", optimizer="adam", lr=0.05,
                  batch="full", epochs=200),
    "points": dict(hidden=[16, 8], loss="cross_entropy", optimizer="adam", lr=0.01, batch="mini",
                   batch_size=32, epochs=100),
    "image": dict(hidden=[256, 128], loss="cross_entropy", optimizer="adam", lr=0.001,
                  batch="mini", batch_size=64, epochs=20),
    "table": dict(hidden=[32], loss="cross_entropy", optimizer="adam", lr=0.01, batch="mini",
                  batch_size=32, epochs=100),
}
_DATASET_DEFAULTS = {"mnist_sample": {"dataset_options": {"augment_shift": 2}},
                     "digits": {"hidden": [64], "epochs": 40}}


def get_preset(name) -> dict:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_config(name, **overrides) -> RunConfig:
    """The RunConfig of preset ``name`` (overrides applied on top)."""
    return RunConfig.from_dict({**get_preset(name)["config"], **overrides})


def default_config(dataset, **overrides) -> RunConfig:
    """Modern defaults for ``dataset`` (overrides applied on top)."""
    kind = get_spec(dataset).kind
    base = {"dataset": dataset, **_KIND_DEFAULTS[kind], **_DATASET_DEFAULTS.get(dataset, {})}
    return RunConfig.from_dict({**base, **overrides})


def total_iterations(cfg: RunConfig) -> int:
    return cfg.epochs * cfg.passes_per_epoch
