"""Admitting a run: the one way every path makes the Trainer a session will hold.

A run comes from the sidebar's setup (:func:`admit_config`) or from a training-state file:
a loaded snapshot, a crash checkpoint, a stored run (:func:`admit_snapshot`). Both check
the limits (``dashboard/limits.py``: :func:`limits.check_run`) against what is built,
and before building it wherever the size can be known without building (a dataset's
options, IDX headers: :func:`nncore.datasets.data_size`); never against what a file says
about itself. Nothing here knows of Streamlit.

Datasets (never runs) are shared read-only between sessions (:data:`SHARED_DATA`).
"""
from __future__ import annotations

import json
import threading

from dashboard import limits
from nncore import RunConfig, Trainer, snapshot
from nncore.datasets import PATH_OPTIONS, data_size
from nncore.snapshot import SnapshotError
from nncore.trainer import load_run_data, network_sizes


class DataError(ValueError):
    """The dataset of a setup could not be built (missing files, bad options, too large)."""


class _SharedData:
    """Datasets built for one session, lent read-only to every session that asks for the
    same data (name, options, seed, precision): a class that opens the app at once shares
    one copy of the MNIST sample instead of holding thirty. Only data, never a run; at most
    ``size`` entries and ``max_bytes`` of arrays (the oldest go; sessions that hold one keep
    it). Data read from a path a user named is not shared: the file may change."""

    def __init__(self, size=6, max_bytes=256 * 2**20):
        self.size, self.max_bytes, self.items = size, max_bytes, {}
        self.lock = threading.Lock()

    def get(self, cfg: RunConfig, build):
        if any(k in PATH_OPTIONS for k in cfg.dataset_options):
            return build()
        key = (cfg.dataset, json.dumps(cfg.dataset_options, sort_keys=True, default=str),
               cfg.seed, cfg.dtype)
        with self.lock:
            data = self.items.pop(key, None)
            if data is None:
                data = build().read_only()
            self.items[key] = data                    # most recently used last
            while self.items and (len(self.items) > self.size or sum(
                    d.nbytes for d in self.items.values()) > self.max_bytes):
                self.items.pop(next(iter(self.items)))
            return data


SHARED_DATA = _SharedData()


def check_before_building(cfg: RunConfig, lim, sizes=None):
    """The limits that can be checked before the data are built: files named in the
    options, depth, and the training samples the options and files say (IDX headers), with
    the work of an epoch on ``sizes`` (the network's, if known, else estimated)."""
    limits.check_paths(cfg.dataset, cfg.dataset_options, lim)
    limits.check_depth(cfg.hidden, lim)
    try:
        size = data_size(cfg.dataset, cfg.dataset_options)
    except (ValueError, OSError) as exc:
        raise DataError(str(exc)) from None
    if size is None:
        return
    n_train, n_in = size
    limits.check_data(cfg.dataset, n_train, cfg.passes_per_epoch, lim)
    if sizes is None and cfg.spatial:      # conv layers need the image shape: checked once built
        return
    limits.check_work(sizes or [n_in, *cfg.hidden, 1], n_train, cfg, lim)


def _build(cfg):
    try:
        return SHARED_DATA.get(cfg, lambda: load_run_data(cfg))
    except ValueError as exc:
        raise DataError(str(exc)) from None
    except OSError as exc:
        raise DataError(f"{cfg.dataset}: cannot read the data ({exc})") from None


def run_data(cfg: RunConfig, lim):
    """The Dataset that ``Trainer(cfg)`` builds (the same seed stream), shared between
    sessions; refused (DataError) before it is built when the limits say so."""
    try:
        check_before_building(cfg, lim)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    return _build(cfg)


def admit_config(cfg: RunConfig, lim, data=None) -> Trainer:
    """A fresh Trainer for ``cfg`` within ``lim``; ``data`` if given (the same data as
    ``cfg`` builds, e.g. the current run's). Raises ValueError (DataError for the data)."""
    if data is None:
        data = run_data(cfg, lim)
    limits.check_run(cfg, network_sizes(cfg, data), data.X_train.shape[0], lim)
    return Trainer(cfg, data=data, history_budget=lim.history_bytes)


def admit_snapshot(snap: snapshot.Snapshot, lim, data=None) -> Trainer:
    """A new Trainer continuing ``snap`` within ``lim``; ``data`` is used if it is the data
    the run trained on (else they are built from its config, after the checks). Raises
    SnapshotError naming the problem; nothing else is touched."""
    cfg = snap.run_config(allow_paths=lim.allow_paths)
    try:
        limits.check_depth(snap.sizes[1:-1], lim)
        limits.check_network(snap.sizes, snap.n_params, lim)
        if data is None or snapshot.data_fingerprint(data) != snap.fingerprint:
            check_before_building(cfg, lim, snap.sizes)
            data = _build(cfg)
        limits.check_run(cfg, network_sizes(cfg, data), data.X_train.shape[0], lim)
    except DataError as exc:
        raise SnapshotError(f"config.dataset: cannot rebuild {cfg.dataset!r} on this machine "
                            f"({exc}); the run needs the data it was trained on") from None
    except ValueError as exc:
        raise SnapshotError(str(exc)) from None
    return snap.to_trainer(data=data, history_budget=lim.history_bytes, allow_paths=lim.allow_paths)
