"""Weight initialisers: ``init(rng, n_in, n_out, dtype) -> (W, b)``.

``he`` and ``xavier`` give zero biases; the tutorials' own initialisers draw the biases
from the same distribution as the weights, as those texts did.
"""
from __future__ import annotations

import numpy as np


def _he(rng, n_in, n_out):
    return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in), np.zeros(n_out)


def _xavier(rng, n_in, n_out):
    lim = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-lim, lim, (n_in, n_out)), np.zeros(n_out)


def _same(draw):
    def init(rng, n_in, n_out):
        return draw(rng, (n_in, n_out)), draw(rng, (n_out,))
    return init


INITIALIZERS = {
    "he": _he,                                                     # He et al. 2015
    "xavier": _xavier,                                             # Glorot & Bengio 2010
    "uniform": _same(lambda rng, s: rng.uniform(-1.0, 1.0, s)),    # tutorial 2
    "uniform01": _same(lambda rng, s: rng.uniform(0.0, 1.0, s)),   # tutorial 3
    "randn": _same(lambda rng, s: rng.standard_normal(s)),         # tutorials 1 and 5
    "normal01": _same(lambda rng, s: rng.normal(0.0, 0.1, s)),     # tutorial 4
}


def check_init(name: str) -> str:
    if name not in INITIALIZERS and name != "auto":
        raise ValueError(f"unknown init {name!r}; valid: auto, {', '.join(INITIALIZERS)}")
    return name


def default_init(activation: str) -> str:
    """He for the ReLU family, Xavier for the rest."""
    return "he" if activation in ("relu", "leaky_relu") else "xavier"
