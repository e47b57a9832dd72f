"""Several runs on one chart: loss and accuracy curves overlaid, one colour a run."""
from __future__ import annotations

import numpy as np

from .base import CLASS_COLORS, axis_dict, layout_dict, make_figure


def _overlay(runs_records, names, keys, scale, label, fmt, title, yaxis):
    """Test (solid) and train (dotted) curves of every run; the legend names the runs."""
    data = []
    for i, (records, name) in enumerate(zip(runs_records, names)):
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        e = np.array([r.epoch for r in records], np.int32)
        for part, key, dash in (("test", keys[1], "solid"), ("train", keys[0], "dot")):
            y = np.array([getattr(r, key) for r in records], np.float64) * scale
            if np.isnan(y).all():
                continue
            data.append(dict(type="scatter", x=e, y=y, mode="lines", name=name,
                             legendgroup=str(i), showlegend=part == "test",
                             line=dict(color=color, dash=dash, width=2 if part == "test" else 1.5),
                             hovertemplate=f"{name}<br>epoch %{{x}}<br>{part} "
                                           f"{label} %{{y:{fmt}}}<extra></extra>"))
    top = max((int(r[-1].epoch) for r in runs_records if r), default=1)
    layout = layout_dict(title, height=380, margin=dict(t=48, b=110),
                         xaxis=axis_dict("epoch", rangemode="tozero",
                                         **(dict(dtick=1) if top <= 12 else dict(tickformat="d"))),
                         yaxis=yaxis)
    layout["legend"] = dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0.0)
    return make_figure(data, layout)


def compare_loss(runs_records, names, log=False):
    """Loss per epoch of each run (``runs_records``: one list of records a run)."""
    yaxis = axis_dict("loss (log scale)" if log else "loss", type="log" if log else "linear")
    if not log:
        yaxis["rangemode"] = "tozero"
    return _overlay(runs_records, names, ("train_loss", "test_loss"), 1.0, "loss", ".4g",
                    "Loss (solid: test, dotted: train)", yaxis)


def compare_accuracy(runs_records, names):
    """Accuracy (%) per epoch of each run."""
    return _overlay(runs_records, names, ("train_acc", "test_acc"), 100.0, "accuracy", ".2f",
                    "Accuracy (solid: test, dotted: train)", axis_dict("accuracy (%)", range=[0, 101]))
