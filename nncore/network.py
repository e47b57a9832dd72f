"""A network whose parameters live in one flat buffer: dense layers, and in front of them
optionally conv and pool layers (nncore/conv.py).

Every dense layer's ``weights`` (n_in, n_out) and ``biases`` (n_out,), and every conv
layer's ``weights`` (out, in, kh, kw) and ``biases`` (out,), are views into
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
from .conv import (
    Conv2D,
    MaxPool2D,
    ParamViews,
    conv_params,
    is_spatial,
    layer_kind,
    layer_shapes,
    parse_input,
    parse_layer,
    shape_text,
)
from .conv import multiply_adds as conv_multiply_adds
from .conv import work_parts as conv_work_parts
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


def parse_spec(sizes):
    """``(n_in, input_shape, layers)`` of a layer list such as ``[784, 128, 10]`` or
    ``["1x28x28", "conv 8@5x5", "pool 2", 64, 10]``: the input size, its (C, H, W) or
    None, and the parsed layer entries (ints for dense, canonical text for conv/pool).
    Raises ValueError naming the token and the shape it met."""
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output size, got {sizes}")
    n_in, shape = parse_input(sizes[0])
    layers = [parse_layer(t) for t in sizes[1:]]
    if not isinstance(layers[-1], int):
        raise ValueError(f"the output layer must be a dense layer (a number of units), got {layers[-1]!r}")
    if is_spatial(layers):
        if shape is None:
            first = next(t for t in layers if not isinstance(t, int))
            raise ValueError(f"{first!r} needs an image input 'CxHxW' (such as '1x28x28'), "
                             f"got {n_in} flat inputs")
        layer_shapes(shape, layers)
    return n_in, shape, layers


def multiply_adds(sizes) -> int:
    """Multiply-adds per sample of one forward pass of a network of ``sizes`` (dense widths
    or a layer list with conv and pool entries): dense in·out per layer, conv C·kh·kw per
    output value, pool none. Training costs about three times this per sample."""
    sizes = list(sizes)
    if all(isinstance(s, (int, np.integer)) for s in sizes):
        return int(sum(int(i) * int(o) for i, o in zip(sizes, sizes[1:])))
    n_in, shape, layers = parse_spec(sizes)
    return conv_multiply_adds(shape if shape is not None else (n_in,), layers)


def work_parts(sizes) -> dict:
    """:func:`multiply_adds` split by kind: ``{"dense": ..., "conv": ..., "map_values": ...}``
    (map values: the outputs of conv and pool layers per sample)."""
    sizes = list(sizes)
    if all(isinstance(s, (int, np.integer)) for s in sizes):
        return {"dense": multiply_adds(sizes), "conv": 0, "map_values": 0}
    n_in, shape, layers = parse_spec(sizes)
    return conv_work_parts(shape if shape is not None else (n_in,), layers)


def count_params(sizes, biases=True) -> int:
    """Weights and biases of a network of ``sizes`` (dense widths, or a layer list with conv
    and pool entries); ``biases`` for all layers or per layer with weights."""
    sizes = list(sizes)
    if all(isinstance(s, (int, np.integer)) for s in sizes):
        per_layer = [biases] * (len(sizes) - 1) if isinstance(biases, (bool, np.bool_)) else biases
        return sum(i * o + (o if b else 0) for i, o, b in zip(sizes, sizes[1:], per_layer))
    n_in, shape, layers = parse_spec(sizes)
    if not is_spatial(layers):
        return count_params([n_in, *layers], biases)
    weighted = [t for t in layers if layer_kind(t) != "pool"]
    per_layer = [biases] * len(weighted) if isinstance(biases, (bool, np.bool_)) else list(biases)
    total, prev, flags = 0, shape, iter(per_layer)
    for tok, out in zip(layers, layer_shapes(shape, layers)):
        kind = layer_kind(tok)
        if kind == "conv":
            k, kh, kw = conv_params(tok)
            total += k * prev[0] * kh * kw + (k if next(flags) else 0)
        elif kind == "dense":
            total += int(np.prod(prev)) * tok + (tok if next(flags) else 0)
        prev = out
    return total


class Dense(ParamViews):
    """One dense layer: ``a = f(x @ W + b)``. Weights and biases are views."""

    kind = "dense"
    flatten_from = None     # (C, H, W) when this layer flattens a conv/pool output

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
        sizes = list(sizes)
        if all(isinstance(s, (int, np.integer)) for s in sizes):
            self.sizes, self.input_shape, spec = check_sizes(sizes), None, None
        else:
            n_in, self.input_shape, spec = parse_spec(sizes)
            if is_spatial(spec):
                self.sizes = [shape_text(self.input_shape), *spec]
            else:
                self.sizes, self.input_shape, spec = [n_in, *spec], None, None
        self.spatial = spec is not None
        n_layers = (len(self.sizes) - 1 if spec is None
                    else sum(layer_kind(t) != "pool" for t in spec))
        if activations is None:
            out = "softmax" if self.sizes[-1] > 1 else "sigmoid"
            activations = ["relu"] * (n_layers - 1) + [out]
        activations = list(activations)
        if len(activations) != n_layers:
            what = "one per layer" if spec is None else "one per conv and dense layer"
            raise ValueError(f"need {n_layers} activations ({what}), got {len(activations)}: "
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
        if spec is None:
            for i, o, act, b in zip(self.sizes, self.sizes[1:], activations, biases):
                layer = Dense(i, o, act, b, self.params, self.grads, off)
                self.layers.append(layer)
                off = layer.slice.stop
        else:
            self._build_spatial(spec, activations, biases)
        self.param_layers = [layer for layer in self.layers if layer.weights is not None]
        self._buffers, self._masks = {}, []
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.initialize(rng)

    def _build_spatial(self, spec, activations, biases):
        acts, flags, off = iter(activations), iter(biases), 0
        prev = self.input_shape
        for tok, out in zip(spec, layer_shapes(self.input_shape, spec)):
            kind = layer_kind(tok)
            if kind == "conv":
                k, kh, kw = conv_params(tok)
                layer = Conv2D(prev, k, kh, kw, next(acts), next(flags), self.params, self.grads, off)
            elif kind == "pool":
                layer = MaxPool2D(prev, int(tok.split()[1]))
            else:
                layer = Dense(int(np.prod(prev)), tok, next(acts), next(flags), self.params,
                              self.grads, off)
                layer.flatten_from = prev if len(prev) == 3 else None
            if layer.weights is not None:
                off = layer.slice.stop
            self.layers.append(layer)
            prev = out

    def initialize(self, rng):
        """Draw fresh weights from ``rng`` with this network's initialiser."""
        for layer in self.param_layers:
            name = default_init(layer.activation) if self.init == "auto" else self.init
            if layer.kind == "conv":
                fan_in, fan_out = layer.fan_in_out
                W, b = INITIALIZERS[name](rng, fan_in, fan_out)
                W = W.T.reshape(layer.weights.shape)
            else:
                W, b = INITIALIZERS[name](rng, layer.n_in, layer.n_out)
            layer.weights[...] = W
            if layer.use_bias:
                layer.biases[...] = b

    @property
    def n_in(self):
        """Input values per sample (C·H·W for an image input)."""
        return self.layers[0].n_in

    @property
    def n_out(self):
        return self.sizes[-1]

    @property
    def n_params(self):
        return self.params.size

    def clone(self, flat=None) -> Network:
        """A new Network shaped like this one holding ``flat`` (or a copy of the current
        parameters); this one is never touched, so a live run stays safe."""
        other = Network(self.sizes, self.activations, self.use_biases, self.init, 0,
                        self.dtype.name)
        other.params[...] = self.params if flat is None else flat
        return other

    def unflatten(self, flat):
        """Split a flat parameter vector (e.g. from a History) into [(W, b), ...] views, one
        per layer with weights (``param_layers``), W shaped as that layer's weights."""
        out = []
        for layer in self.param_layers:
            W = flat[layer.weight_slice].reshape(layer.weights.shape)
            b = (flat[layer.weight_slice.stop:layer.slice.stop] if layer.use_bias
                 else np.zeros(layer.biases.shape, flat.dtype))
            out.append((W, b))
        return out

    def get_config(self):
        return {"sizes": self.sizes, "activations": self.activations,
                "biases": self.use_biases, "init": self.init, "dtype": self.dtype.name}

    def __repr__(self):
        return f"Network({self.sizes}, {self.activations}, params={self.n_params})"

    def multiply_adds(self) -> int:
        """Multiply-adds per sample of one forward pass (see :func:`multiply_adds`)."""
        return multiply_adds(self.sizes)

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
        return self._entry(n)[0] if not self.spatial else self._spatial_entry(n)[0]

    def _spatial_entry(self, n):
        """Like :meth:`_entry` for a net with conv/pool layers: ``(bufs, dicts)`` where
        ``bufs[i] = (z, a, delta)`` (conv and pool ones (C, n·H·W); a pool's z is its
        output, its delta None) and
        ``dicts[i]`` every array layer i uses."""
        entry = self._buffers.get(n)
        if entry is None:
            if len(self._buffers) >= 4:
                self._buffers.clear()
            dicts = []
            for i, layer in enumerate(self.layers):
                if layer.kind == "dense":
                    d = {"z": np.empty((n, layer.n_out), self.dtype), "a": np.empty((n, layer.n_out), self.dtype),
                         "delta": np.empty((n, layer.n_out), self.dtype), "work": _Work(n, layer, self.dtype),
                         "gin": np.empty((n, layer.n_in), self.dtype) if i else None}
                    if layer.flatten_from is not None:
                        c, h, w = layer.flatten_from
                        d["flat"] = np.empty((n, layer.n_in), self.dtype)
                        d["gin4"] = np.empty((c, n, h, w), self.dtype)
                else:
                    d = layer.buffers(n, self.dtype, need_grad_x=i > 0)
                    if layer.kind == "pool":
                        d["z"] = d["a"].reshape(d["a"].shape[0], -1)
                        d["delta"] = None
                if layer.activation == "relu":
                    d["mask"] = np.empty(d["z"].shape, bool)
                dicts.append(d)
            bufs = [(d["z"], d["a"] if layer.kind != "pool" else d["z"], d.get("delta"))
                    for layer, d in zip(self.layers, dicts)]
            entry = self._buffers[n] = (bufs, dicts)
        return entry

    # -- forward / backward -----------------------------------------------------------
    def forward(self, X, dropout=0.0, rng=None):
        """Run ``X`` (n, n_in) through the net; return the list of (z, a) per layer.

        With ``dropout > 0`` (training), hidden activations are zeroed with that
        probability and the rest scaled by ``1 / (1 - dropout)``; the masks are kept for
        the backward pass. The returned arrays are reused by the next call. Conv and pool
        outputs come as (n, C·H·W) channel-major copies (a pool's z is its output).
        """
        bufs = self._forward(X, dropout, rng)
        if not self.spatial:
            return [(z, a) for z, a, _ in bufs]
        n = X.shape[0]
        out = []
        for layer, (z, a, _) in zip(self.layers, bufs):
            if layer.kind != "dense":
                z, a = (self._channel_major(v, layer, n) for v in (z, a))
            out.append((z, a))
        return out

    @staticmethod
    def _channel_major(v, layer, n):
        c, h, w = layer.out_shape
        return np.ascontiguousarray(v.reshape(c, n, h, w).transpose(1, 0, 2, 3)).reshape(n, -1)

    def feature_maps(self, X):
        """The output of every conv and pool layer for inputs ``X``: a list of
        ``(layer index, array (n, C, H, W))``."""
        X = self._as_input(X)
        outs = self.layer_outputs(X)
        return [(i, a.reshape(X.shape[0], *layer.out_shape)) for i, (layer, (_, a))
                in enumerate(zip(self.layers, outs)) if layer.kind != "dense"]

    def _forward(self, X, dropout=0.0, rng=None):
        if self.spatial:
            return self._forward_spatial(X, dropout, rng)
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

    def _forward_spatial(self, X, dropout=0.0, rng=None):
        n = X.shape[0]
        bufs, dicts = self._spatial_entry(n)
        self._masks = masks = {}
        c, h, w = self.input_shape
        a = X.reshape(n, c, h, w).transpose(1, 0, 2, 3)      # channel-first view, no copy
        last = self.layers[-1]
        for i, (layer, d) in enumerate(zip(self.layers, dicts)):
            if layer.kind == "dense":
                if layer.flatten_from is not None:             # channel-major, as torch.flatten
                    np.copyto(d["flat"].reshape(n, *layer.flatten_from), a.transpose(1, 0, 2, 3))
                    a = d["flat"]
                d["x"] = a
                a = layer.forward(a, d["z"], d["a"], d["work"])
            else:
                a = layer.forward(a, d)
            if dropout > 0 and layer.weights is not None and layer is not last:
                # a copy, so that the activation's derivative still sees f(z)
                keep = (rng.random(a.shape) >= dropout).astype(self.dtype)
                keep *= self.dtype.type(1.0 / (1.0 - dropout))
                a = a * keep
                masks[i] = keep
        return bufs

    def _backward_spatial(self, X, Y, loss, l2):
        n = X.shape[0]
        bufs, dicts = self._spatial_entry(n)
        layers, masks = self.layers, self._masks
        z, a, delta = bufs[-1]
        if loss == "cross_entropy" and layers[-1].activation == "softmax":
            value = self._softmax_cross_entropy(z, a, Y, delta, dicts[-1]["work"])
        else:
            value, d = LOSSES[loss](z, a, Y, layers[-1].activation)
            delta[...] = d
        for i in range(len(layers) - 1, -1, -1):
            layer, d = layers[i], dicts[i]
            if layer.kind == "dense":
                g = layer.backward(d["x"], delta, d["gin"], d["work"])
                if g is not None and layer.flatten_from is not None:
                    c, h, w = layer.flatten_from
                    np.copyto(d["gin4"], g.reshape(n, c, h, w).transpose(1, 0, 2, 3))
                    g = d["gin4"]
            else:
                g = layer.backward(delta, d)
            if i == 0:
                break
            prev, pd = layers[i - 1], dicts[i - 1]
            if prev.weights is None:                # a pool: its output gradient goes straight in
                delta = g
                continue
            g = g.reshape(pd["z"].shape)
            if i - 1 in masks:
                g *= masks[i - 1].reshape(g.shape)
            if prev.activation == "relu":
                np.greater(pd["z"], 0, out=pd["mask"])
                g *= pd["mask"]
            elif prev.activation != "linear":
                g *= ACTIVATIONS[prev.activation][1](pd["z"], pd["a"])
            delta = g
        if l2:
            for layer in self.param_layers:
                layer._dW += self.dtype.type(l2) * layer.weights
        return value

    def backward(self, X, Y, loss="cross_entropy", l2=0.0):
        """Fill ``self.grads`` after :meth:`forward` on ``X``; return the data loss."""
        if self.spatial:
            return self._backward_spatial(X, Y, loss, l2)
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
                # dropout scaled pa in place: the derivative needs f(z) itself
                grad_x *= ACTIVATIONS[act][1](pz, ACTIVATIONS[act][0](pz) if masks else pa)
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
        """Return ``[(dW, db), ...]`` (copies) of the mean loss over ``X`` (n, n_in), one
        pair per layer with weights (``param_layers``)."""
        X, Y = self._as_input(X), np.asarray(Y, self.dtype)
        check_loss(loss, self.activations[-1])
        self.loss_and_grads(X, Y, loss, l2)
        return [(layer._dW.copy(), layer._db.copy()) for layer in self.param_layers]

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
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"input must have shape (n, {self.n_in}), got {X.shape}")
        return X
