"""The data: sample images with the network's guesses, a logic table's outputs, a PCA view."""
from __future__ import annotations

import math

import numpy as np

from nncore.trainer import correct_rows

from .base import CLASS_COLORS, RIGHT_COLOR, WRONG_COLOR, axis_dict, f32, layout_dict, make_figure, png_uri


def montage(tiles, cols, gap, band=0):
    """Tiles (k, h, w) -> one image with NaN gaps (and a ``band`` of rows under each tile)."""
    k, h, w = tiles.shape
    rows = math.ceil(k / cols)
    out = np.full((rows * (h + gap + band) - gap, cols * (w + gap) - gap), np.nan, np.float32)
    for i in range(k):
        r, c = divmod(i, cols)
        y0, x0 = r * (h + gap + band), c * (w + gap)
        out[y0:y0 + h, x0:x0 + w] = tiles[i]
    return out


def image_samples(images, shape, labels, guesses, class_names, epoch, cols=8):
    """A grid of images (k, h*w) with their true label and the network's guess.

    The grid goes to the browser as one small grey PNG (an ``image`` trace): a heatmap of
    the same pixels costs the browser about twice as much to redraw every epoch."""
    h, w = shape
    k = len(images)
    two_lines = max(len(str(c)) for c in class_names) > 3     # "Ankle boot → Sneaker" is long
    gap, band = max(1, h // 14), max(3, (2 * h) // 3 if two_lines else h // 3)
    tiles = np.asarray(images, np.float32).reshape(k, h, w)
    # ink black on paper white; the gaps and label bands are paper
    z = np.nan_to_num(montage(tiles, cols, gap, band), nan=0.0)
    grey = 255 - np.clip(np.rint(z * 255), 0, 255).astype(np.uint8)
    right = np.asarray(labels) == np.asarray(guesses)
    rows_, cols_ = np.divmod(np.arange(k), cols)
    arrow = "<br>→ " if two_lines else " → "
    texts = [f"{class_names[labels[i]]} ✓" if right[i]
             else f"{class_names[labels[i]]}{arrow}{class_names[guesses[i]]}" for i in range(k)]
    notes = dict(type="scatter", mode="text", x=f32(cols_ * (w + gap) + (w - 1) / 2),
                 y=f32(rows_ * (h + gap + band) + h + band / 2 - 0.5), text=texts,
                 textfont=dict(size=10 if two_lines else 11,
                               color=[RIGHT_COLOR if r else WRONG_COLOR for r in right]),
                 hoverinfo="skip", showlegend=False)
    n_wrong = int(np.count_nonzero(~right))
    picture = dict(type="image", source=png_uri(np.repeat(grey[:, :, None], 3, axis=2)),
                   x0=0, y0=0, dx=1, dy=1, hoverinfo="skip")
    return make_figure([picture, notes], layout_dict(
        f"Test samples at epoch {epoch}: label, or label → guess ({n_wrong} of {k} wrong)",
        height=120 + (80 if two_lines else 60) * math.ceil(k / cols), legend=False,
        margin=dict(l=8, r=8, t=48, b=8),
        xaxis=axis_dict("sample", visible=False, constrain="domain"),
        yaxis=axis_dict("sample", visible=False, autorange="reversed", scaleanchor="x",
                    constrain="domain")))


def logic_outputs(X, Y, out, epoch):
    """Each input row's target and current output, side by side."""
    cases = [" ".join(f"{v:g}" for v in row) for row in X]
    data = []
    n_out = Y.shape[1]
    for j in range(n_out):
        suffix = f" {j + 1}" if n_out > 1 else ""
        data.append(dict(type="bar", x=cases, y=np.asarray(Y[:, j], np.float64),
                         name=f"target{suffix}", marker=dict(color="#c9cdd2" if j == 0 else "#8c939b"),
                         hovertemplate=f"input %{{x}}<br>target{suffix} %{{y:g}}<extra></extra>"))
        data.append(dict(type="bar", x=cases, y=np.asarray(out[:, j], np.float64),
                         name=f"output{suffix}", marker=dict(color=CLASS_COLORS[j % len(CLASS_COLORS)]),
                         hovertemplate=f"input %{{x}}<br>output{suffix} %{{y:.4f}}<extra></extra>"))
    return make_figure(data, layout_dict(f"Outputs vs targets at epoch {epoch}", barmode="group",
                                 xaxis=axis_dict("input", type="category"),
                                 yaxis=axis_dict("value", range=[0, 1.05])))


def truth_table(X, Y, out):
    """Columns for a table of a logic set: inputs, targets, outputs, right or wrong."""
    cols = {f"x{i + 1}": X[:, i].astype(int) for i in range(X.shape[1])}
    for j in range(Y.shape[1]):
        suffix = f" {j + 1}" if Y.shape[1] > 1 else ""
        cols[f"target{suffix}"] = Y[:, j].astype(int)
        cols[f"output{suffix}"] = np.round(out[:, j].astype(np.float64), 4)
    right = correct_rows(out, Y, "binary")
    cols["right"] = np.where(right, "✓", "✗")
    return cols


def pca_scatter(X, labels, class_names):
    """The data on its first two principal components, coloured by class."""
    Xc = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(Xc[:2000], full_matrices=False)
    P = Xc @ vt[:2].T if vt.shape[0] >= 2 else np.c_[Xc[:, 0], np.zeros(len(Xc))]
    var = s ** 2 / max(np.sum(s ** 2), 1e-12)
    data = []
    for c, name in enumerate(class_names):
        m = labels == c
        data.append(dict(type="scatter", x=f32(P[m, 0]), y=f32(P[m, 1]), mode="markers",
                         name=str(name), marker=dict(color=CLASS_COLORS[c % len(CLASS_COLORS)], size=6),
                         hovertemplate=f"{name}<br>PC1 %{{x:.2f}}, PC2 %{{y:.2f}}<extra></extra>"))
    pc = lambda i: f"PC{i + 1} ({var[i]:.0%} of variance)" if i < len(var) else f"PC{i + 1}"
    return make_figure(data, layout_dict("Training data on its first two principal components", 420,
                                 xaxis=axis_dict(pc(0)), yaxis=axis_dict(pc(1))))
