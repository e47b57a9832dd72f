"""What a document's ``network.sizes`` implies: the layer table of format v2, where each
layer's weights sit in the flat parameter vector, and each layer's output size."""
from __future__ import annotations

import numpy as np

from ..conv import conv_params, layer_kind, layer_shapes
from ..network import parse_spec


def _layers(sizes):
    """[(token, in_shape, out_shape)] of every layer after the input."""
    n_in, shape, layers = parse_spec(sizes)
    prev, out = (shape if shape is not None else (n_in,)), []
    for tok, shp in zip(layers, layer_shapes(shape if shape is not None else (n_in,), layers)):
        out.append((tok, prev, shp))
        prev = shp
    return out


def layer_table(sizes, activations, biases) -> list:
    """``network.layers`` of a v2 document: per layer its kind, input and output shapes, and
    for conv and dense layers the shape of the weights (conv: PyTorch's (out, in, kh, kw);
    dense: (in, out)), the activation and the bias switch. Derived from the sizes, so a
    reader can check it."""
    acts, flags, out = iter(activations), iter(biases), []
    for tok, prev, shp in _layers(sizes):
        kind = layer_kind(tok)
        entry = {"kind": kind, "in_shape": list(prev), "out_shape": list(shp)}
        if kind == "pool":
            entry["size"] = int(tok.split()[1])
        else:
            entry["weights_shape"] = list(weights_shape(tok, prev))
            entry["activation"], entry["bias"] = next(acts), bool(next(flags))
        out.append(entry)
    return out


def weights_shape(tok, in_shape):
    if layer_kind(tok) == "conv":
        k, kh, kw = conv_params(tok)
        return (k, in_shape[0], kh, kw)
    return (int(np.prod(in_shape)), tok)


def layout(sizes, biases):
    """Per layer with weights: (weights slice, biases slice or None, weights shape, biases
    shape) in the flat parameter vector (each layer's weights row-major, then its biases)."""
    out, off, flags = [], 0, iter(biases)
    for tok, prev, _ in _layers(sizes):
        if layer_kind(tok) == "pool":
            continue
        wshape = weights_shape(tok, prev)
        ws = slice(off, off + int(np.prod(wshape)))
        bshape = (wshape[0],) if layer_kind(tok) == "conv" else (wshape[1],)
        bs = slice(ws.stop, ws.stop + bshape[0]) if next(flags) else None
        out.append((ws, bs, wshape, bshape))
        off = bs.stop if bs else ws.stop
    return out


def input_size(sizes) -> int:
    """Input values per sample (C·H·W of an image input)."""
    return parse_spec(sizes)[0]


def output_sizes(sizes) -> list:
    """Values per sample out of every layer (a conv or pool layer's C·H·W), pools included."""
    return [int(np.prod(shp)) for _, _, shp in _layers(sizes)]
