"""Loss, accuracy, epoch-time and norm curves over the epochs of a run."""
from __future__ import annotations

import numpy as np

from .base import CLASS_COLORS, TEST_COLOR, TRAIN_COLOR, axis_dict, layout_dict, make_figure, subtitle


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
    axis = axis_dict("epoch", **_whole_ticks(int(e[-1])), **kw)
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


def log_ticks(lo, hi, most=7):
    """Tick values for a log axis over ``lo``..``hi`` (> 0): 1, 2, 5 or finer steps of each
    decade, the coarsest set that gives at least three ticks (at most ``most``)."""
    lo, hi = float(lo), float(max(hi, lo * 1.0001))
    decades = range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
    for steps in ((1,), (1, 3), (1, 2, 5), (1, 1.5, 2, 3, 5, 7), tuple(range(1, 10)),
                  tuple(np.arange(1, 10, 0.5))):
        ticks = [float(f"{m * 10.0 ** d:.3g}") for d in decades for m in steps]
        ticks = [t for t in ticks if lo * 0.98 <= t <= hi * 1.02]
        if len(ticks) >= 3:
            return ticks[:: max(1, int(np.ceil(len(ticks) / most)))]
    return [float(f"{lo:.3g}"), float(f"{hi:.3g}")]


def loss_curves(records, log=False, mark=None):
    """Train and test loss per epoch (epoch 0 = before training); ``mark``: an epoch to
    mark with a dashed line (the one the pages show)."""
    e, data = _curves(records, ("train_loss", "test_loss"), 1.0, "loss", ".4g")
    lrs = np.array([r.lr for r in records], np.float64)
    for trace in data:                  # each epoch's learning rate (it may follow a schedule)
        trace["customdata"] = lrs
        trace["hovertemplate"] = trace["hovertemplate"].replace(
            "<extra>", "<br>learning rate %{customdata:.3g}<extra>")
    yaxis = axis_dict("loss (log scale)" if log else "loss", type="log" if log else "linear")
    if not log:
        yaxis["rangemode"] = "tozero"
    else:                               # every tick labelled (Plotly's own says "9 8 7 ... 2")
        v = np.array([[r.train_loss, r.test_loss] for r in records], np.float64).ravel()
        v = v[np.isfinite(v) & (v > 0)]
        if v.size:
            ticks = log_ticks(v.min(), v.max())
            yaxis.update(tickmode="array", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    return make_figure(data, layout_dict("Loss", yaxis=yaxis, xaxis=_epoch_axis(e, rangemode="tozero"),
                                 annotations=_first_epoch_note(e), shapes=_epoch_mark(mark)))


def accuracy_curves(records, mark=None):
    """Train and test accuracy (%) per epoch (``mark``: see :func:`loss_curves`)."""
    e, data = _curves(records, ("train_acc", "test_acc"), 100.0, "accuracy", ".2f")
    return make_figure(data, layout_dict("Accuracy", yaxis=axis_dict("accuracy (%)", range=[0, 101]),
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
    return make_figure([bar], layout_dict("Time per epoch", legend=False,
                                  xaxis=axis_dict("epoch", **_whole_ticks(recs[-1].epoch if recs else 0)),
                                  yaxis=axis_dict("milliseconds" if ms else "seconds")))


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
    layout = layout_dict(
        "Norms per layer", height=320, margin=dict(t=84, r=110),
        xaxis=axis_dict("epoch", domain=[0, 0.44], anchor="y", **ticks),
        xaxis2=axis_dict("epoch", domain=[0.56, 1], anchor="y2", **ticks),
        yaxis=axis_dict("norm", anchor="x"),
        yaxis2=axis_dict("norm (log scale)", anchor="x2", type="log", nticks=5, tickformat=".2~g"),
        annotations=[subtitle("weights ‖W‖", 0.22, 1.0),
                     subtitle("gradients ‖∂L/∂W‖ (last batch)", 0.78, 1.0)])
    layout["legend"] = dict(orientation="v", yanchor="top", y=1.0, xanchor="left", x=1.02)
    return make_figure(data, layout)
