"""Runs kept side by side: what Add to comparison keeps, the labels that tell runs apart,
and the table of their setups.

A kept run is small and bounded: its setup, its records (the curves), its latest weights
and one picture at its latest epoch, computed when it is kept (the decision boundary of
2-D data, else the confusion matrix of the held-out samples). It holds no dataset and no
history. The session keeps at most ``Limits.max_compare_runs`` of them within
``Limits.compare_bytes``, checked before anything is copied.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from dashboard import address, state
from nncore import RunConfig, predict
from nncore.text import size_text

RUNS = "compare_runs"          # session key: the kept runs, oldest first
MESSAGE = "compare_message"    # what the last Add to comparison did (shown under the button)
GRID = 80                      # decision-boundary resolution per side
RECORD_BYTES = 600             # an epoch record in memory, about (its norms lists included)
MAX_LABEL_KEYS = 3


@dataclass
class KeptRun:
    config: RunConfig
    activations: list
    sizes: list
    source: str                # "this session" or the file's name
    epoch: int
    records: list
    params: np.ndarray         # the latest weights, flat
    view: dict = field(default_factory=dict)   # the picture at the latest epoch (see _view)

    @property
    def nbytes(self) -> int:
        arrays = [self.params, *(v for v in self.view.values() if isinstance(v, np.ndarray))]
        return sum(a.nbytes for a in arrays) + RECORD_BYTES * len(self.records)

    def settings(self) -> dict:
        return address.all_settings(self.config, self.activations)


def runs() -> list:
    return st.session_state.setdefault(RUNS, [])


def _estimate(tr) -> int:
    """Bytes a kept copy of ``tr`` will take, before making it."""
    data = tr.data
    if data.on_plane:
        n_points = len(data.P_train) + len(data.P_test)
        view = GRID * GRID * max(data.n_out, 2) * 4 + n_points * 16 + 2 * GRID * 8   # (x, y) + label
    else:
        view = max(data.n_out, 2) ** 2 * 8
    return tr.network.params.nbytes + RECORD_BYTES * len(tr.records) + view


def check_room_for_file(lim=None):
    """Raise ValueError if the comparison is full (before a file is read)."""
    lim = lim or state.LIMITS
    if len(runs()) >= lim.max_compare_runs:
        raise ValueError(f"the comparison holds at most {lim.max_compare_runs} runs (a limit): "
                         "remove one first")


def check_room(tr, lim=None):
    """Raise ValueError if keeping ``tr`` would pass the limits (count or bytes)."""
    lim = lim or state.LIMITS
    kept = runs()
    if len(kept) >= lim.max_compare_runs:
        raise ValueError(f"the comparison holds at most {lim.max_compare_runs} runs (a limit): "
                         "remove one on the Compare page first")
    need, used = _estimate(tr), sum(r.nbytes for r in kept)
    if used + need > lim.compare_bytes:
        raise ValueError(f"this run takes {size_text(need)} and the comparison already holds "
                         f"{size_text(used)} of {size_text(lim.compare_bytes)} (a limit): remove "
                         "a run on the Compare page first")


def _view(tr) -> dict:
    """The picture of ``tr`` at its latest epoch, as small arrays."""
    data, net = tr.data, tr.network
    if data.on_plane:
        xs, ys, probs = predict.plane_answers(data, net, GRID)
        f32 = np.float32
        logic = data.kind == "logic"
        view = dict(kind="plane", xs=np.asarray(xs, f32), ys=np.asarray(ys, f32),
                    probs=np.asarray(probs, f32), P_train=np.asarray(data.P_train, f32),
                    y_train=np.asarray(_labels(data, data.Y_train)),
                    class_names=_class_names(data))
        if not logic and len(data.P_test):
            view.update(P_test=np.asarray(data.P_test, f32),
                        y_test=np.asarray(_labels(data, data.Y_test)))
        return view
    if predict.can_evaluate(data):
        X, Y, part = data.X_test, data.Y_test, "held-out"
        if len(X) == 0:
            X, Y, part = data.X_train, data.Y_train, "training"
        ev = predict.evaluate(net, X, Y, data)
        return dict(kind="confusion", cm=ev.confusion().astype(np.int64),
                    class_names=list(ev.class_names), part=part)
    return {}


def _labels(data, Y):
    return Y[:, 0].astype(int) if data.target == "binary" else data.labels(Y)


def _class_names(data):
    return ["0", "1"] if data.target == "binary" else [str(c) for c in data.class_names]


def keep(tr, source="this session", lim=None) -> KeptRun:
    """Keep a copy of ``tr`` as it is now; raises ValueError naming a limit."""
    check_room(tr, lim)
    run = KeptRun(config=tr.config, activations=list(tr.network.activations),
                  sizes=list(tr.network.sizes), source=source, epoch=tr.epoch,
                  records=list(tr.records), params=tr.network.params.copy(), view=_view(tr))
    runs().append(run)
    return run


def add_current():
    """Add to comparison (a button's callback): keep the session's run."""
    ss = st.session_state
    tr = state.get_trainer()
    try:
        keep(tr)
    except ValueError as exc:
        ss[MESSAGE] = ("error", state.error_text(exc))
        return
    n = len(runs())
    ss[MESSAGE] = ("ok", f"Kept {tr.config.dataset} at epoch {tr.epoch}: {n} run"
                         f"{'s' if n != 1 else ''} on the Compare page.")


def add_button(running=False):
    """The Add to comparison button and what it last did (in the training panel)."""
    ss = st.session_state
    st.button("Add to comparison", key="btn_compare", on_click=add_current, disabled=running,
              icon=":material/compare:",
              help="Keep this run as it is now (its setup, curves and latest weights) to show "
                   "beside others on the Compare page")
    msg = ss.pop(MESSAGE, None)
    if msg:
        (st.error if msg[0] == "error" else st.caption)(msg[1])


def remove(i):
    kept = runs()
    if 0 <= i < len(kept):
        kept.pop(i)


def clear():
    runs().clear()


# -- telling runs apart --------------------------------------------------------------------
def differing(kept) -> list:
    """Setting keys whose value is not the same in every kept run, in the address's order."""
    settings = [r.settings() for r in kept]
    keys = list(dict.fromkeys(k for s in settings for k in s))
    return [k for k in keys if len({s.get(k, "–") for s in settings}) > 1]


def labels(kept) -> list:
    """One label per run naming what differs: ``lr 0.01`` / ``lr 0.1``; the epoch or the run's
    number when the setups are the same."""
    keys = differing(kept)
    out = []
    for i, r in enumerate(kept):
        s = r.settings()
        parts = [f"{k} {s.get(k, '–')}" for k in keys[:MAX_LABEL_KEYS]]
        if len(keys) > MAX_LABEL_KEYS:
            parts.append(f"+{len(keys) - MAX_LABEL_KEYS} more")
        if not parts and len({x.epoch for x in kept}) > 1:
            parts = [f"epoch {r.epoch}"]
        out.append(" · ".join(parts) or f"run {i + 1}")
    if len(set(out)) < len(out):                  # the same label twice: number them
        out = [f"{i + 1}. {label}" for i, label in enumerate(out)]
    return out


def setup_table(kept):
    """Rows ``[name, value per run]`` and whether each row differs between the runs: the
    settings that differ first, then each run's latest numbers, then the shared settings."""
    settings = [r.settings() for r in kept]
    keys = list(dict.fromkeys(k for s in settings for k in s))
    last = [r.records[-1] for r in kept]
    rows = [[k, *[s.get(k, "–") for s in settings]] for k in keys]
    results = [["epoch", *[str(r.epoch) for r in kept]],
               ["train loss", *[f"{x.train_loss:.4g}" for x in last]],
               ["test loss", *[f"{x.test_loss:.4g}" for x in last]],
               ["test accuracy", *[f"{x.test_acc:.1%}" for x in last]],
               ["from", *[r.source for r in kept]]]
    differs = [len(set(r[1:])) > 1 for r in rows]
    ordered = ([r for r, d in zip(rows, differs) if d] + results
               + [r for r, d in zip(rows, differs) if not d])
    return ordered, [len(set(r[1:])) > 1 for r in ordered]


def used_text(lim=None) -> str:
    lim = lim or state.LIMITS
    kept = runs()
    return (f"{len(kept)} of {lim.max_compare_runs} runs, "
            f"{size_text(sum(r.nbytes for r in kept))} of {size_text(lim.compare_bytes)}")

