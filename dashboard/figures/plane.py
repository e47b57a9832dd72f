"""The input plane of 2-D data: the decision boundary and what each hidden unit computes."""
from __future__ import annotations

import numpy as np

from .base import (
    BINARY_COLORS,
    CLASS_COLORS,
    PLAYGROUND,
    RIGHT_COLOR,
    WRONG_COLOR,
    axis_dict,
    blend,
    f32,
    hex_rgb,
    layout_dict,
    make_figure,
    png_uri,
)


def boundary_field(xs, ys, probs, class_names):
    """The network's answer over the plane as one small PNG (a heatmap would cost the
    browser far more to redraw every epoch): ``(traces, images, colors)``.

    ``probs`` (len(ys) * len(xs), k): class probabilities on ``grid_points``
    (``predict.class_probabilities`` of the outputs, so the colour always sides with the
    class the network answers). Two classes are drawn as P(last class) from orange to blue,
    with a colour bar (carried by the one trace returned); more classes as a blend of the
    class colours weighted by their probabilities. ``colors`` are the class colours to draw
    points with.
    """
    n_x, n_y, k = len(xs), len(ys), probs.shape[1]
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    traces = []
    if len(class_names) <= 2:
        colors = BINARY_COLORS
        rgb = blend(np.clip(probs[:, -1].astype(np.float64), 0, 1), PLAYGROUND)
        top = class_names[-1]
        traces.append(dict(                     # no points: it only carries the colour bar
            type="scatter", x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
            marker=dict(color=[0.0], cmin=0, cmax=1, colorscale=PLAYGROUND, showscale=True,
                        colorbar=dict(title=dict(text=f"P({top})", side="right"), thickness=12))))
    else:
        colors = CLASS_COLORS
        palette = np.array([hex_rgb(colors[c % len(colors)]) for c in range(k)], np.float64)
        rgb = 0.55 * (probs.astype(np.float64) @ palette) + 0.45 * 255.0   # paler: points stand out
    img = np.clip(rgb, 0, 255).astype(np.uint8).reshape(n_y, n_x, 3)[::-1]   # row 0 = top
    images = [dict(source=png_uri(img), xref="x", yref="y", x=xs[0] - dx / 2, y=ys[-1] + dy / 2,
                   sizex=n_x * dx, sizey=n_y * dy, sizing="stretch", layer="below")]
    return traces, images, colors


def boundary_layout(title, xs, ys, images, n_classes):
    """The square plane of :func:`boundary_field` with its legend below."""
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    layout = layout_dict(
        title, height=440, margin=dict(t=48, b=90, r=90 if n_classes <= 2 else 24),
        xaxis=axis_dict("x1", range=[xs[0] - dx / 2, xs[-1] + dx / 2], showgrid=False, zeroline=False,
                    constrain="domain"),
        yaxis=axis_dict("x2", range=[ys[0] - dy / 2, ys[-1] + dy / 2], showgrid=False, zeroline=False,
                    scaleanchor="x", scaleratio=1, constrain="domain"),
        images=images)
    layout["legend"] = dict(orientation="h", yanchor="top", y=-0.16, xanchor="left", x=0.0)
    return layout


def decision_boundary(xs, ys, probs, X_train, y_train, X_test, y_test, class_names, epoch):
    """The network's answer over the plane with the data on top (TensorFlow Playground style).

    ``probs``: see :func:`boundary_field`. ``y_*`` are integer labels; ``X_test`` may be None
    (nothing held out).
    """
    data, images, colors = boundary_field(xs, ys, probs, class_names)
    parts = [(X_train, y_train, "train", "circle", "white")]
    if X_test is not None:
        parts.append((X_test, y_test, "test", "diamond", "#222"))
    size = 14 if len(X_train) <= 16 else 7              # a truth table's few points stand out
    for c, cname in enumerate(class_names):
        color = colors[c % len(colors)]
        for X, y, part, symbol, line in parts:
            m = y == c
            if not m.any():
                continue
            data.append(dict(
                type="scatter", x=f32(X[m, 0]), y=f32(X[m, 1]), mode="markers",
                name=f"{cname} ({part})", legendgroup=str(cname), showlegend=part == "train",
                marker=dict(color=color, symbol=symbol, size=size + (part == "test"),
                            line=dict(color=line, width=1)),
                hovertemplate=f"{part}: {cname}<br>x1 %{{x:.2f}}, x2 %{{y:.2f}}<extra></extra>"))
    marks = "train ●, test ◆" if X_test is not None else "the data ●"
    return make_figure(data, boundary_layout(f"Decision boundary at epoch {epoch} ({marks})", xs, ys,
                                         images, len(class_names)))


def unit_maps(xs, ys, outputs, activations, epoch, max_units=16, inputs=None):
    """What each hidden unit computes over the plane (TensorFlow Playground style): one row
    of small maps per hidden layer, a unit's output coloured grey at zero, blue up to its
    largest and orange down to minus its largest (sigmoid units: orange 0, grey 0.5, blue 1).
    ``outputs`` are the hidden layers' outputs (n_points, n_units) on the points of
    ``grid_points(.., len(xs))``; ``inputs`` (optional): ``(values, names)`` of the network's
    input features on the same points, drawn as a first row."""
    # rows of (values, activation, what they are, each map's name)
    rows = [(out, name, f"layer {r + 1} ({name})", [f"unit {j}" for j in range(out.shape[1])])
            for r, (out, name) in enumerate(zip(outputs, activations))]
    if inputs is not None:
        values, names = inputs
        rows.insert(0, (values, "linear", "input", [str(n) for n in names]))
    g, gap, band = len(xs), 4, 14
    widest = min(max_units, max(out.shape[1] for out, *_ in rows))
    cols_px = widest * (g + gap) - gap
    rows_px = len(rows) * (g + gap + band)
    rgb = np.full((rows_px, cols_px, 3), 255, np.uint8)
    hover_x, hover_y, hover_text = [], [], []
    for r, (out, name, title, units) in enumerate(rows):
        for j in range(min(max_units, out.shape[1])):
            v = out[:, j].reshape(len(ys), g)[::-1]            # row 0 = top of the plane
            lo, hi = float(v.min()), float(v.max())
            if name == "sigmoid":                              # its own 0..1 scale, 0.5 grey
                p = v
            else:                                              # zero grey, +-max blue/orange
                p = (v / (max(abs(lo), abs(hi)) or 1.0) + 1) / 2
            tile = blend(p, PLAYGROUND)
            y0, x0 = r * (g + gap + band) + band, j * (g + gap)
            rgb[y0:y0 + g, x0:x0 + g] = np.clip(tile, 0, 255).astype(np.uint8)
            hover_x.append(x0 + (g - 1) / 2)
            hover_y.append(y0 + (g - 1) / 2)
            what = "value" if title == "input" else "output"
            hover_text.append(f"{title}, {units[j]}<br>{what} from {lo:.3g} to {hi:.3g}")
    picture = dict(type="image", source=png_uri(rgb), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip")
    hover = dict(type="scatter", mode="markers", x=f32(hover_x), y=f32(hover_y), text=hover_text,
                 marker=dict(size=g, opacity=0, symbol="square"), hoverinfo="text",
                 showlegend=False)
    notes = []
    for r, (out, _activation, title, units) in enumerate(rows):
        if title == "input":
            text = "inputs: " + ", ".join(units[:max_units])
        else:
            more = f"first {max_units} of {out.shape[1]} units" if out.shape[1] > max_units else \
                f"{out.shape[1]} unit{'s' if out.shape[1] != 1 else ''}"
            text = f"{title[:-1]}, {more})"
        notes.append(dict(text=text, x=0, y=r * (g + gap + band) + band - 3,
                          xref="x", yref="y", xanchor="left", yanchor="bottom", showarrow=False,
                          font=dict(size=12, color="#444")))
    height = 90 + int(rows_px * min(1.6, 760 / max(cols_px, 1)))
    return make_figure([picture, hover], layout_dict(
        f"What each hidden unit computes at epoch {epoch}: its output over the input plane",
        height=height, legend=False, margin=dict(l=8, r=8, t=48, b=8), annotations=notes,
        xaxis=axis_dict("", visible=False, constrain="domain", range=[-0.5, cols_px - 0.5]),
        yaxis=axis_dict("", visible=False, autorange="reversed", scaleanchor="x",
                    constrain="domain")))


def boundary_right_wrong(xs, ys, grid_probs, X, labels, guesses, probs, class_names, epoch):
    """The decision boundary with the test points: green circles right, red crosses wrong.

    ``grid_probs`` (len(ys) * len(xs), k): class probabilities on the grid (see
    ``figures.boundary_field``); ``X`` (n, 2) test points; ``probs`` (n,) probability of
    each point's top guess.
    """
    data, images, _ = boundary_field(xs, ys, grid_probs, class_names)
    labels, guesses = np.asarray(labels), np.asarray(guesses)
    right = labels == guesses
    for mask, name, symbol, color, size in ((right, "right", "circle", RIGHT_COLOR, 8),
                                            (~right, "wrong", "x", WRONG_COLOR, 11)):
        if not mask.any():
            continue
        hover = [f"true {class_names[t]}, guessed {class_names[g]} ({100 * p:.1f}%)"
                 for t, g, p in zip(labels[mask], guesses[mask], np.asarray(probs)[mask])]
        data.append(dict(type="scatter", x=f32(X[mask, 0]), y=f32(X[mask, 1]), mode="markers",
                         name=f"{name} ({int(mask.sum())})", hovertext=hover,
                         marker=dict(symbol=symbol, size=size, color=color,
                                     line=dict(color="white", width=1)),
                         hovertemplate="%{hovertext}<br>x1 %{x:.2f}, x2 %{y:.2f}<extra></extra>"))
    layout = boundary_layout(f"Epoch {epoch}: right ● and wrong ✕ on the decision boundary", xs, ys,
                             images, len(class_names))
    layout["showlegend"] = True
    return make_figure(data, layout)
