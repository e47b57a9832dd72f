"""Checks across the parts of a decoded document: parts that must agree, values that must be
in range. A file that passes the field checks can still say two things at once (stored
weights that are not the weights it resumes from) or hold a state training cannot go on
from; these refuse it, naming the field."""
from __future__ import annotations

import math

import numpy as np

from .format import SnapshotError

ACCURACIES = ("train_acc", "test_acc")
LOSSES = ("train_loss", "test_loss")


def check_record_values(rec, path):
    """Accuracies in [0, 1] and losses >= 0 (``rec``: the record's dict of values)."""
    for key in ACCURACIES:
        v = rec[key]
        if not math.isnan(v) and not 0.0 <= v <= 1.0:
            raise SnapshotError(f"{path}.{key}: an accuracy is from 0 to 1, got {v:g}")
    for key in LOSSES:
        v = rec[key]
        if not math.isnan(v) and v < 0:
            raise SnapshotError(f"{path}.{key}: a loss is 0 or more, got {v:g}")


def check_state_metrics(metrics, record, path, records_path):
    """A stored epoch's metrics are that epoch's record (the same numbers)."""
    for key, mine in vars(metrics).items():
        theirs = getattr(record, key)
        same = (mine == theirs or (isinstance(mine, float) and isinstance(theirs, float)
                                   and math.isnan(mine) and math.isnan(theirs)))
        if not same:
            raise SnapshotError(f"{path}.metrics.{key}: {_short(mine)} differs from "
                                f"{records_path}.{key} {_short(theirs)} (the same epoch's record)")


def check_latest_state(states, resume):
    """The stored weights of the epoch the run resumes from are the weights it resumes
    from, bit for bit (else predicting, replaying and training on would disagree)."""
    for i, s in enumerate(states):
        if s["epoch"] != resume["epoch"]:
            continue
        diff = np.flatnonzero(s["params"] != resume["params"])
        if diff.size:
            raise SnapshotError(f"training_states[{i}].layers: the weights of epoch {s['epoch']} "
                                f"differ from resume.params (the same epoch) in {diff.size:,} of "
                                f"{s['params'].size:,} values")


def check_optimizer_state(resume, optimizer):
    """Gradients finite; Adam's second moments ``v`` (running means of squares) >= 0."""
    grads = resume["grads"]
    bad = int(np.count_nonzero(~np.isfinite(grads)))
    if bad:
        raise SnapshotError(f"resume.grads: {bad} of {grads.size} values are NaN or infinite")
    v = resume["optimizer"].get("v") if optimizer == "adam" else None
    if v is not None and np.any(v < 0):
        n = int(np.count_nonzero(v < 0))
        raise SnapshotError(f"resume.optimizer.state.v: {n} of {v.size} values are negative "
                            "(a running mean of squared gradients is 0 or more)")


def _short(v):
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
