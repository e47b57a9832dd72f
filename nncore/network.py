"""A fully connected network whose parameters live in one flat buffer.

Every layer's ``weights`` (n_in, n_out) and ``biases`` (n_out,) are views into
``Network.params``; their gradients are views into ``Network.grads``. Optimisers update
the flat buffers in place, one call per operation.
"""
from __future__ import annotations

import numpy as np

from .activations import ACTIVATIONS, check_activation, softmax
from .initializers import INITIALIZERS, check_init, default_init
from .losses import LOSSES, check_loss

DTYPES = ("float32", "float64")


def check_sizes(sizes) -> list[int]:
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output size, got {sizes}")
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
               for s in sizes):
        raise ValueError(f"layer sizes must be positive integers, got {sizes}")
    return [int(s) for s in sizes]


class Dense:
    """One dense layer: ``a = f(x @ W + b)``. Weights and biases are views."""

    def __init__(self, n_in, n_out, activation, use_bias, params, grads, offset):
        self.n_in, self.n_out = n_in, n_out
        self.activation, self.use_bias = activation, use_bias
        end = offset + n_in * n_out
        self._W, self._dW = params[offset:end].reshape(n_in, n_out), grads[offset:end].reshape(n_in, n_out)
        if use_bias:
            self._b, self._db = params[end:end + n_out], grads[end:end + n_out]
            end += n_out
        else:
            self._b = np.zeros(n_out, params.dtype)
            self._b.flags.writeable = False
            self._db = np.zeros(n_out, params.dtype)
        self.slice = slice(offset, end)
        self.weight_slice = slice(offset, offset + n_in * n_out)

    @property
    def weights(self):
        return self._W

    @weights.setter
    def weights(self, value):
        self._W[...] = value

    @property
    def biases(self):
        return self._b

    @biases.setter
    def biases(self, value):
        if not self.use_bias:
            raise ValueError("this layer has no biases (use_bias=False)")
        self._b[...] = value

    @property
    def n_params(self):
        return self.n_in * self.n_out + (self.n_out if self.use_bias else 0)

    def forward(self, x, z, a):
        """Fill ``z`` (n, n_out) with x @ W + b and ``a`` with f(z); return ``a``."""
        np.matmul(x, self._W, out=z)
        if self.use_bias:
            z += self._b
        name = self.activation
        if name == "relu":
            np.maximum(z, 0, out=a)
        elif name == "softmax":
            np.subtract(z, z.max(axis=1, keepdims=True), out=a)
            np.exp(a, out=a)
            a /= a.sum(axis=1, keepdims=True)
        else:
            a[...] = ACTIVATIONS[name][0](z)
        return a

    def backward(self, x, delta, grad_x=None):
        """Given ``delta = dL/dz`` (n, n_out), fill dW, db and ``grad_x = dL/dx``."""
        np.matmul(x.T, delta, out=self._dW)
        if self.use_bias:
            delta.sum(axis=0, out=self._db)
        if grad_x is not None:
            np.matmul(delta, self._W.T, out=grad_x)
        return grad_x

    def __repr__(self):
        bias = "" if self.use_bias else ", no bias"
        return f"Dense({self.n_in}->{self.n_out}, {self.activation}{bias})"


class Network:
    """A stack of dense layers.

    Parameters
    ----------
    sizes : list of int
        Layer widths including input and output, e.g. ``[784, 128, 10]``.
    activations : list of str, optional
        One per layer (``len(sizes) - 1``). Default: relu for hidden layers, softmax
        for a multi-unit output, sigmoid for a single unit.
    biases : bool or list of bool
        Bias switch, for all layers or per layer.
    init : str
        Initialiser name (``auto`` = He for ReLU layers, Xavier otherwise).
    seed : int or np.random.Generator
        Source of the initial weights.
    dtype : {"float32", "float64"}
    """

    def __init__(self, sizes, activations=None, biases=True, init="auto", seed=0,
                 dtype="float32"):
        self.sizes = check_sizes(sizes)
        n_layers = len(self.sizes) - 1
        if activations is None:
            out = "softmax" if self.sizes[-1] > 1 else "sigmoid"
            activations = ["relu"] * (n_layers - 1) + [out]
        activations = list(activations)
        if len(activations) != n_layers:
            raise ValueError(f"need {n_layers} activations (one per layer), got {len(activations)}: "
                             f"{activations}")
        for name in activations:
            check_activation(name)
        if "softmax" in activations[:-1]:
            raise ValueError("softmax is only allowed on the output layer")
        if isinstance(biases, (bool, np.bool_)):
            biases = [bool(biases)] * n_layers
        biases = [bool(b) for b in biases]
        if len(biases) != n_layers:
            raise ValueError(f"need {n_layers} bias switches, got {len(biases)}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        self.init = check_init(init)
        self.dtype = np.dtype(dtype)
        self.activations, self.use_biases = activations, biases
        total = sum(i * o + (o if b else 0) for i, o, b in zip(self.sizes, self.sizes[1:], biases))
        self.params = np.zeros(total, self.dtype)
        self.grads = np.zeros(total, self.dtype)
        self.layers, off = [], 0
        for i, o, act, b in zip(self.sizes, self.sizes[1:], activations, biases):
            layer = Dense(i, o, act, b, self.params, self.grads, off)
            self.layers.append(layer)
            off = layer.slice.stop
        self._buffers = {}
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.initialize(rng)

    def initialize(self, rng):
        """Draw fresh weights from ``rng`` with this network's initialiser."""
        for layer in self.layers:
            name = default_init(layer.activation) if self.init == "auto" else self.init
            W, b = INITIALIZERS[name](rng, layer.n_in, layer.n_out)
            layer.weights[...] = W
            if layer.use_bias:
                layer.biases[...] = b

    @property
    def n_params(self):
        return self.params.size

    def unflatten(self, flat):
        """Split a flat parameter vector (e.g. from a History) into [(W, b), ...] views."""
        out = []
        for l in self.layers:
            W = flat[l.weight_slice].reshape(l.n_in, l.n_out)
            b = flat[l.weight_slice.stop:l.slice.stop] if l.use_bias else np.zeros(l.n_out, flat.dtype)
            out.append((W, b))
        return out

    def get_config(self):
        return {"sizes": self.sizes, "activations": self.activations,
                "biases": self.use_biases, "init": self.init, "dtype": self.dtype.name}

    def __repr__(self):
        return f"Network({self.sizes}, {self.activations}, params={self.n_params})"

    # -- buffers ---------------------------------------------------------------------
    def _bufs(self, n):
        """Preallocated (z, a, delta) per layer for batches of ``n`` samples."""
        bufs = self._buffers.get(n)
        if bufs is None:
            if len(self._buffers) >= 4:
                self._buffers.clear()
            bufs = [(np.empty((n, l.n_out), self.dtype), np.empty((n, l.n_out), self.dtype),
                     np.empty((n, l.n_out), self.dtype)) for l in self.layers]
            self._buffers[n] = bufs
        return bufs

    # -- forward / backward -----------------------------------------------------------
    def forward(self, X, dropout=0.0, rng=None):
        """Run ``X`` (n, n_in) through the net; return the list of (z, a) per layer.

        With ``dropout > 0`` (training), hidden activations are zeroed with that
        probability and the rest scaled by ``1 / (1 - dropout)``; the masks are kept for
        the backward pass. The returned arrays are reused by the next call.
        """
        bufs = self._bufs(X.shape[0])
        self._masks = []
        a = X
        for i, (layer, (z, out, _)) in enumerate(zip(self.layers, bufs)):
            a = layer.forward(a, z, out)
            if dropout > 0 and i < len(self.layers) - 1:
                keep = (rng.random(a.shape) >= dropout).astype(self.dtype)
                keep *= self.dtype.type(1.0 / (1.0 - dropout))
                a *= keep
                self._masks.append(keep)
        return [(z, out) for z, out, _ in bufs]

    def backward(self, X, Y, loss="cross_entropy", l2=0.0):
        """Fill ``self.grads`` after :meth:`forward` on ``X``; return the data loss."""
        bufs = self._bufs(X.shape[0])
        last = self.layers[-1]
        z, a, _ = bufs[-1]
        value, delta = LOSSES[loss](z, a, Y, last.activation)
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            x = X if i == 0 else bufs[i - 1][1]
            grad_x = None if i == 0 else bufs[i - 1][2]
            layer.backward(x, delta, grad_x)
            if i > 0:
                prev = self.layers[i - 1]
                pz, pa, _ = bufs[i - 1]
                if self._masks:
                    grad_x *= self._masks[i - 1]
                if prev.activation == "relu":
                    grad_x *= pz > 0
                elif prev.activation != "linear":
                    grad_x *= ACTIVATIONS[prev.activation][1](pz, pa)
                delta = grad_x
        if l2:
            for layer in self.layers:
                layer._dW += self.dtype.type(l2) * layer.weights
        return value

    def loss_and_grads(self, X, Y, loss="cross_entropy", l2=0.0, dropout=0.0, rng=None):
        """Forward and backward on one batch; gradients land in ``self.grads``."""
        self.forward(X, dropout, rng)
        return self.backward(X, Y, loss, l2)

    def gradients(self, X, Y, loss="cross_entropy", l2=0.0):
        """Return ``[(dW, db), ...]`` (copies) of the mean loss over ``X`` (n, n_in)."""
        X, Y = self._as_input(X), np.asarray(Y, self.dtype)
        check_loss(loss, self.activations[-1])
        self.loss_and_grads(X, Y, loss, l2)
        return [(l._dW.copy(), l._db.copy()) for l in self.layers]

    def loss(self, X, Y, loss="cross_entropy", batch=4096):
        """Mean data loss over ``X``, evaluated in batches."""
        X, Y = self._as_input(X), np.asarray(Y, self.dtype)
        total = 0.0
        for s in range(0, X.shape[0], batch):
            xb, yb = X[s:s + batch], Y[s:s + batch]
            z, a = self.forward(xb)[-1]
            value, _ = LOSSES[loss](z, a, yb, self.activations[-1])
            total += value * xb.shape[0]
        return total / max(X.shape[0], 1)

    def predict(self, X, batch=4096):
        """Output activations (n_samples, n_out) for inputs ``X`` (n_samples, n_in)."""
        X = self._as_input(X)
        out = np.empty((X.shape[0], self.sizes[-1]), self.dtype)
        for s in range(0, X.shape[0], batch):
            out[s:s + batch] = self.forward(X[s:s + batch])[-1][1]
        return out

    def layer_outputs(self, X):
        """Copies of every layer's (weighted sum, activation) for inputs ``X``."""
        return [(z.copy(), a.copy()) for z, a in self.forward(self._as_input(X))]

    def _as_input(self, X):
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"input must have shape (n, {self.sizes[0]}), got {X.shape}")
        return X
