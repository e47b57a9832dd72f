"""Activation functions, each a forward ``f(z)`` beside its derivative ``df(z, a)``.

``df`` receives both the pre-activation ``z`` and the activation ``a = f(z)`` so that
each derivative can use whichever is cheaper (sigmoid and tanh use ``a``). All
functions work elementwise on arrays of any shape, except softmax, which works on
rows of a 2-D array and has a Jacobian-vector product instead of an elementwise
derivative.
"""
from __future__ import annotations

import numpy as np

LEAKY_SLOPE = 0.01


def _sigmoid(z):
    # 1 / (1 + e^-z) written through tanh: one ufunc, and no overflow for large |z|.
    out = np.tanh(z * z.dtype.type(0.5))
    out *= z.dtype.type(0.5)
    out += z.dtype.type(0.5)
    return out


def _softplus(z):
    return np.logaddexp(0, z).astype(z.dtype, copy=False)


def _relu(z):
    return np.maximum(z, 0)


def _leaky_relu(z):
    return np.where(z > 0, z, z * z.dtype.type(LEAKY_SLOPE))


def softmax(z):
    """Row-wise softmax of ``z`` (n_samples, n_classes), shifted by the row max."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def softmax_backward(a, grad_a):
    """Gradient w.r.t. the logits given ``a = softmax(z)`` and ``dL/da`` (both (n, k))."""
    return a * (grad_a - (grad_a * a).sum(axis=1, keepdims=True))


# name -> (f(z), df(z, a)); df is the elementwise derivative da/dz.
ACTIVATIONS = {
    "sigmoid": (_sigmoid, lambda z, a: a * (1 - a)),
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
    "relu": (_relu, lambda z, a: (z > 0).astype(z.dtype)),
    "leaky_relu": (_leaky_relu, lambda z, a: np.where(z > 0, 1, LEAKY_SLOPE).astype(z.dtype)),
    "softplus": (_softplus, lambda z, a: _sigmoid(z)),
    "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
    "softmax": (softmax, None),
}


def check_activation(name: str) -> str:
    """Return ``name`` if it is a known activation, else raise ValueError listing them."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return name
