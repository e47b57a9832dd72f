"""Weights: heatmaps on a shared scale (block-averaged when large), unit images, histograms.

Matrices larger than ``MAX_SIDE`` per side are block-averaged unless ``full=True``.
"""
from __future__ import annotations

import math

import numpy as np

from .base import (
    DIVERGING,
    MAX_SIDE,
    TEST_COLOR,
    TRAIN_COLOR,
    axis_dict,
    f32,
    layout_dict,
    make_figure,
    subtitle,
)
from .data import montage


def block_factors(shape, max_side=MAX_SIDE):
    """Block size (rows, cols) that brings ``shape`` to at most ``max_side`` per side."""
    return tuple(max(1, math.ceil(n / max_side)) for n in shape)


def block_average(A, max_side=MAX_SIDE, factors=None):
    """Mean over blocks so that neither side exceeds ``max_side``.

    Returns the (float32) averaged matrix and the block size ``(rows, cols)``; blocks at
    the bottom/right edge may be partial (their mean is over the cells they hold).
    """
    A = np.asarray(A)
    r, c = A.shape
    fr, fc = factors or block_factors(A.shape, max_side)
    if fr == 1 and fc == 1:
        return f32(A), (1, 1)
    R, C = math.ceil(r / fr), math.ceil(c / fc)
    if r % fr == 0 and c % fc == 0:
        return f32(A.reshape(R, fr, C, fc).mean(axis=(1, 3))), (fr, fc)
    padded = np.full((R * fr, C * fc), np.nan, np.float64)
    padded[:r, :c] = A
    return f32(np.nanmean(padded.reshape(R, fr, C, fc), axis=(1, 3))), (fr, fc)


def shared_scale(mats, per_layer=False):
    """Symmetric colour limit(s) for [(W, b or None), ...]: one for all layers, or one each."""
    lims = [max(float(np.max(np.abs(W))) if W.size else 0.0,
                float(np.max(np.abs(b))) if b is not None and b.size else 0.0) or 1e-12
            for W, b in mats]
    return lims if per_layer else [max(lims)] * len(lims)


def _coloraxis(zmax, label):
    return dict(colorscale=DIVERGING, cmin=-zmax, cmax=zmax, cmid=0,
                colorbar=dict(title=dict(text=label, side="right"), thickness=12))


def weight_heatmap(W, b, zmax, title, in_label="input", full=False, value="weight",
                   row_names=None):
    """One layer's weight matrix W (n_in, n_out) and biases b (n_out,) or None.

    Rows are the layer's inputs (named by ``row_names`` if given, e.g. input features),
    columns its units. Colours are diverging and centred on zero, from ``-zmax`` to
    ``zmax`` (pass the same ``zmax`` to every layer for a shared scale). Unless ``full``,
    matrices larger than ``MAX_SIDE`` per side show block means.
    """
    Wd, (fr, fc) = (f32(W), (1, 1)) if full else block_average(W)
    rows, cols = Wd.shape
    x, y = np.arange(cols, dtype=np.int32) * fc, np.arange(rows, dtype=np.int32) * fr
    xs = f"units %{{x}}–%{{x}}+{fc - 1}" if fc > 1 else "unit %{x}"
    ys = f"{in_label} %{{y}}–%{{y}}+{fr - 1}" if fr > 1 else f"{in_label} %{{y}}"
    mean = "mean " if fr * fc > 1 else ""
    # values on the cells only while they stay legible (two significant digits: small changes
    # show as 0.0031, not 0.00)
    text = "%{z:.2g}" if rows <= 10 and cols <= 8 else None
    height = int(np.clip(190 + 2.2 * rows, 270, 480))
    data = [dict(type="heatmap", z=Wd, x=x, y=y, coloraxis="coloraxis", texttemplate=text,
                 hovertemplate=f"{ys}<br>{xs}<br>{mean}{value} %{{z:.4g}}<extra></extra>")]
    xaxis = axis_dict("unit", showgrid=False, zeroline=False)
    if cols <= 20:
        xaxis["dtick"] = max(1, math.ceil(cols / 10)) * fc
    yaxis = axis_dict(in_label, autorange="reversed", showgrid=False, zeroline=False)
    if row_names is not None and fr == 1 and len(row_names) == rows <= 20:
        yaxis.update(tickmode="array", tickvals=y, ticktext=[str(n) for n in row_names])
    elif rows <= 20:
        yaxis["dtick"] = max(1, math.ceil(rows / 10)) * fr
    axes = dict(xaxis=xaxis, yaxis=yaxis)
    if b is not None:
        bd, _ = block_average(np.asarray(b)[None, :], factors=(1, fc))
        data.append(dict(type="heatmap", z=bd, x=x, y=["bias"], coloraxis="coloraxis",
                         texttemplate=text, xaxis="x", yaxis="y2",
                         hovertemplate=f"bias<br>{xs}<br>{mean}value %{{z:.4g}}<extra></extra>"))
        plot_h = height - 108
        strip, gap = min(0.2, 26 / plot_h), 12 / plot_h
        xaxis["anchor"] = "y2"
        yaxis["domain"] = [strip + gap, 1.0]
        axes["yaxis2"] = dict(domain=[0.0, strip], anchor="x", showgrid=False, zeroline=False)
    return make_figure(data, layout_dict(title, height=height, legend=False, margin=dict(r=90, l=72),
                                 coloraxis=_coloraxis(zmax, value), **axes))


def unit_images(W, shape, n_units, title, value="weight", cols=8):
    """The first ``n_units`` columns of W (h*w, n_out) as h x w images on one diverging scale."""
    h, w = shape
    k = min(n_units, W.shape[1])
    tiles = np.asarray(W[:, :k], np.float32).T.reshape(k, h, w)
    lim = float(np.max(np.abs(tiles))) or 1e-12
    gap = max(1, h // 14)
    rows = math.ceil(k / cols)
    heat = dict(type="heatmap", z=montage(tiles, cols, gap), coloraxis="coloraxis",
                hovertemplate=f"{value} %{{z:.4g}}<extra></extra>")
    n_cols = min(cols, k)
    return make_figure([heat], layout_dict(
        title, height=90 + 70 * rows, legend=False, coloraxis=_coloraxis(lim, value),
        margin=dict(r=90, l=72),
        xaxis=axis_dict("unit (column: + offset)", showgrid=False, zeroline=False, constrain="domain",
                    tickvals=[c * (w + gap) + (w - 1) / 2 for c in range(n_cols)],
                    ticktext=[f"+{c}" for c in range(n_cols)]),
        yaxis=axis_dict("units", showgrid=False, zeroline=False, constrain="domain",
                    autorange="reversed", scaleanchor="x",
                    tickvals=[r * (h + gap) + (h - 1) / 2 for r in range(rows)],
                    ticktext=[f"{r * cols}–{min(k, (r + 1) * cols) - 1}" for r in range(rows)])))


def histograms(weights, grads, title, bins=40, epoch=None):
    """Per layer: a histogram of its weights and one of its gradients (counts computed here)."""
    n = len(weights)
    height = 130 + 200 * n
    plot_h = height - 90 - 52
    vgap = min(0.3, 75 / plot_h) if n > 1 else 0.0
    row_h = (1 - vgap * (n - 1)) / n
    data, notes, axes = [], [], {}
    for i, (W, G) in enumerate(zip(weights, grads)):
        top = 1 - i * (row_h + vgap)
        for c, (a, color, what) in enumerate(((W, TRAIN_COLOR, "weights"),
                                              (G, TEST_COLOR, "gradients"))):
            k = 2 * i + c + 1
            xd = [0.0, 0.45] if c == 0 else [0.55, 1.0]
            sx = "" if k == 1 else str(k)
            axes[f"xaxis{sx}"] = dict(domain=xd, anchor=f"y{sx}", showgrid=False)
            axes[f"yaxis{sx}"] = dict(domain=[max(0.0, round(top - row_h, 6)), min(1.0, round(top, 6))],
                                      anchor=f"x{sx}")
            if c == 0:
                axes[f"yaxis{sx}"]["title"] = dict(text="count")
            if i == n - 1:
                axes[f"xaxis{sx}"]["title"] = dict(text="weight value" if c == 0 else "gradient value")
            notes.append(subtitle(f"layer {i + 1} {what}", sum(xd) / 2, top))
            # a panel without bars: its note in paper coordinates (an empty axis is not drawn)
            empty = dict(showarrow=False, x=sum(xd) / 2, y=top - row_h / 2, xref="paper",
                         yref="paper", font=dict(size=12, color="#6e7781"))
            if a is None:
                notes.append(dict(empty, text="gradients not stored for this epoch<br>"
                                              "(run loaded from a file)"))
                continue
            a = np.asarray(a, np.float64).ravel()
            if c == 1 and not np.any(a):
                notes.append(dict(empty, text="no gradient yet (epoch 0)" if epoch == 0 else
                                  "every gradient is 0<br>(units that never activate?)"))
                continue
            counts, edges = np.histogram(a, bins=bins)
            data.append(dict(type="bar", x=f32((edges[:-1] + edges[1:]) / 2),
                             y=counts.astype(np.int32), width=float(edges[1] - edges[0]) or None,
                             marker=dict(color=color), xaxis=f"x{sx}", yaxis=f"y{sx}",
                             showlegend=False,
                             hovertemplate="value %{x:.3g}<br>%{y} values<extra></extra>"))
    return make_figure(data, layout_dict(title, height=height, legend=False, margin=dict(t=90),
                                 bargap=0.02, annotations=notes, **axes))
