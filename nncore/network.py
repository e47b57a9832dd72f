"""A fully connected network whose parameters live in one flat buffer.

Every layer's ``weights`` (n_in, n_out) and ``biases`` (n_out,) are views into
``Network.params``; their gradients are views into ``Network.grads``. Optimisers update
the flat buffers in place, one call per operation.

The training step allocates nothing: activations, deltas and scratch arrays are kept per
batch size (``Network._entry``), softmax is fused with cross-entropy, and bias gradients and
softmax sums go through BLAS. tests/test_speed_paths.py checks all of it against a plain
NumPy reference.
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


def count_params(sizes, biases=True) -> int:
    """Weights and biases of a network of ``sizes``; ``biases`` for all layers or per layer."""
    per_layer = [biases] * (len(sizes) - 1) if isinstance(biases, (bool, np.bool_)) else biases
    return sum(i * o + (o if b else 0) for i, o, b in zip(sizes, sizes[1:], per_layer))


def multiply_adds(sizes) -> int:
    """Multiply-adds of one forward pass of one sample through a network of ``sizes``
    (dense layers: ``n_in * n_out`` each). A training step costs about three times this
    (forward, and the two products of the backward pass)."""
    return sum(int(i) * int(o) for i, o in zip(sizes, sizes[1:]))


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

    def forward(self, x, z, a, work=None):
        """Fill ``z`` (n, n_out) with x @ W + b and ``a`` with f(z); return ``a``.

        ``work`` (optional, from :meth:`Network._entry`) holds preallocated scratch arrays
        so that the training loop allocates nothing.
        """
        np.matmul(x, self._W, out=z)
        if self.use_bias:
            z += self._b
        name = self.activation
        if name == "relu":
            # max against a zero array of the same shape is ~3x faster than against 0.
            np.maximum(z, 0 if work is None else work.zeros, out=a)
        elif name == "softmax":
            if work is None:
                a[...] = softmax(z)
            else:
                # Row max through a transposed copy (a reduction over the long axis is
                # ~4x faster for few classes) and row sums through BLAS.
                np.copyto(work.z_t, z.T)
                np.maximum.reduce(work.z_t, axis=0, out=work.row_max[:, 0])
                np.subtract(z, work.row_max, out=a)
                np.exp(a, out=a)
                np.matmul(a, work.ones_k, out=work.row_sum)
                a /= work.row_sum
        else:
            a[...] = ACTIVATIONS[name][0](z)
        return a

    def backward(self, x, delta, grad_x=None, work=None):
        """Given ``delta = dL/dz`` (n, n_out), fill dW, db and ``grad_x = dL/dx``."""
        np.matmul(x.T, delta, out=self._dW)
        if self.use_bias:
            if work is None:
                np.add.reduce(delta, axis=0, out=self._db)
            else:
                np.matmul(work.ones_n, delta, out=self._db)    # column sums through BLAS
        if grad_x is not None:
            np.matmul(delta, self._W.T, out=grad_x)
        return grad_x

    def __repr__(self):
        bias = "" if self.use_bias else ", no bias"
        return f"Dense({self.n_in}->{self.n_out}, {self.activation}{bias})"


class _Work:
    """Scratch arrays of one layer for batches of ``n`` samples (see Network._entry)."""

    def __init__(self, n, layer, dtype):
        self.ones_n = np.ones(n, dtype)
        if layer.activation == "relu":
            self.zeros = np.zeros((n, layer.n_out), dtype)
            self.mask = np.empty((n, layer.n_out), bool)
        elif layer.activation == "softmax":
            self.row_max, self.row_sum, self.log_sum = (np.empty((n, 1), dtype) for _ in range(3))
            self.z_t = np.empty((layer.n_out, n), dtype)
            self.ones_k = np.ones((layer.n_out, 1), dtype)


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
        total = count_params(self.sizes, biases)
        self.params = np.zeros(total, self.dtype)
        self.grads = np.zeros(total, self.dtype)
        self.layers, off = [], 0
        for i, o, act, b in zip(self.sizes, self.sizes[1:], activations, biases):
            layer = Dense(i, o, act, b, self.params, self.grads, off)
            self.layers.append(layer)
            off = layer.slice.stop
        self._buffers, self._masks = {}, []
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

    def clone(self, flat=None) -> "Network":
        """A new Network shaped like this one holding ``flat`` (or a copy of the current
        parameters); this one is never touched, so a live run stays safe."""
        other = Network(self.sizes, self.activations, self.use_biases, self.init, 0,
                        self.dtype.name)
        other.params[...] = self.params if flat is None else flat
        return other

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
    def _entry(self, n):
        """Preallocated arrays for batches of ``n`` samples: ``(bufs, work)``, where
        ``bufs[i] = (z, a, delta)`` of layer i and ``work[i]`` its :class:`_Work`."""
        entry = self._buffers.get(n)
        if entry is None:
            if len(self._buffers) >= 4:
                self._buffers.clear()
            entry = self._buffers[n] = (
                [(np.empty((n, l.n_out), self.dtype), np.empty((n, l.n_out), self.dtype),
                  np.empty((n, l.n_out), self.dtype)) for l in self.layers],
                [_Work(n, l, self.dtype) for l in self.layers])
        return entry

    def _bufs(self, n):
        """Preallocated (z, a, delta) per layer for batches of ``n`` samples."""
        return self._entry(n)[0]

    # -- forward / backward -----------------------------------------------------------
    def forward(self, X, dropout=0.0, rng=None):
        """Run ``X`` (n, n_in) through the net; return the list of (z, a) per layer.

        With ``dropout > 0`` (training), hidden activations are zeroed with that
        probability and the rest scaled by ``1 / (1 - dropout)``; the masks are kept for
        the backward pass. The returned arrays are reused by the next call.
        """
        return [(z, a) for z, a, _ in self._forward(X, dropout, rng)]

    def _forward(self, X, dropout=0.0, rng=None):
        bufs, work = self._entry(X.shape[0])
        self._masks = masks = []
        a, last = X, self.layers[-1]
        for layer, (z, out, _), w in zip(self.layers, bufs, work):
            a = layer.forward(a, z, out, w)
            if dropout > 0 and layer is not last:
                keep = (rng.random(a.shape) >= dropout).astype(self.dtype)
                keep *= self.dtype.type(1.0 / (1.0 - dropout))
                a *= keep
                masks.append(keep)
        return bufs

    def backward(self, X, Y, loss="cross_entropy", l2=0.0):
        """Fill ``self.grads`` after :meth:`forward` on ``X``; return the data loss."""
        bufs, work = self._entry(X.shape[0])
        layers, masks = self.layers, self._masks
        z, a, delta = bufs[-1]
        if loss == "cross_entropy" and layers[-1].activation == "softmax":
            value = self._softmax_cross_entropy(z, a, Y, delta, work[-1])
        else:
            value, d = LOSSES[loss](z, a, Y, layers[-1].activation)
            delta[...] = d
        for i in range(len(layers) - 1, 0, -1):
            pz, pa, grad_x = bufs[i - 1]
            layers[i].backward(pa, delta, grad_x, work[i])
            if masks:
                grad_x *= masks[i - 1]
            act = layers[i - 1].activation
            if act == "relu":
                mask = work[i - 1].mask
                np.greater(pz, 0, out=mask)
                np.multiply(grad_x, mask, out=grad_x)
            elif act != "linear":
                grad_x *= ACTIVATIONS[act][1](pz, pa)
            delta = grad_x
        layers[0].backward(X, delta, None, work[0])
        if l2:
            for layer in layers:
                layer._dW += self.dtype.type(l2) * layer.weights
        return value

    @staticmethod
    def _softmax_cross_entropy(z, a, Y, delta, work):
        """Mean cross-entropy of softmax outputs ``a`` (from :meth:`forward`, whose row
        max and row sum of exp(z - max) are in ``work``); ``delta`` gets (a - Y) / n."""
        n = z.shape[0]
        log_p = delta                                  # scratch until delta is written
        np.subtract(z, work.row_max, out=log_p)
        np.log(work.row_sum, out=work.log_sum)
        log_p -= work.log_sum                          # log softmax(z)
        value = -float(np.vdot(Y, log_p)) / n
        np.subtract(a, Y, out=delta)
        delta *= delta.dtype.type(1.0 / n)
        return value

    def loss_and_grads(self, X, Y, loss="cross_entropy", l2=0.0, dropout=0.0, rng=None):
        """Forward and backward on one batch; gradients land in ``self.grads``."""
        self._forward(X, dropout, rng)
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
            z, a, _ = self._forward(xb)[-1]
            value, _ = LOSSES[loss](z, a, yb, self.activations[-1])
            total += value * xb.shape[0]
        return total / max(X.shape[0], 1)

    def predict(self, X, batch=4096):
        """Output activations (n_samples, n_out) for inputs ``X`` (n_samples, n_in)."""
        X = self._as_input(X)
        out = np.empty((X.shape[0], self.sizes[-1]), self.dtype)
        for s in range(0, X.shape[0], batch):
            out[s:s + batch] = self._forward(X[s:s + batch])[-1][1]
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
