"""Pure figure builders: NumPy arrays in, ``go.Figure`` out. No Streamlit here.

Each figure is assembled in one go from plain dicts (``_figure``): Plotly's incremental
``update_*`` calls cost tens of milliseconds per chart, which a redraw every epoch
cannot afford. Plotly's validation is skipped at run time (``VALIDATE``); the tests
rebuild every figure with validation on. Numbers go to Plotly as NumPy arrays (float32
for anything large), which Plotly sends base64-encoded; ``.tolist()`` would be 4x larger.
Matrices larger than ``MAX_SIDE`` per side are block-averaged unless ``full=True``.
"""
from __future__ import annotations

import base64
import io
import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from nncore.predict import network_probabilities
from nncore.trainer import correct_rows

VALIDATE = False
MAX_SIDE = 128
# Colour scales are spelled out: Plotly.js does not know Python's names such as "RdBu_r".
DIVERGING = [[i / 10, c] for i, c in enumerate(         # negative blue, zero white, positive red
    ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582",
     "#d6604d", "#b2182b", "#67001f"])]
INK = [[0.0, "#ffffff"], [1.0, "#000000"]]            # pixel values: paper white, ink black
PLAYGROUND = [[0.0, "#f59322"], [0.5, "#e8eaeb"], [1.0, "#0877bd"]]   # P(class 1): orange..blue
BINARY_COLORS = ["#f59322", "#0877bd"]
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"]
TRAIN_COLOR, TEST_COLOR = "#1f77b4", "#ff7f0e"
RIGHT_COLOR, WRONG_COLOR = "#1a7f37", "#cf222e"
_TEMPLATE = go.layout.Template()                      # Streamlit's chart theme does the rest


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def _figure(data, layout):
    return go.Figure(data=data, layout=layout, _validate=VALIDATE)


def _layout(title, height=320, legend=True, margin=None, **axes):
    """A layout dict: left-aligned title, legend top right, ``axes`` as given.

    Margins are fixed (``autoexpand`` off): letting Plotly grow them for legends and
    colour bars makes it lay every chart out twice, the largest cost of a redraw.
    """
    m = dict(l=64, r=24, t=56, b=52, autoexpand=False)
    m.update(margin or {})
    return dict(template=_TEMPLATE, height=height, margin=m, showlegend=legend,
                title=dict(text=title, x=0.0, xanchor="left", xref="paper", font=dict(size=15)),
                legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
                **axes)


def _axis(title, **kw):
    return dict(title=dict(text=title), **kw)


def _subtitle(text, x, y):
    return dict(text=text, x=x, y=y, xref="paper", yref="paper", xanchor="center",
                yanchor="bottom", showarrow=False, font=dict(size=13))


def figure_bytes(fig) -> int:
    """Bytes of the figure's JSON, as ``st.plotly_chart`` sends it."""
    return len(pio.to_json(fig, validate=False))


def _hex_rgb(color):
    return [int(color[i:i + 2], 16) for i in (1, 3, 5)]


# -- curves ------------------------------------------------------------------------------
def _epochs(records):
    return np.array([r.epoch for r in records], np.int32)


def _mode(records):
    return "lines+markers" if len(records) <= 60 else "lines"


def _whole_ticks(n):
    """Axis settings for whole-number ticks over 0..n."""
    return dict(dtick=1) if n <= 12 else dict(tickformat="d")


def _curves(records, keys, scale, label, fmt):
    e = _epochs(records)
    data = []
    for name, key, color in (("train", keys[0], TRAIN_COLOR), ("test", keys[1], TEST_COLOR)):
        y = np.array([getattr(r, key) for r in records], np.float64) * scale
        if np.isnan(y).all():
            continue
        data.append(dict(type="scatter", x=e, y=y, name=name, mode=_mode(records),
                         line=dict(color=color),
                         hovertemplate=f"epoch %{{x}}<br>{name} {label} %{{y:{fmt}}}<extra></extra>"))
    return e, data


def _epoch_axis(e, **kw):
    """The epoch axis; before any training, a note saying the curves start with epoch 1."""
    axis = _axis("epoch", **_whole_ticks(int(e[-1])), **kw)
    if len(e) == 1:
        axis.update(range=[-0.5, 1.5], rangemode="normal")
    return axis


def _first_epoch_note(e):
    if len(e) > 1:
        return []
    return [dict(text="Epoch 0: before training.<br>Train an epoch to draw the curves.",
                 xref="paper", yref="paper", x=0.68, y=0.5, showarrow=False,   # clear of epoch 0
                 font=dict(size=13, color="#6e7781"))]


def _epoch_mark(epoch):
    """A dashed vertical line at the epoch shown on the slider (None: none)."""
    if epoch is None:
        return []
    return [dict(type="line", xref="x", yref="paper", x0=epoch, x1=epoch, y0=0, y1=1,
                 line=dict(color="#57606a", width=1, dash="dash"))]


def loss_curves(records, log=False, mark=None):
    """Train and test loss per epoch (epoch 0 = before training); ``mark``: an epoch to
    mark with a dashed line (the one the pages show)."""
    e, data = _curves(records, ("train_loss", "test_loss"), 1.0, "loss", ".4g")
    lrs = np.array([r.lr for r in records], np.float64)
    for trace in data:                  # each epoch's learning rate (it may follow a schedule)
        trace["customdata"] = lrs
        trace["hovertemplate"] = trace["hovertemplate"].replace(
            "<extra>", "<br>learning rate %{customdata:.3g}<extra>")
    yaxis = _axis("loss (log scale)" if log else "loss", type="log" if log else "linear")
    if not log:
        yaxis["rangemode"] = "tozero"
    else:                               # over a decade and a half: one labelled tick per decade
        v = np.array([[r.train_loss, r.test_loss] for r in records], np.float64).ravel()
        v = v[np.isfinite(v) & (v > 0)]
        if v.size and v.max() / v.min() >= 10 ** 1.5:
            yaxis.update(dtick=1, tickformat="~g", minor=dict(ticks="outside", ticklen=3,
                                                              showgrid=False))
    return _figure(data, _layout("Loss", yaxis=yaxis, xaxis=_epoch_axis(e, rangemode="tozero"),
                                 annotations=_first_epoch_note(e), shapes=_epoch_mark(mark)))


def accuracy_curves(records, mark=None):
    """Train and test accuracy (%) per epoch (``mark``: see :func:`loss_curves`)."""
    e, data = _curves(records, ("train_acc", "test_acc"), 100.0, "accuracy", ".2f")
    return _figure(data, _layout("Accuracy", yaxis=_axis("accuracy (%)", range=[0, 101]),
                                 xaxis=_epoch_axis(e, rangemode="tozero"),
                                 annotations=_first_epoch_note(e), shapes=_epoch_mark(mark)))


def epoch_times(records):
    """Time per epoch (bars, in ms below a second), with samples per second on hover."""
    recs = [r for r in records if r.epoch > 0]
    secs = np.array([r.seconds for r in recs], np.float64)
    ms = secs.size == 0 or secs.max() < 1.0
    unit = "ms" if ms else "s"
    many = len(recs) > 100                           # bars turn to a line past 100 epochs
    bar = dict(type="scatter" if many else "bar", x=_epochs(recs), y=secs * 1000 if ms else secs,
               customdata=np.array([r.samples_per_s for r in recs], np.float64),
               marker=dict(color=TRAIN_COLOR),
               hovertemplate=(f"epoch %{{x}}<br>%{{y:.3g}} {unit}<br>%{{customdata:,.0f}} "
                              "samples/s<extra></extra>"))
    if many:
        bar.update(mode="lines", line=dict(color=TRAIN_COLOR, width=1))
        del bar["marker"]
    return _figure([bar], _layout("Time per epoch", legend=False,
                                  xaxis=_axis("epoch", **_whole_ticks(recs[-1].epoch if recs else 0)),
                                  yaxis=_axis("milliseconds" if ms else "seconds")))


def norms(records):
    """Weight norm and last-batch gradient norm per layer over the epochs."""
    e = _epochs(records)
    data = []
    for i in range(len(records[0].weight_norms)):
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        w = np.array([r.weight_norms[i] for r in records], np.float64)
        g = np.array([r.grad_norms[i] if r.epoch > 0 else np.nan for r in records], np.float64)
        hover = f"epoch %{{x}}<br>layer {i + 1}: %{{y:.4g}}<extra></extra>"
        data.append(dict(type="scatter", x=e, y=w, name=f"layer {i + 1}", legendgroup=str(i),
                         line=dict(color=color), hovertemplate=hover))
        data.append(dict(type="scatter", x=e, y=g, name=f"layer {i + 1}", legendgroup=str(i),
                         showlegend=False, line=dict(color=color), xaxis="x2", yaxis="y2",
                         hovertemplate=hover))
    ticks = _whole_ticks(int(e[-1]))
    layout = _layout(
        "Norms per layer", height=320, margin=dict(t=84, r=110),
        xaxis=_axis("epoch", domain=[0, 0.44], anchor="y", **ticks),
        xaxis2=_axis("epoch", domain=[0.56, 1], anchor="y2", **ticks),
        yaxis=_axis("norm", anchor="x"),
        yaxis2=_axis("norm (log scale)", anchor="x2", type="log", nticks=5, tickformat=".2~g"),
        annotations=[_subtitle("weights ‖W‖", 0.22, 1.0),
                     _subtitle("gradients ‖∂L/∂W‖ (last batch)", 0.78, 1.0)])
    layout["legend"] = dict(orientation="v", yanchor="top", y=1.0, xanchor="left", x=1.02)
    return _figure(data, layout)


# -- data views --------------------------------------------------------------------------
def grid_points(X, n=100, pad=0.1, bounds=None):
    """A regular ``n x n`` grid over the data's 2-D range (plus ``pad`` of it).

    Returns ``xs`` (n,), ``ys`` (n,) and the points (n*n, 2), row-major in y.
    """
    if bounds is None:
        lo, hi = X.min(axis=0), X.max(axis=0)
        span = np.maximum(hi - lo, 1e-6)
        lo, hi = lo - pad * span, hi + pad * span
    else:
        lo, hi = np.array(bounds[0], float), np.array(bounds[1], float)
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.c_[gx.ravel(), gy.ravel()]


LOGIC_BOUNDS = ([-0.25, -0.25], [1.25, 1.25])   # a logic table's plane: its 0/1 corners
FEATURE_LABELS = {"x1": "x1", "x2": "x2", "x1^2": "x1²", "x2^2": "x2²", "x1*x2": "x1·x2",
                  "sin(x1)": "sin x1", "sin(x2)": "sin x2"}      # nncore.datasets.FEATURES


def data_plane(data, n):
    """``grid_points`` over the plane of a 2-D dataset (``data.on_plane``): around all its
    points (train and test), or the unit square with a margin for a logic table.
    Returns ``xs``, ``ys`` and the network's inputs at the grid points (the points
    themselves, or the features the data's inputs are made of)."""
    if data.kind == "logic":
        xs, ys, points = grid_points(data.P_train, n, bounds=LOGIC_BOUNDS)
    else:
        xs, ys, points = grid_points(np.r_[data.P_train, data.P_test], n)
    return xs, ys, data.plane_inputs(points)


def plane_answers(data, network, n):
    """``xs``, ``ys`` of :func:`data_plane` and ``network``'s class probabilities on that
    grid (what :func:`boundary_field` draws)."""
    xs, ys, points = data_plane(data, n)
    return xs, ys, network_probabilities(network, points)


def _png_uri(rgb):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


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
        p = np.clip(probs[:, -1].astype(np.float64), 0, 1)[:, None]
        stops = np.array([_hex_rgb(c) for _, c in PLAYGROUND], np.float64)
        rgb = np.where(p < 0.5, stops[0] + (stops[1] - stops[0]) * (p * 2),
                       stops[1] + (stops[2] - stops[1]) * (p * 2 - 1))
        top = class_names[-1]
        traces.append(dict(                     # no points: it only carries the colour bar
            type="scatter", x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
            marker=dict(color=[0.0], cmin=0, cmax=1, colorscale=PLAYGROUND, showscale=True,
                        colorbar=dict(title=dict(text=f"P({top})", side="right"), thickness=12))))
    else:
        colors = CLASS_COLORS
        palette = np.array([_hex_rgb(colors[c % len(colors)]) for c in range(k)], np.float64)
        rgb = 0.55 * (probs.astype(np.float64) @ palette) + 0.45 * 255.0   # paler: points stand out
    img = np.clip(rgb, 0, 255).astype(np.uint8).reshape(n_y, n_x, 3)[::-1]   # row 0 = top
    images = [dict(source=_png_uri(img), xref="x", yref="y", x=xs[0] - dx / 2, y=ys[-1] + dy / 2,
                   sizex=n_x * dx, sizey=n_y * dy, sizing="stretch", layer="below")]
    return traces, images, colors


def boundary_layout(title, xs, ys, images, n_classes):
    """The square plane of :func:`boundary_field` with its legend below."""
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    layout = _layout(
        title, height=440, margin=dict(t=48, b=90, r=90 if n_classes <= 2 else 24),
        xaxis=_axis("x1", range=[xs[0] - dx / 2, xs[-1] + dx / 2], showgrid=False, zeroline=False,
                    constrain="domain"),
        yaxis=_axis("x2", range=[ys[0] - dy / 2, ys[-1] + dy / 2], showgrid=False, zeroline=False,
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
                type="scatter", x=_f32(X[m, 0]), y=_f32(X[m, 1]), mode="markers",
                name=f"{cname} ({part})", legendgroup=str(cname), showlegend=part == "train",
                marker=dict(color=color, symbol=symbol, size=size + (part == "test"),
                            line=dict(color=line, width=1)),
                hovertemplate=f"{part}: {cname}<br>x1 %{{x:.2f}}, x2 %{{y:.2f}}<extra></extra>"))
    marks = "train ●, test ◆" if X_test is not None else "the data ●"
    return _figure(data, boundary_layout(f"Decision boundary at epoch {epoch} ({marks})", xs, ys,
                                         images, len(class_names)))


GRAPH_MAX_UNITS = 32       # network diagrams are drawn for layers up to this wide
GRAPH_HOVER_MAX = 600      # ... with each weight's value on hover up to this many weights
NEG_EDGE, POS_EDGE = "#2166ac", "#b2182b"   # the heatmaps' blue (negative) and red (positive)


def network_graph(layers, activations, in_names, out_names, epoch, value="weight"):
    """The network as a diagram: units as circles (filled by their bias), every weight as a
    line from unit to unit, blue negative and red positive, thicker and darker the larger
    it is next to the largest weight of the network. ``layers`` [(W, b or None), ...]."""
    sizes = [layers[0][0].shape[0]] + [W.shape[1] for W, _ in layers]
    in_names = list(in_names) if len(in_names) == sizes[0] else [f"x{i + 1}" for i in range(sizes[0])]
    out_names = list(out_names) if len(out_names) == sizes[-1] else \
        [f"output {j}" for j in range(sizes[-1])]
    top = max(float(np.max(np.abs(W))) for W, _ in layers) or 1e-12
    tall = max(sizes)

    def ys(n):                          # unit 0 at the top, as in the heatmaps
        return ((n - 1) / 2 - np.arange(n)) * (1.0 if n > 1 else 0.0)

    pos = [ys(n) for n in sizes]
    bins = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0001]
    widths, alphas = [0.6, 1.2, 2.0, 3.2, 4.5], [0.25, 0.4, 0.55, 0.75, 0.95]
    data, mid_x, mid_y, mid_text = [], [], [], []
    for sign, color in ((-1, NEG_EDGE), (1, POS_EDGE)):
        r, g, b = _hex_rgb(color)
        for k in range(len(widths)):
            xs_, ys_ = [], []
            for l, (W, _) in enumerate(layers):
                rel = np.abs(W) / top
                pick = (np.sign(W) == sign) & (rel >= bins[k]) & (rel < bins[k + 1])
                for i, j in zip(*np.nonzero(pick)):
                    xs_ += [l, l + 1, None]
                    ys_ += [pos[l][i], pos[l + 1][j], None]
            if xs_:
                data.append(dict(type="scatter", mode="lines", x=xs_, y=ys_, hoverinfo="skip",
                                 showlegend=False, line=dict(width=widths[k],
                                                             color=f"rgba({r},{g},{b},{alphas[k]})")))
    for l, (W, _) in enumerate(layers if sum(W.size for W, _ in layers) <= GRAPH_HOVER_MAX else []):
        src = in_names if l == 0 else [f"unit {i}" for i in range(W.shape[0])]
        dst = out_names if l == len(layers) - 1 else [f"unit {j}" for j in range(W.shape[1])]
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                mid_x.append(l + 0.5)
                mid_y.append((pos[l][i] + pos[l + 1][j]) / 2)
                where = "input" if l == 0 else f"layer {l}"
                mid_text.append(f"{value} {where} {src[i]} → layer {l + 1} {dst[j]}: {W[i, j]:.4g}")
    if mid_text:                        # each weight's value on hover (small networks)
        data.append(dict(type="scatter", mode="markers", x=_f32(mid_x), y=_f32(mid_y),
                         text=mid_text, hoverinfo="text", marker=dict(size=6, opacity=0),
                         showlegend=False))
    node_x, node_y, node_c, node_text = [], [], [], []
    bias_top = max([float(np.max(np.abs(b))) for _, b in layers if b is not None] + [1e-12])
    for l, n in enumerate(sizes):
        names = in_names if l == 0 else out_names if l == len(sizes) - 1 else \
            [f"unit {j}" for j in range(n)]
        b = None if l == 0 else layers[l - 1][1]
        for j in range(n):
            node_x.append(l)
            node_y.append(pos[l][j])
            node_c.append(0.0 if b is None else float(b[j]))
            what = "input" if l == 0 else f"layer {l} ({activations[l - 1]})"
            node_text.append(f"{what} {names[j]}" + ("" if b is None else f"<br>bias {b[j]:.4g}"))
    data.append(dict(type="scatter", mode="markers", x=_f32(node_x), y=_f32(node_y),
                     text=node_text, hoverinfo="text", showlegend=False,
                     marker=dict(size=16 if tall <= 12 else 11 if tall <= 24 else 8, color=node_c,
                                 colorscale=DIVERGING, cmin=-bias_top, cmax=bias_top,
                                 line=dict(color="#555", width=1))))
    notes = [_subtitle("input" if l == 0 else "output" if l == len(sizes) - 1 else
                       f"layer {l} ({activations[l - 1]})", l, 1.0) for l in range(len(sizes))]
    for a, l in zip(notes, range(len(sizes))):
        a.update(xref="x", x=l)
    for j, name in enumerate(in_names):
        notes.append(dict(text=str(name), x=-0.08, y=pos[0][j], xref="x", yref="y",
                          xanchor="right", showarrow=False, font=dict(size=11)))
    for j, name in enumerate(out_names):
        notes.append(dict(text=str(name), x=len(sizes) - 1 + 0.08, y=pos[-1][j], xref="x",
                          yref="y", xanchor="left", showarrow=False, font=dict(size=11)))
    span = (tall - 1) / 2 + 0.7
    return _figure(data, _layout(
        f"The network at epoch {epoch}: {'weights' if value == 'weight' else 'changes (ΔW)'} "
        "as lines (blue negative, red positive, thicker = larger), units filled by their bias", height=max(260, min(760, 120 + 22 * tall)),
        legend=False, margin=dict(l=70, r=90, t=72, b=16), annotations=notes,
        xaxis=_axis("", visible=False, range=[-0.6, len(sizes) - 0.4]),
        yaxis=_axis("", visible=False, range=[-span, span])))


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
    stops = np.array([_hex_rgb(c) for _, c in PLAYGROUND], np.float64)
    hover_x, hover_y, hover_text = [], [], []
    for r, (out, name, title, units) in enumerate(rows):
        for j in range(min(max_units, out.shape[1])):
            v = out[:, j].reshape(len(ys), g)[::-1]            # row 0 = top of the plane
            lo, hi = float(v.min()), float(v.max())
            if name == "sigmoid":                              # its own 0..1 scale, 0.5 grey
                p = v
            else:                                              # zero grey, +-max blue/orange
                p = (v / (max(abs(lo), abs(hi)) or 1.0) + 1) / 2
            p = p[:, :, None]
            tile = np.where(p < 0.5, stops[0] + (stops[1] - stops[0]) * (p * 2),
                            stops[1] + (stops[2] - stops[1]) * (p * 2 - 1))
            y0, x0 = r * (g + gap + band) + band, j * (g + gap)
            rgb[y0:y0 + g, x0:x0 + g] = np.clip(tile, 0, 255).astype(np.uint8)
            hover_x.append(x0 + (g - 1) / 2)
            hover_y.append(y0 + (g - 1) / 2)
            what = "value" if title == "input" else "output"
            hover_text.append(f"{title}, {units[j]}<br>{what} from {lo:.3g} to {hi:.3g}")
    picture = dict(type="image", source=_png_uri(rgb), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip")
    hover = dict(type="scatter", mode="markers", x=_f32(hover_x), y=_f32(hover_y), text=hover_text,
                 marker=dict(size=g, opacity=0, symbol="square"), hoverinfo="text",
                 showlegend=False)
    notes = []
    for r, (out, name, title, units) in enumerate(rows):
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
    return _figure([picture, hover], _layout(
        f"What each hidden unit computes at epoch {epoch}: its output over the input plane",
        height=height, legend=False, margin=dict(l=8, r=8, t=48, b=8), annotations=notes,
        xaxis=_axis("", visible=False, constrain="domain", range=[-0.5, cols_px - 0.5]),
        yaxis=_axis("", visible=False, autorange="reversed", scaleanchor="x",
                    constrain="domain")))


def _montage(tiles, cols, gap, band=0):
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
    z = np.nan_to_num(_montage(tiles, cols, gap, band), nan=0.0)
    grey = 255 - np.clip(np.rint(z * 255), 0, 255).astype(np.uint8)
    right = np.asarray(labels) == np.asarray(guesses)
    rows_, cols_ = np.divmod(np.arange(k), cols)
    arrow = "<br>→ " if two_lines else " → "
    texts = [f"{class_names[labels[i]]} ✓" if right[i]
             else f"{class_names[labels[i]]}{arrow}{class_names[guesses[i]]}" for i in range(k)]
    notes = dict(type="scatter", mode="text", x=_f32(cols_ * (w + gap) + (w - 1) / 2),
                 y=_f32(rows_ * (h + gap + band) + h + band / 2 - 0.5), text=texts,
                 textfont=dict(size=10 if two_lines else 11,
                               color=[RIGHT_COLOR if r else WRONG_COLOR for r in right]),
                 hoverinfo="skip", showlegend=False)
    n_wrong = int(np.count_nonzero(~right))
    picture = dict(type="image", source=_png_uri(np.repeat(grey[:, :, None], 3, axis=2)),
                   x0=0, y0=0, dx=1, dy=1, hoverinfo="skip")
    return _figure([picture, notes], _layout(
        f"Test samples at epoch {epoch}: label, or label → guess ({n_wrong} of {k} wrong)",
        height=120 + (80 if two_lines else 60) * math.ceil(k / cols), legend=False,
        margin=dict(l=8, r=8, t=48, b=8),
        xaxis=_axis("sample", visible=False, constrain="domain"),
        yaxis=_axis("sample", visible=False, autorange="reversed", scaleanchor="x",
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
    return _figure(data, _layout(f"Outputs vs targets at epoch {epoch}", barmode="group",
                                 xaxis=_axis("input", type="category"),
                                 yaxis=_axis("value", range=[0, 1.05])))


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
        data.append(dict(type="scatter", x=_f32(P[m, 0]), y=_f32(P[m, 1]), mode="markers",
                         name=str(name), marker=dict(color=CLASS_COLORS[c % len(CLASS_COLORS)], size=6),
                         hovertemplate=f"{name}<br>PC1 %{{x:.2f}}, PC2 %{{y:.2f}}<extra></extra>"))
    pc = lambda i: f"PC{i + 1} ({var[i]:.0%} of variance)" if i < len(var) else f"PC{i + 1}"
    return _figure(data, _layout("Training data on its first two principal components", 420,
                                 xaxis=_axis(pc(0)), yaxis=_axis(pc(1))))


# -- weights -----------------------------------------------------------------------------
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
        return _f32(A), (1, 1)
    R, C = math.ceil(r / fr), math.ceil(c / fc)
    if r % fr == 0 and c % fc == 0:
        return _f32(A.reshape(R, fr, C, fc).mean(axis=(1, 3))), (fr, fc)
    padded = np.full((R * fr, C * fc), np.nan, np.float64)
    padded[:r, :c] = A
    return _f32(np.nanmean(padded.reshape(R, fr, C, fc), axis=(1, 3))), (fr, fc)


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
    Wd, (fr, fc) = (_f32(W), (1, 1)) if full else block_average(W)
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
    xaxis = _axis("unit", showgrid=False, zeroline=False)
    if cols <= 20:
        xaxis["dtick"] = max(1, math.ceil(cols / 10)) * fc
    yaxis = _axis(in_label, autorange="reversed", showgrid=False, zeroline=False)
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
    return _figure(data, _layout(title, height=height, legend=False, margin=dict(r=90, l=72),
                                 coloraxis=_coloraxis(zmax, value), **axes))


def unit_images(W, shape, n_units, title, value="weight", cols=8):
    """The first ``n_units`` columns of W (h*w, n_out) as h x w images on one diverging scale."""
    h, w = shape
    k = min(n_units, W.shape[1])
    tiles = np.asarray(W[:, :k], np.float32).T.reshape(k, h, w)
    lim = float(np.max(np.abs(tiles))) or 1e-12
    gap = max(1, h // 14)
    rows = math.ceil(k / cols)
    heat = dict(type="heatmap", z=_montage(tiles, cols, gap), coloraxis="coloraxis",
                hovertemplate=f"{value} %{{z:.4g}}<extra></extra>")
    n_cols = min(cols, k)
    return _figure([heat], _layout(
        title, height=90 + 70 * rows, legend=False, coloraxis=_coloraxis(lim, value),
        margin=dict(r=90, l=72),
        xaxis=_axis("unit (column: + offset)", showgrid=False, zeroline=False, constrain="domain",
                    tickvals=[c * (w + gap) + (w - 1) / 2 for c in range(n_cols)],
                    ticktext=[f"+{c}" for c in range(n_cols)]),
        yaxis=_axis("units", showgrid=False, zeroline=False, constrain="domain",
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
            notes.append(_subtitle(f"layer {i + 1} {what}", sum(xd) / 2, top))
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
            data.append(dict(type="bar", x=_f32((edges[:-1] + edges[1:]) / 2),
                             y=counts.astype(np.int32), width=float(edges[1] - edges[0]) or None,
                             marker=dict(color=color), xaxis=f"x{sx}", yaxis=f"y{sx}",
                             showlegend=False,
                             hovertemplate="value %{x:.3g}<br>%{y} values<extra></extra>"))
    return _figure(data, _layout(title, height=height, legend=False, margin=dict(t=90),
                                 bargap=0.02, annotations=notes, **axes))
