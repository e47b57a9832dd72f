"""Pure figure builders of the Predictions page: NumPy arrays in, ``go.Figure`` out.

The gallery and the confusion matrix carry a layer of invisible square markers, one per
tile or cell: Plotly heatmaps emit no point selections, markers do, so a click on a tile
or a cell reaches ``st.plotly_chart(..., on_select="rerun")`` as that marker's
``customdata``.
"""
from __future__ import annotations

import html
import math

import numpy as np
from PIL import Image

from .base import INK, RIGHT_COLOR, WRONG_COLOR, f32, layout_dict, make_figure

TILE_PX = 104              # drawn height of one gallery image, px
TITLE_PX = 36              # height of the two title lines above each image, px
NEUTRAL = "#0b6bcb"        # the top guess when the truth is unknown (uploads)
OTHER = "#b8c0cc"          # the other classes
DIAG_SCALE = [[0.0, "#eaf5ec"], [1.0, RIGHT_COLOR]]
OFF_SCALE = [[0.0, "#fbe9e9"], [1.0, WRONG_COLOR]]
ACCURACY_SCALE = [[0.0, WRONG_COLOR], [0.5, "#d4a72c"], [1.0, RIGHT_COLOR]]   # 50% .. 100%


def _short(name, n=11):
    name = str(name)
    return name if len(name) <= n else name[:n - 1] + "…"


def _pct(p):
    return f"{100 * p:.0f}%" if p >= 0.995 or p < 0.005 or round(100 * p) >= 10 else f"{100 * p:.1f}%"


def tile_title(top, top_p, label, class_names):
    """The title lines of a gallery tile, as the tutorials wrote them.

    Right: "Correct guess! 7" and its probability; wrong: "Guessed 3, then 5" with both
    probabilities and the true label. Two lines for short class names (digits), three
    shorter ones for long names (e.g. "Ankle boot").
    """
    name = lambda c: _short(class_names[c])
    nxt = len(top) > 1 and top_p[1] >= 0.01
    if _long_names(class_names):
        if top[0] == label:
            return ["Correct guess!", f"{name(top[0])} {_pct(top_p[0])}",
                    f"next {name(top[1])} {_pct(top_p[1])}" if nxt else ""]
        return [f"Guessed {name(top[0])}" + ("," if len(top) > 1 else ""),
                f"then {name(top[1])}" if len(top) > 1 else "",
                f"{' / '.join(_pct(p) for p in top_p[:2])} · true {name(label)}"]
    if top[0] == label:
        second = f"{_pct(top_p[0])} sure"
        if nxt:
            second += f" · next {name(top[1])} {_pct(top_p[1])}"
        return [f"Correct guess! {name(top[0])}", second]
    first = f"Guessed {name(top[0])}" + (f", then {name(top[1])}" if len(top) > 1 else "")
    probs = " / ".join(_pct(p) for p in top_p[:2])
    return [first, f"{probs} · true {name(label)}"]


def _long_names(class_names):
    return max((len(str(c)) for c in class_names), default=0) > 3


def gallery(images, shape, labels, top, top_p, class_names, ids, title, cols=5, selected=None):
    """A grid of test images, each framed green (right) or red (wrong) under its title.

    Parameters
    ----------
    images : ndarray (m, h*w)
        Pixel values in [0, 1], ink high (drawn dark on white).
    shape : (h, w)
    labels : ndarray (m,) int
        True classes.
    top, top_p : ndarray (m, t)
        Best guesses and their probabilities, best first (t >= 1).
    class_names : list of str
    ids : ndarray (m,) int
        Sample numbers (rows of the test set); the tiles' markers carry them as customdata.
    title : str
    cols : int
        Tiles per row.
    selected : int, optional
        Sample number whose frame is drawn thicker.
    """
    h, w = shape
    m = len(images)
    long = _long_names(class_names)
    if long:                                       # room for "Guessed Pullover, then Shirt"
        cols = min(cols, 4)
    cols = max(1, min(cols, m)) if m else max(1, cols)
    rows = max(1, math.ceil(m / cols))
    scale = TILE_PX / h                            # px per image pixel
    band = (TITLE_PX + (12 if long else 0)) / scale   # title band, in image pixels
    gap = max(1.0, (0.4 if long else 0.18) * w)
    cell_w, cell_h = w + gap, h + band + gap
    data, shapes, notes, xs, ys, hover = [], [], [], [], [], []
    if m:
        # one heatmap, NaN (transparent) between the tiles; image rows top to bottom
        z = np.full((int(math.ceil(rows * cell_h)), int(math.ceil(cols * cell_w))), np.nan,
                    np.float32)
        for i in range(m):
            r, c = divmod(i, cols)
            y0, x0 = int(round(r * cell_h + band)), int(round(c * cell_w))
            z[y0:y0 + h, x0:x0 + w] = np.asarray(images[i], np.float32).reshape(h, w)
        data.append(dict(type="heatmap", z=z, colorscale=INK, zmin=0, zmax=1,
                         showscale=False, hoverinfo="skip"))
    for i in range(m):
        r, c = divmod(i, cols)
        x0, y0 = round(c * cell_w) - 0.5, round(r * cell_h + band) - 0.5
        right = int(top[i][0]) == int(labels[i])
        color = RIGHT_COLOR if right else WRONG_COLOR
        thick = 5 if selected is not None and int(ids[i]) == int(selected) else 2.5
        shapes.append(dict(type="rect", x0=x0 - 0.3, x1=x0 + w + 0.3, y0=y0 - 0.3,
                           y1=y0 + h + 0.3, line=dict(color=color, width=thick), layer="above"))
        first, *rest = tile_title(top[i], top_p[i], int(labels[i]), class_names)
        small = "<br>".join(f"<span style='font-size:10px'>{r}</span>" for r in rest)
        notes.append(dict(x=x0 + w / 2, y=y0 - 0.4, xref="x", yref="y", yanchor="bottom",
                          showarrow=False, align="center",
                          font=dict(size=11 if long else 12, color=color),
                          text=f"<b>{first}</b><br>{small}"))
        xs.append(x0 + w / 2)
        ys.append(y0 + h / 2)
        guesses = "<br>".join(f"{class_names[int(k)]}: {100 * float(p):.1f}%"
                              for k, p in zip(top[i], top_p[i]))
        hover.append(f"sample #{int(ids[i])} · true <b>{class_names[int(labels[i])]}</b>"
                     f"<br>{guesses}<br><i>click for every class</i>")
    if m:
        data.append(dict(type="scatter", x=f32(xs), y=f32(ys), mode="markers",
                         marker=dict(size=TILE_PX, symbol="square", opacity=0, color="#000"),
                         customdata=np.asarray(ids, np.int64), hovertext=hover,
                         hovertemplate="%{hovertext}<extra></extra>", showlegend=False,
                         name="samples"))
    layout = layout_dict(
        title, int(56 + rows * cell_h * scale + 10), legend=False,
        margin=dict(l=8, r=8, t=48, b=8, autoexpand=True),
        shapes=shapes, annotations=notes, dragmode=False, hovermode="closest",
        xaxis=dict(visible=False, range=[-0.5 - gap / 2, cols * cell_w - gap / 2 - 0.5],
                   constrain="domain", fixedrange=True),
        yaxis=dict(visible=False, range=[rows * cell_h - 0.5, -0.5], scaleanchor="x",
                   constrain="domain", fixedrange=True))
    return make_figure(data, layout)


def confusion_heatmap(cm, class_names, title, selected=None):
    """Counts of (true, guessed) pairs: right answers on the diagonal in green, mistakes
    in red, each on its own scale so that a few mistakes still show.

    ``cm`` (k, k): row = true class, column = guess. ``selected`` = (true, guess) or None
    frames that cell. Each cell's marker carries ``[true, guess]`` as customdata.
    """
    cm = np.asarray(cm, np.int64)
    k = cm.shape[0]
    eye = np.eye(k, dtype=bool)
    diag = np.where(eye, cm, np.nan).astype(np.float32)
    off = np.where(~eye & (cm > 0), cm, np.nan).astype(np.float32)
    axis = np.arange(k)
    data = []
    for z, scale, name in ((diag, DIAG_SCALE, "right"), (off, OFF_SCALE, "wrong")):
        finite = z[np.isfinite(z)]
        data.append(dict(type="heatmap", x=axis, y=axis, z=z, colorscale=scale, zmin=0,
                         zmax=max(float(finite.max()) if finite.size else 1.0, 1.0),
                         showscale=False, texttemplate="%{z:d}", hoverinfo="skip", name=name,
                         xgap=1, ygap=1))
    tt, gg = np.meshgrid(axis, axis, indexing="ij")
    tt, gg = tt.ravel(), gg.ravel()
    totals = cm.sum(axis=1)
    counts = cm[tt, gg]
    hover = [f"true <b>{class_names[t]}</b>, guessed <b>{class_names[g]}</b>: {n} "
             f"sample{'s' if n != 1 else ''}"
             + (f" ({100 * n / totals[t]:.1f}% of the {class_names[t]}s)" if totals[t] else "")
             + ("<br><i>click to show them</i>" if n else "")
             for t, g, n in zip(tt, gg, counts)]
    height = max(300, 110 + max(18, min(52, int(340 / k))) * k)
    cell_px = max(8, int(0.92 * (height - 108) / k))    # plot area = height - margins
    data.append(dict(type="scatter", x=gg, y=tt, mode="markers", customdata=np.c_[tt, gg],
                     marker=dict(size=cell_px, symbol="square", opacity=0, color="#000"),
                     hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
                     showlegend=False, name="cells"))
    shapes = []
    if selected is not None:
        t, g = selected
        shapes.append(dict(type="rect", x0=g - 0.5, x1=g + 0.5, y0=t - 0.5, y1=t + 0.5,
                           line=dict(color="#1f2328", width=3), layer="above"))
    names = [_short(c, 12) for c in class_names]
    ticks = dict(tickmode="array", tickvals=axis, ticktext=names, showgrid=False, zeroline=False,
                 fixedrange=True)
    layout = layout_dict(title, height, legend=False, margin=dict(autoexpand=True), shapes=shapes, dragmode=False,
                     hovermode="closest", plot_bgcolor="#ffffff",
                     xaxis=dict(title=dict(text="guessed"), range=[-0.5, k - 0.5], **ticks),
                     yaxis=dict(title=dict(text="true"), range=[k - 0.5, -0.5], **ticks))
    # the title starts at the figure's edge: long class names push the plot area right
    layout["title"].update(xref="container", x=0.01)
    return make_figure(data, layout)


def per_class_accuracy(acc, counts, class_names, overall, title):
    """Bars of each class's accuracy (%), with the overall accuracy as a dashed line.

    ``acc`` (k,) in [0, 1] (NaN: class absent); ``counts`` (k,) samples per class. Bars go
    from red (50% or less) through amber to green (100%).
    """
    acc = np.asarray(acc, np.float64)
    counts = np.asarray(counts, np.int64)
    known = np.isfinite(acc)
    pct = np.where(known, 100 * np.nan_to_num(acc), 0.0)
    right = np.round(np.nan_to_num(acc) * counts).astype(int)
    text = [f"{p:.0f}%" if ok else "–" for p, ok in zip(pct, known)]
    hover = [f"class <b>{n}</b>: " + (f"{r} of {c} right ({p:.1f}%)" if c else "no samples")
             for n, p, r, c in zip(class_names, pct, right, counts)]
    names = [str(c) for c in class_names]
    data = [dict(type="bar", x=names, y=f32(pct),
                 marker=dict(color=f32(pct), colorscale=ACCURACY_SCALE, cmin=50, cmax=100),
                 text=text, textposition="outside", textfont=dict(size=10),
                 constraintext="none", hovertext=hover, cliponaxis=False,
                 hovertemplate="%{hovertext}<extra></extra>")]
    shapes = []
    if np.isfinite(overall):
        y = 100 * float(overall)
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, y0=y, y1=y,
                           line=dict(color="#57606a", dash="dash", width=1.5),
                           layer="below"))        # under the bars' labels, not through them
    xtitle = "true class" + (f" (dashed line: all classes, {100 * overall:.1f}%)"
                             if np.isfinite(overall) else "")
    layout = layout_dict(title, 320, legend=False, margin=dict(autoexpand=True), shapes=shapes,
                     xaxis=dict(title=dict(text=xtitle), type="category"),
                     yaxis=dict(title=dict(text="accuracy"), range=[0, 115], tickmode="array",
                                tickvals=[0, 25, 50, 75, 100],
                                ticktext=["0%", "25%", "50%", "75%", "100%"]))
    return make_figure(data, layout)


def probability_bars(probs, class_names, title=None, label=None, height=230):
    """Every class's probability for one input; the top guess stands out.

    With a known ``label`` the top guess is green if right, red if wrong (and the true
    class's bar is outlined); without one it is blue.
    """
    probs = np.asarray(probs, np.float64)
    best = int(np.argmax(probs))
    top_color = NEUTRAL if label is None else RIGHT_COLOR if best == int(label) else WRONG_COLOR
    colors = [top_color if i == best else OTHER for i in range(len(probs))]
    outline = [2 if label is not None and i == int(label) and i != best else 0
               for i in range(len(probs))]
    data = [dict(type="bar", x=[str(c) for c in class_names], y=f32(probs),
                 marker=dict(color=colors, line=dict(color="#1f2328", width=outline)),
                 text=[_pct(p) if p >= 0.02 else "" for p in probs], textposition="outside",
                 cliponaxis=False, hovertemplate="%{x}: %{y:.2%}<extra></extra>")]
    layout = layout_dict(title or "", height, legend=False,
                         margin=dict(l=44, r=8, t=40 if title else 12, b=32, autoexpand=True),
                     xaxis=dict(type="category"),
                     yaxis=dict(range=[0, 1.15], tickformat=".0%", dtick=0.25))
    return make_figure(data, layout)


STRIP_CSS = (
    "<style>.nn-pstrip{display:flex;align-items:flex-end;gap:3px;font-size:11px;color:#57606a}"
    ".nn-pcol{flex:1 1 0;min-width:0;display:flex;flex-direction:column;justify-content:flex-end;"
    "text-align:center}.nn-pbar{border-radius:2px 2px 0 0}"
    ".nn-plab{border-top:1px solid #d0d7de;padding-top:2px;white-space:nowrap;overflow:hidden}"
    ".nn-pval{white-space:nowrap;font-size:10px;line-height:14px}</style>")


def probability_strip(probs, class_names, height=110):
    """Every class's probability as a small HTML bar chart (for ``st.html``; the page adds
    :data:`STRIP_CSS` once).

    The cards of uploaded images use this instead of :func:`probability_bars`: twenty
    Plotly charts on one page cost the browser about a second to lay out, twenty of these
    almost nothing. The top guess is blue, the others grey; hovering a bar shows its value.
    """
    probs = np.asarray(probs, np.float64)
    best = int(np.argmax(probs))
    cols = []
    for i, (name, p) in enumerate(zip(class_names, probs)):
        value = _pct(p) if p >= 0.02 else ""
        cols.append(
            f'<div class="nn-pcol" title="{html.escape(str(name))}: {100 * p:.2f}%">'
            f'<div class="nn-pval">{value}</div>'
            f'<div class="nn-pbar" style="height:{max(1, round(height * float(p)))}px;'
            f'background:{NEUTRAL if i == best else OTHER}"></div>'
            f'<div class="nn-plab">{html.escape(_short(name, 6))}</div></div>')
    return (f'<div class="nn-pstrip" style="height:{height + 34}px">' + "".join(cols)
            + "</div>")


def digit_picture(array, side=112):
    """A preprocessed (h, w) array in [0, 1] (ink high) as a PIL image, ink dark on white,
    enlarged with crisp pixels to ``side`` px."""
    a = np.clip(np.asarray(array, np.float32), 0, 1)
    img = Image.fromarray(np.round(255 * (1 - a)).astype(np.uint8), "L")
    h, w = a.shape
    s = max(1, side // max(h, w))
    return img.resize((w * s, h * s), Image.Resampling.NEAREST)
