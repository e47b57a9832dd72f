"""Convolution and max-pooling layers, and the layer grammar they share with dense ones.

Grammar (the Hidden layers text, the CLI's ``--hidden``, presets, ``RunConfig.hidden``):
an integer is a dense layer of that many units, ``"conv K@RxR"`` a valid convolution
(stride 1, with biases) of K filters of R×R over all input channels, ``"pool P"`` a max-pool
of window = stride = P (rows and columns that do not fill a window are dropped, as
PyTorch's ``MaxPool2d``). A network's first entry may be an input shape ``"CxHxW"``.
Conv and pool layers come before the dense ones; the first dense layer flattens its input
in channel-major order (as ``torch.flatten`` of (C, H, W)).

Inside the network a spatial batch is kept channel-first, (C, n, H, W), so that the
im2col of a conv layer is one ``sliding_window_view`` copy, its weighted sum one matrix
product (C·kh·kw deep), and the bias, activation and pooling run along long rows. Conv
weights are (out, in, kh, kw) as PyTorch's.
"""
from __future__ import annotations

import re

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .activations import ACTIVATIONS

MAX_DENSE = 100_000
MAX_CHANNELS = 1024
MAX_KERNEL = 64
MAX_SIDE = 4096
_CONV = re.compile(r"conv\s*(\d{1,5})\s*@\s*(\d{1,3})\s*[x×]\s*(\d{1,3})", re.IGNORECASE)
_POOL = re.compile(r"pool\s*(\d{1,5})", re.IGNORECASE)
_SHAPE = re.compile(r"(\d{1,5})\s*[x×]\s*(\d{1,5})\s*[x×]\s*(\d{1,5})")


def parse_layer(token):
    """One hidden-layer entry as ``int`` (dense) or its canonical text (``"conv 8@5x5"``,
    ``"pool 2"``); raise ValueError naming the token."""
    if isinstance(token, (int, np.integer)) and not isinstance(token, bool):
        if not 0 < token <= MAX_DENSE:
            raise ValueError(f"dense layer size must be from 1 to {MAX_DENSE}, got {int(token)}")
        return int(token)
    if not isinstance(token, str):
        raise ValueError(f"a layer is a whole number, 'conv K@RxR' or 'pool P', got {token!r}")
    text = token.strip()
    if text.isascii() and text.isdigit():
        if len(text) > 6 or not 0 < int(text) <= MAX_DENSE:
            raise ValueError(f"dense layer size must be from 1 to {MAX_DENSE}, got {text[:20]!r}")
        return int(text)
    m = _CONV.fullmatch(text)
    if m:
        k, kh, kw = (int(g) for g in m.groups())
        if not 0 < k <= MAX_CHANNELS:
            raise ValueError(f"{text!r}: the number of filters must be from 1 to {MAX_CHANNELS}, got {k}")
        if not (0 < kh <= MAX_KERNEL and 0 < kw <= MAX_KERNEL):
            raise ValueError(f"{text!r}: the filter size must be from 1x1 to {MAX_KERNEL}x{MAX_KERNEL}, "
                             f"got {kh}x{kw}")
        return f"conv {k}@{kh}x{kw}"
    m = _POOL.fullmatch(text)
    if m:
        p = int(m.group(1))
        if not 0 < p <= MAX_KERNEL:
            raise ValueError(f"{text!r}: the pool size must be from 1 to {MAX_KERNEL}, got {p}")
        return f"pool {p}"
    raise ValueError(f"a layer is a whole number, 'conv K@RxR' or 'pool P', got {text[:30]!r}")


def layer_kind(token) -> str:
    """``dense``, ``conv`` or ``pool`` of a parsed layer entry."""
    return "dense" if isinstance(token, int) else token.split()[0]


def conv_params(token):
    """(filters, kh, kw) of ``"conv K@RxR"``."""
    m = _CONV.fullmatch(token)
    return tuple(int(g) for g in m.groups())


def parse_input(entry):
    """A network's first entry: an int (flat inputs) or ``"CxHxW"``; returns (n_in, shape or None)."""
    if isinstance(entry, (int, np.integer)) and not isinstance(entry, bool):
        if entry <= 0:
            raise ValueError(f"the input size must be a positive whole number, got {entry}")
        return int(entry), None
    m = _SHAPE.fullmatch(entry.strip()) if isinstance(entry, str) else None
    if not m:
        raise ValueError(f"the first layer entry is the input: a size or a shape 'CxHxW' such as "
                         f"'1x28x28', got {entry!r}")
    c, h, w = (int(g) for g in m.groups())
    if not (0 < c <= MAX_CHANNELS and 0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
        raise ValueError(f"input shape {entry!r}: channels 1-{MAX_CHANNELS}, sides 1-{MAX_SIDE}")
    return c * h * w, (c, h, w)


def shape_text(shape) -> str:
    return "x".join(str(s) for s in shape)


def check_order(layers):
    """Raise ValueError if a conv or pool entry follows a dense one (parsed entries)."""
    dense = None
    for tok in layers:
        if isinstance(tok, int):
            dense = tok
        elif dense is not None:
            raise ValueError(f"{tok!r} after a dense layer: conv and pool layers come before the "
                             f"dense ones (it met {dense} units)")
    return layers


def is_spatial(hidden) -> bool:
    """True if ``hidden`` (parsed entries) has conv or pool layers."""
    return any(not isinstance(h, int) for h in hidden)


def layer_shapes(input_shape, layers):
    """Output shape of each layer entry in ``layers`` (parsed, dense ones and the output
    included) from ``input_shape`` (C, H, W): (C, H, W) for conv/pool, (units,) for dense.

    Raises ValueError naming the token and the shape it met.
    """
    shape, out = tuple(input_shape), []
    for tok in layers:
        kind = layer_kind(tok)
        if kind == "dense":
            shape = (tok,)
        elif len(shape) != 3:
            raise ValueError(f"{tok!r} after a dense layer: conv and pool layers come before the "
                             f"dense ones (it met {shape[0]} units)")
        elif kind == "conv":
            k, kh, kw = conv_params(tok)
            c, h, w = shape
            if kh > h or kw > w:
                raise ValueError(f"{tok!r} does not fit its input {shape_text(shape)}: a {kh}x{kw} "
                                 f"filter needs at least {kh}x{kw} pixels")
            shape = (k, h - kh + 1, w - kw + 1)
        else:
            p = int(tok.split()[1])
            c, h, w = shape
            if p > h or p > w:
                raise ValueError(f"{tok!r} does not fit its input {shape_text(shape)}: a {p}x{p} "
                                 f"window needs at least {p}x{p} pixels")
            shape = (c, h // p, w // p)
        out.append(shape)
    return out


def multiply_adds(input_shape, layers) -> int:
    """Multiply-adds per sample of one forward pass through ``layers`` (parsed entries, the
    output included) from ``input_shape`` ((C, H, W), or (n_in,) for a dense net): a conv
    layer C·kh·kw per output value, a dense one in·out, a pool none. A training step is
    about three times this."""
    prev, total = tuple(input_shape), 0
    for tok, shape in zip(layers, layer_shapes(prev, layers)):
        kind = layer_kind(tok)
        if kind == "conv":
            _, kh, kw = conv_params(tok)
            total += int(np.prod(shape)) * prev[0] * kh * kw
        elif kind == "dense":
            total += int(np.prod(prev)) * tok
        prev = shape
    return int(total)


def work_parts(input_shape, layers) -> dict:
    """Per-sample forward work by kind: ``dense`` and ``conv`` multiply-adds, and
    ``map_values``, the values conv and pool layers write (each costs a few elementwise
    passes forward and back: bias, activation, pooling, their gradients)."""
    prev, out = tuple(input_shape), {"dense": 0, "conv": 0, "map_values": 0}
    for tok, shape in zip(layers, layer_shapes(prev, layers)):
        kind = layer_kind(tok)
        if kind == "conv":
            _, kh, kw = conv_params(tok)
            out["conv"] += int(np.prod(shape)) * prev[0] * kh * kw
        elif kind == "dense":
            out["dense"] += int(np.prod(prev)) * tok
        if kind != "dense":
            out["map_values"] += int(np.prod(shape))
        prev = shape
    return out


class ParamViews:
    """``weights`` and ``biases`` of a layer whose parameters are views into the network's
    flat buffer: assigning writes into the buffer; a layer without biases refuses them."""

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


class Conv2D(ParamViews):
    """Valid convolution, stride 1: ``a = f(conv(x, W) + b)`` with ``W`` (K, C, kh, kw).

    Batches are channel-first: ``x`` (C, n, H, W) → ``a`` (K, n, H', W'), so that the bias,
    the activation and the pooling after it run along long contiguous rows.
    """

    kind = "conv"

    def __init__(self, in_shape, filters, kh, kw, activation, use_bias, params, grads, offset):
        c, h, w = in_shape
        self.in_shape, self.out_shape = (c, h, w), (filters, h - kh + 1, w - kw + 1)
        self.kernel = (kh, kw)
        self.n_in, self.n_out = c * h * w, int(np.prod(self.out_shape))
        self.activation, self.use_bias = activation, use_bias
        size = filters * c * kh * kw
        end = offset + size
        self._W = params[offset:end].reshape(filters, c, kh, kw)
        self._dW = grads[offset:end].reshape(filters, c, kh, kw)
        self._Wm, self._dWm = self._W.reshape(filters, -1), self._dW.reshape(filters, -1)
        if use_bias:
            self._b, self._db = params[end:end + filters], grads[end:end + filters]
            end += filters
        else:
            self._b = np.zeros(filters, params.dtype)
            self._b.flags.writeable = False
            self._db = np.zeros(filters, params.dtype)
        self.slice, self.weight_slice = slice(offset, end), slice(offset, offset + size)

    @property
    def fan_in_out(self):
        """(C·kh·kw, K): the sizes the initialisers draw a (fan_in, fan_out) matrix for."""
        return self._Wm.shape[1], self._Wm.shape[0]

    @property
    def n_params(self):
        return self._W.size + (self._b.size if self.use_bias else 0)

    def buffers(self, n, dtype, need_grad_x):
        """Arrays for batches of ``n``: im2col ``cols`` (C·kh·kw, n·H'·W'), ``z``, ``a``
        (K, n·H'·W'), and for a layer that passes gradients down ``dcols``, ``grad_x``."""
        k, ho, wo = self.out_shape
        c, h, w = self.in_shape
        m, q = n * ho * wo, self._Wm.shape[1]
        out = {"cols": np.empty((q, m), dtype), "z": np.empty((k, m), dtype),
               "a": np.empty((k, m), dtype), "ones": np.ones((m, 1), dtype), "grad_x": None}
        if need_grad_x:
            kw = self.kernel[1]
            out.update(wide=np.zeros((k, n, ho, w), dtype), dcols=np.empty((q, n * ho * w), dtype),
                       acc=np.empty((c, n, h * w + kw - 1), dtype),
                       grad_x=np.empty((c, n, h, w), dtype))
        return out

    def forward(self, x, buf):
        """``x`` (C, n, H, W), any strides; return ``a`` (K, n, H', W'), a view of ``buf``."""
        n = x.shape[1]
        k, ho, wo = self.out_shape
        kh, kw = self.kernel
        cols, z, a = buf["cols"], buf["z"], buf["a"]
        # im2col: one strided copy, rows (C, kh, kw) as W's columns, columns (n, H', W')
        win = sliding_window_view(x, (kh, kw), axis=(2, 3))          # (C, n, H', W', kh, kw)
        np.copyto(cols.reshape(-1, kh, kw, n, ho, wo), win.transpose(0, 4, 5, 1, 2, 3))
        np.matmul(self._Wm, cols, out=z)
        if self.use_bias:
            z += self._b[:, None]
        if self.activation == "relu":
            np.maximum(z, 0, out=a)
        else:
            a[...] = ACTIVATIONS[self.activation][0](z)
        return a.reshape(k, n, ho, wo)

    def backward(self, delta, buf):
        """Given ``delta = dL/dz`` (K, n·H'·W'), fill dW, db; return dL/dx (C, n, H, W), or
        None for a first layer."""
        cols = buf["cols"]
        np.matmul(delta, cols.T, out=self._dWm)
        if self.use_bias:
            np.matmul(delta, buf["ones"], out=self._db[:, None])
        grad_x = buf["grad_x"]
        if grad_x is None:
            return None
        c, n, h, w = grad_x.shape
        k, ho, wo = self.out_shape
        kh, kw = self.kernel
        # col2im. The gradient rows are padded to the input's width W (zeros in columns
        # W'..W-1): then the kernel offset (i, j) is a shift by i·W + j of every (H', W)
        # plane in the flattened (H, W) plane, one long add per offset (kh·kw of them, none
        # per position); the zeros land on cells of the next row, or the spare tail.
        wide, dcols, acc = buf["wide"], buf["dcols"], buf["acc"]
        np.copyto(wide[..., :wo], delta.reshape(k, n, ho, wo))
        np.matmul(self._Wm.T, wide.reshape(k, -1), out=dcols)
        d5 = dcols.reshape(c, kh, kw, n, ho * w)
        acc[...] = 0
        for i in range(kh):
            for j in range(kw):
                s = i * w + j
                acc[:, :, s:s + ho * w] += d5[:, i, j]
        np.copyto(grad_x.reshape(c, n, h * w), acc[:, :, :h * w])
        return grad_x

    def __repr__(self):
        bias = "" if self.use_bias else ", no bias"
        return (f"Conv2D({shape_text(self.in_shape)}->{shape_text(self.out_shape)}, "
                f"{self._W.shape[0]}@{self.kernel[0]}x{self.kernel[1]}, {self.activation}{bias})")


class MaxPool2D:
    """Max over P×P windows at stride P: (C, n, H, W) → (C, n, H//P, W//P); rows and
    columns that do not fill a window are dropped.

    Ties: the whole gradient goes to the first maximum of the window in row-major order,
    as PyTorch's CPU max-pool does.
    """

    kind = "pool"
    activation = None
    use_bias = False
    weights = biases = None
    n_params = 0

    def __init__(self, in_shape, p):
        c, h, w = in_shape
        self.p = p
        self.in_shape, self.out_shape = (c, h, w), (c, h // p, w // p)
        self.n_in, self.n_out = c * h * w, int(np.prod(self.out_shape))

    def buffers(self, n, dtype, need_grad_x):
        c, ho, wo = self.out_shape
        p, (_, h, w) = self.p, self.in_shape
        out = {"a": np.empty((c, n, ho, wo), dtype), "m1": np.empty((c, n, ho * p, wo), dtype),
               "grad_x": None}
        if need_grad_x:
            out.update(eq=np.empty((c, n, ho, wo), bool), taken=np.empty((c, n, ho, wo), bool),
                       grad_x=np.empty((c, n, h, w), dtype))
        return out

    def forward(self, x, buf):
        """``x`` (C, n, H, W) → (C, n, H//P, W//P): the max over each row's P columns, then
        over P rows (one long strided operation per offset, none per window)."""
        p = self.p
        _, ho, wo = self.out_shape
        x = x[:, :, :ho * p, :wo * p]
        buf["x"] = x
        m1, a = buf["m1"], buf["a"]
        np.copyto(m1, x[..., 0::p])
        for j in range(1, p):
            np.maximum(m1, x[..., j::p], out=m1)
        rows = m1.reshape(*m1.shape[:2], ho, p, wo)
        np.copyto(a, rows[:, :, :, 0])
        for i in range(1, p):
            np.maximum(a, rows[:, :, :, i], out=a)
        return a

    def backward(self, grad_a, buf):
        """``grad_a`` (C, n, H//P, W//P) → dL/dx (C, n, H, W), or None for a first layer.

        The first offset of the window (row-major) that holds the maximum gets the whole
        gradient, as PyTorch's CPU max-pool does."""
        grad_x = buf["grad_x"]
        if grad_x is None:
            return None
        p = self.p
        _, ho, wo = self.out_shape
        grad_a = grad_a.reshape(buf["a"].shape)
        x, a, eq, taken = buf["x"], buf["a"], buf["eq"], buf["taken"]
        taken[...] = False
        for k in range(p * p):                          # one step per window offset
            i, j = divmod(k, p)
            np.equal(x[:, :, i::p, j::p], a, out=eq)
            np.greater(eq, taken, out=eq)               # equal, and no earlier offset was
            np.multiply(grad_a, eq, out=grad_x[:, :, i:ho * p:p, j:wo * p:p])
            taken |= eq
        if grad_x.shape[2] != ho * p or grad_x.shape[3] != wo * p:
            grad_x[:, :, ho * p:] = 0                   # the dropped rows and columns
            grad_x[:, :, :, wo * p:] = 0
        return grad_x

    def __repr__(self):
        return f"MaxPool2D({shape_text(self.in_shape)}->{shape_text(self.out_shape)}, {self.p})"
