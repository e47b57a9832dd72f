"""Losses and their gradient with respect to the output layer's pre-activation.

``mse`` is the mean over all elements, as PyTorch's ``MSELoss``; ``sse`` is half the
summed squared error, the cost the classic tutorials used. ``cross_entropy`` is the
mean over samples; it is fused with the output activation for a stable gradient:
categorical with softmax, binary (per output) with sigmoid.
"""
from __future__ import annotations

import numpy as np

from .activations import ACTIVATIONS, softmax_backward


def _log_softmax(z):
    s = z - z.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def mse(z, a, y, activation):
    """Mean squared error over all elements and ``dL/dz`` (both shaped like ``a``)."""
    diff = a - y
    with np.errstate(over="ignore"):      # an exploding run is reported by the trainer
        loss = float(np.mean(diff * diff, dtype=np.float64))
    grad_a = diff * a.dtype.type(2.0 / diff.size)
    if activation == "softmax":
        return loss, softmax_backward(a, grad_a)
    return loss, grad_a * ACTIVATIONS[activation][1](z, a)


def cross_entropy(z, a, y, activation):
    """Cross-entropy, mean over samples, and ``dL/dz = (a - y) / n``."""
    n = a.shape[0]
    if activation == "softmax":
        loss = -float(np.sum(y * _log_softmax(z), dtype=np.float64)) / n
    elif activation == "sigmoid":
        # -[y log s(z) + (1-y) log(1-s(z))] = softplus(z) - y z, stable for large |z|.
        loss = float(np.sum(np.logaddexp(0, z) - y * z, dtype=np.float64)) / n
    else:
        raise ValueError(
            f"cross_entropy needs a softmax or sigmoid output layer, got {activation!r}")
    return loss, (a - y) * a.dtype.type(1.0 / n)


def sse(z, a, y, activation):
    """Half the sum of squared errors over samples and outputs (the tutorials' cost:
    "error = target - output" as the gradient), and ``dL/dz``."""
    diff = a - y
    loss = 0.5 * float(np.vdot(diff, diff))
    if activation == "softmax":
        return loss, softmax_backward(a, diff)
    return loss, diff * ACTIVATIONS[activation][1](z, a)


LOSSES = {"mse": mse, "cross_entropy": cross_entropy, "sse": sse}


def check_loss(name: str, output_activation: str | None = None) -> str:
    """Validate a loss name (and its pairing with the output activation)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid: {', '.join(LOSSES)}")
    if name == "cross_entropy" and output_activation not in (None, "softmax", "sigmoid"):
        raise ValueError("loss 'cross_entropy' needs a softmax or sigmoid output layer, "
                         f"got {output_activation!r}")
    return name
