"""Convolutional layers: filters as a grid of small heatmaps, feature maps, and the network
as a row of blocks with their shapes.

Each grid is one heatmap of tiles with NaN gaps (one trace, whatever the number of tiles):
a subplot per tile would cost the browser a layout per tile.
"""
from __future__ import annotations

import math

import numpy as np

from .base import DIVERGING, axis_dict, f32, layout_dict, make_figure

MAP_SCALE = [[0.0, "#ffffff"], [0.5, "#7aa6c2"], [1.0, "#08306b"]]   # feature maps: 0 white


def _grid(tiles, rows, cols, gap):
    """tiles (rows * cols, h, w) -> one (rows·(h+gap)-gap, cols·(w+gap)-gap) image, NaN gaps."""
    _, h, w = tiles.shape
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan, np.float32)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = t
    return out


def conv_filters(W, zmax, title, value="weight", b=None):
    """A conv layer's filters W (K, C, kh, kw) as a K x C grid of kh x kw heatmaps: one row
    per output channel (filter), one column per input channel, on one diverging scale
    from ``-zmax`` to ``zmax``. Biases ``b`` (K,) go into the row labels. Filters over a
    single input channel are laid out in rows of up to 8 instead."""
    W = np.asarray(W, np.float32)
    k, c, kh, kw = W.shape
    gap = 1
    single = c == 1
    rows, cols = (math.ceil(k / 8), min(k, 8)) if single else (k, c)
    z = _grid(W.reshape(k * c, kh, kw), rows, cols, gap)
    r_idx, iy = np.divmod(np.arange(z.shape[0]), kh + gap)
    c_idx, ix = np.divmod(np.arange(z.shape[1]), kw + gap)
    if single:     # tile (r, c) is filter r * cols + c of the one input channel
        flt, chan = r_idx[:, None] * cols + c_idx[None, :], np.zeros((1, 1), int)
    else:
        flt, chan = r_idx[:, None], c_idx[None, :]
    custom = np.stack(np.broadcast_arrays(flt, chan, iy[:, None], ix[None, :]), -1)
    heat = dict(type="heatmap", z=z, customdata=custom.astype(np.int16), coloraxis="coloraxis",
                hovertemplate=(f"filter %{{customdata[0]}}, input channel %{{customdata[1]}}<br>"
                               f"row %{{customdata[2]}}, column %{{customdata[3]}}<br>"
                               f"{value} %{{z:.4g}}<extra></extra>"))
    ticks_y = [r * (kh + gap) + (kh - 1) / 2 for r in range(rows)]
    ticks_x = [i * (kw + gap) + (kw - 1) / 2 for i in range(cols)]
    if single:
        labels_y = [f"{r * cols}–{min(k, (r + 1) * cols) - 1}" for r in range(rows)]
        labels_x = [f"+{i}" for i in range(cols)]
        x_title, y_title = "filter (column: + offset)", "filters"
    else:
        labels_y = [f"{r}" if b is None else f"{r} (b {float(b[r]):+.2f})" for r in range(k)]
        labels_x = list(map(str, range(c)))
        x_title, y_title = "input channel", "filter (output channel)"
    cell = max(6, min(16, 420 // max(1, rows * (kh + gap))))
    height = int(np.clip(130 + cell * z.shape[0], 220, 640))
    many_y, many_x = rows > 24, cols > 32
    return make_figure([heat], layout_dict(
        title, height=height, legend=False, margin=dict(l=96 if b is not None and not single else 72, r=90),
        coloraxis=dict(colorscale=DIVERGING, cmin=-zmax, cmax=zmax, cmid=0,
                       colorbar=dict(title=dict(text=value, side="right"), thickness=12)),
        xaxis=axis_dict(x_title, showgrid=False, zeroline=False, constrain="domain",
                        tickvals=None if many_x else ticks_x, ticktext=None if many_x else labels_x),
        yaxis=axis_dict(y_title, showgrid=False, zeroline=False, autorange="reversed",
                        scaleanchor="x", constrain="domain",
                        tickvals=None if many_y else ticks_y, ticktext=None if many_y else labels_y)))


def feature_maps(maps, title, cols=8):
    """One layer's output for one image, ``maps`` (C, H, W): a grid of its channels, each on
    the same scale (from 0, or symmetric when the layer has negative outputs)."""
    maps = f32(maps)
    c, h, w = maps.shape
    cols = min(cols, c)
    rows = math.ceil(c / cols)
    gap = max(1, h // 10)
    z = _grid(maps, rows, cols, gap)
    lo, hi = float(np.nanmin(maps)), float(np.nanmax(maps))
    if lo < 0:
        lim = max(-lo, hi) or 1e-12
        axis = dict(colorscale=DIVERGING, cmin=-lim, cmax=lim, cmid=0)
    else:
        axis = dict(colorscale=MAP_SCALE, cmin=0.0, cmax=hi or 1e-12)
    ch = (np.arange(z.shape[0]) // (h + gap))[:, None] * cols + (np.arange(z.shape[1]) // (w + gap))[None, :]
    heat = dict(type="heatmap", z=z, customdata=ch.astype(np.int16), coloraxis="coloraxis",
                hovertemplate="channel %{customdata}<br>value %{z:.3g}<extra></extra>")
    width_px = 640
    cell = width_px / max(1, z.shape[1])
    height = int(np.clip(110 + cell * z.shape[0], 160, 560))
    return make_figure([heat], layout_dict(
        title, height=height, legend=False, margin=dict(l=40, r=90, t=48, b=24),
        coloraxis={**axis, "colorbar": dict(title=dict(text="output", side="right"), thickness=12)},
        xaxis=dict(visible=False, constrain="domain"),
        yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")))


def conv_diagram(blocks, title):
    """The network as a row of blocks: ``blocks`` is [(name, shape text, kind)] from the input
    to the output (kind: input, conv, pool, dense, output)."""
    colors = {"input": "#e8eaeb", "conv": "#cfe3f2", "pool": "#fde7c8", "dense": "#d8efd3",
              "output": "#f3d4d4"}
    n = len(blocks)
    shapes, notes = [], []
    for i, (name, shape, kind) in enumerate(blocks):
        x0, x1 = i + 0.08, i + 0.92
        shapes.append(dict(type="rect", x0=x0, x1=x1, y0=0.15, y1=0.85, xref="x", yref="y",
                           fillcolor=colors.get(kind, "#eeeeee"), line=dict(color="#888888", width=1)))
        notes.append(dict(x=i + 0.5, y=0.62, text=f"<b>{name}</b>", showarrow=False, xref="x", yref="y",
                          font=dict(size=12)))
        notes.append(dict(x=i + 0.5, y=0.36, text=shape, showarrow=False, xref="x", yref="y",
                          font=dict(size=11, color="#444444")))
        if i:
            notes.append(dict(x=i + 0.08, y=0.5, ax=i - 0.08, ay=0.5, xref="x", yref="y", axref="x",
                              ayref="y", text="", showarrow=True, arrowhead=2, arrowwidth=1.2,
                              arrowcolor="#666666"))
    return make_figure([dict(type="scatter", x=[0, n], y=[0, 1], mode="markers",
                             marker=dict(opacity=0), hoverinfo="skip")],
                       layout_dict(title, height=190, legend=False, margin=dict(l=10, r=10, t=48, b=10),
                                   shapes=shapes, annotations=notes,
                                   xaxis=dict(visible=False, range=[0, n], fixedrange=True),
                                   yaxis=dict(visible=False, range=[0, 1], fixedrange=True)))


def diagram_blocks(net):
    """[(name, shape text, kind)] of a Network with conv layers, for :func:`conv_diagram`."""
    c, h, w = net.input_shape
    out = [("input", f"{c}×{h}×{w}", "input")]
    for i, layer in enumerate(net.layers):
        last = i == len(net.layers) - 1
        if layer.kind == "conv":
            k, kh, kw = layer.out_shape[0], *layer.kernel
            name = f"conv {k}@{kh}×{kw}"
        elif layer.kind == "pool":
            name = f"max-pool {layer.p}"
        else:
            name = ("output" if last else "dense") + f" {layer.n_out}"
        if layer.kind == "dense":
            shape = f"{layer.n_out} units" + (f" ({layer.activation})" if layer.activation else "")
            if layer.flatten_from is not None:
                shape = f"flatten {layer.n_in} → {shape}"
        else:
            shape = "×".join(map(str, layer.out_shape))
            if layer.activation:
                shape += f" ({layer.activation})"
        out.append((name, shape, "output" if last else layer.kind))
    return out
