"""The network diagram: every weight as a line, every unit filled by its bias."""
from __future__ import annotations

import numpy as np

from .base import DIVERGING, axis_dict, f32, hex_rgb, layout_dict, make_figure, subtitle

GRAPH_MAX_UNITS = 32       # network diagrams are drawn for layers up to this wide
GRAPH_HOVER_MAX = 600      # ... with each weight's value on hover up to this many weights
NEG_EDGE, POS_EDGE = "#e07b00", "#0877bd"   # the heatmaps' orange (negative) and blue (positive)


def network_graph(layers, activations, in_names, out_names, epoch, value="weight"):
    """The network as a diagram: units as circles (filled by their bias), every weight as a
    line from unit to unit, orange negative and blue positive, thicker and darker the larger
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
        r, g, b = hex_rgb(color)
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
        data.append(dict(type="scatter", mode="markers", x=f32(mid_x), y=f32(mid_y),
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
    data.append(dict(type="scatter", mode="markers", x=f32(node_x), y=f32(node_y),
                     text=node_text, hoverinfo="text", showlegend=False,
                     marker=dict(size=16 if tall <= 12 else 11 if tall <= 24 else 8, color=node_c,
                                 colorscale=DIVERGING, cmin=-bias_top, cmax=bias_top,
                                 line=dict(color="#555", width=1))))
    notes = [subtitle("input" if l == 0 else "output" if l == len(sizes) - 1 else
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
    return make_figure(data, layout_dict(
        f"The network at epoch {epoch}: {'weights' if value == 'weight' else 'changes (ΔW)'} "
        "as lines (orange negative, blue positive, thicker = larger), units filled by their bias", height=max(260, min(760, 120 + 22 * tall)),
        legend=False, margin=dict(l=70, r=90, t=72, b=16), annotations=notes,
        xaxis=axis_dict("", visible=False, range=[-0.6, len(sizes) - 0.4]),
        yaxis=axis_dict("", visible=False, range=[-span, span])))
