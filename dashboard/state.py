"""The session's run and the helpers every page uses, over ``st.session_state``.

One browser session owns one run: an :class:`nncore.Trainer` kept in
``st.session_state`` (never at module level: a hosted app serves everyone from one
process). Only datasets are shared between sessions, read-only (:data:`SHARED_DATA`).
The contract the pages rely on:

- :func:`get_trainer` the current Trainer, made from the sidebar's setup if there is none;
- :func:`replace_trainer` install another Trainer as the run (e.g. a loaded snapshot);
  the sidebar shows its setup from the next full rerun;
- :func:`selected_epoch` the epoch chosen on the epoch slider (default: the latest);
- :func:`show_error` a short ``st.error``; details go to the server log.

The sidebar calls :func:`apply_config` on every full rerun: a change of a hard setting
(data, layers, activations, loss, optimiser, seed, ...) starts a new run; a change of a
soft one (learning rate, momentum, batch, L2, dropout, ...) applies from the next epoch.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import streamlit as st

from dashboard import admit, autosave, limits, plaintext
from nncore import Diverged, RunConfig, Trainer
from nncore.datasets import FEATURE_LABELS
from nncore.presets import default_config
from nncore.text import shape_text
from nncore.trainer import SOFT_SETTINGS

log = logging.getLogger("dashboard")

DEFAULT_DATASET = "moons"
LIMITS = limits.current()    # local or hosted (dashboard/limits.py): the same for every session

# Session-state keys (the sidebar's widget keys live in sidebar.py).
TRAINER = "trainer"          # the run: a Trainer
SETUP = "base_config"         # the setup the sidebar edits; fields without a widget come from it
SYNC_WIDGETS = "sync_widgets"        # a RunConfig (explicit activations) to write into the sidebar widgets
NOTICE = "run_notice"        # what just happened to the run (new run, reset, settings changed)
PREVIOUS = "previous_run"    # the run a new run replaced, while its notice shows (for Undo)
EPOCH = "selected_epoch"     # the epoch chosen on the slider; None follows the latest
EPOCHS_LEFT = "epochs_left"         # epochs still to train in a "Train N epochs" run (0 = idle)
EPOCHS_TOTAL = "epochs_total"       # N of that run, for the progress bar
ERROR = "train_error"        # why training stopped (divergence), or None
SETUP_ERROR = "setup_error"  # why the sidebar's setup cannot start a run, or None

# Page widgets whose values survive a switch to another page (see app.py).
PAGE_WIDGETS = {"loss_log": True, "w_view": "Weights", "w_fullres": False,
                "w_per_layer": False, "w_units": 32, "w_norms": False, "w_image": 0,
                "pred_view": "Test samples", "pred_mistakes": False, "pred_sort": "Data order",
                "pred_true": "Any", "pred_guess": "Any"}

LABELS = {"dataset": "dataset", "dataset_options": "dataset options", "hidden": "hidden layers",
          "activations": "activations", "biases": "biases", "init": "initialiser", "loss": "loss",
          "optimizer": "optimiser", "seed": "seed", "dtype": "precision", "lr": "learning rate",
          "lr_schedule": "learning-rate schedule", "lr_decay": "decay per epoch",
          "momentum": "momentum", "beta1": "Adam β1", "beta2": "Adam β2", "eps": "Adam ε",
          "batch": "batch mode", "batch_size": "batch size", "shuffle": "shuffling", "l2": "L2",
          "dropout": "dropout", "epochs": "epochs per run", "passes_per_epoch": "passes per epoch",
          "target_loss": "target loss"}
DATA_KEYS = ("dataset", "dataset_options", "seed", "dtype")


def init_session():
    """Session defaults (idempotent)."""
    ss = st.session_state
    if SETUP not in ss:
        ss[SETUP] = default_config(DEFAULT_DATASET)
    for key, value in ((SYNC_WIDGETS, None), (NOTICE, None), (PREVIOUS, None), (EPOCH, None), (EPOCHS_LEFT, 0),
                       (EPOCHS_TOTAL, 0),
                       (ERROR, None), (SETUP_ERROR, None), *PAGE_WIDGETS.items()):
        ss.setdefault(key, value)


# -- building runs (dashboard/admit.py: one way for every path) ---------------------------
DataError = admit.DataError
SHARED_DATA = admit.SHARED_DATA     # datasets (never runs) lent read-only between sessions


def run_data(cfg: RunConfig):
    """The Dataset that ``Trainer(cfg)`` builds (the same seed stream), to check sizes
    before making the network and to share between runs on the same data."""
    return admit.run_data(cfg, LIMITS)


def new_trainer(cfg: RunConfig, data=None) -> Trainer:
    """A fresh Trainer for ``cfg``; raises ValueError (too large, bad data) naming why."""
    return admit.admit_config(cfg, LIMITS, data)


def explicit(trainer: Trainer) -> RunConfig:
    """The run's config with its activations spelled out (as the sidebar shows them)."""
    return trainer.config.replace(activations=list(trainer.network.activations))


def _normal(cfg: RunConfig, n_out=None, target=None) -> dict:
    d = cfg.to_dict()
    if n_out is not None:
        d["activations"] = cfg.layer_activations(n_out, target)
    return d


def _fmt(key, value):
    if key == "features":                  # as the sidebar shows them: x1², x1·x2, sin x1
        return ", ".join(FEATURE_LABELS.get(f, f) for f in str(value).split(","))
    if key == "hidden":
        return shape_text(value) if value else "none"
    if key == "activations":
        return ", ".join(value) if value else "default"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_changes(old: dict, new: dict, keys) -> str:
    """``"hidden layers 16-8 → 32; seed 0 → 1"`` for the keys that differ."""
    parts = []
    for key in keys:
        if key == "dataset_options":
            a, b = old[key], new[key]
            parts += [f"{k} {_fmt(k, a.get(k))} → {_fmt(k, b.get(k))}"
                      for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        else:
            parts.append(f"{LABELS.get(key, key)} {_fmt(key, old[key])} → {_fmt(key, new[key])}")
    return "; ".join(parts)


def _install(trainer: Trainer, message=None, sync=False):
    ss = st.session_state
    old = ss.get(TRAINER)
    # the last trained run that was replaced can be had back (Undo) until training goes on;
    # replacing an untrained run keeps that offer
    if message and old is not None and old is not trainer and old.epoch:
        ss[PREVIOUS] = old
    elif ss.get(PREVIOUS) is trainer:
        ss[PREVIOUS] = None
    ss[TRAINER] = trainer
    ss[SETUP] = trainer.config
    ss[SYNC_WIDGETS] = explicit(trainer) if sync else None
    ss[EPOCH] = None
    ss[EPOCHS_LEFT] = 0
    ss[ERROR] = None
    ss[SETUP_ERROR] = None
    ss[NOTICE] = message         # every page shows it as a banner (no toast over the buttons)


def apply_config(cfg: RunConfig, reason=None) -> str | None:
    """Make the run follow ``cfg``; return what changed (also shown as a banner: state.NOTICE), or None.

    A changed hard setting starts a new run (``reason`` names it if given); changed soft
    settings apply from the next epoch. Raises ValueError (DataError for the data) and
    leaves the current run untouched when ``cfg`` cannot be built.
    """
    ss = st.session_state
    tr = ss.get(TRAINER)
    if tr is None:
        _install(new_trainer(cfg))
        ss[SETUP] = cfg
        return None
    old = _normal(tr.config, tr.data.n_out, tr.data.target)
    same_data = all(getattr(cfg, k) == old[k] for k in DATA_KEYS)
    new = _normal(cfg, tr.data.n_out if same_data else None, tr.data.target)
    hard = [k for k in new if k not in SOFT_SETTINGS and new[k] != old[k]]
    if hard:
        fresh = new_trainer(cfg, tr.data if same_data else None)
        what = reason or describe_changes(old, new, ["dataset"] if "dataset" in hard else hard)
        message = f"New run ({what}): starting at epoch 0."
        _install(fresh, message)
        ss[SETUP] = cfg
        return message
    soft = [k for k in SOFT_SETTINGS if new[k] != old[k]]
    if soft:
        tr.update_settings(**{k: new[k] for k in soft})
        message = (f"{describe_changes(old, new, soft)}: applies from epoch {tr.epoch + 1}; "
                   f"the run goes on.")
        ss[NOTICE] = message
        ss[SETUP] = cfg
        return message
    ss[SETUP] = cfg
    return None


# -- the contract used by every page ------------------------------------------------------
def get_trainer() -> Trainer:
    """The session's Trainer, made from the sidebar's setup (or the default) if none."""
    ss = st.session_state
    tr = ss.get(TRAINER)
    if tr is None:
        init_session()
        try:
            tr = new_trainer(ss[SETUP])
        except Exception as exc:  # a broken setup must not leave the session without a run
            log.warning("cannot build the setup %s: %s", ss[SETUP], exc)
            ss[SETUP] = default_config(DEFAULT_DATASET)
            tr = new_trainer(ss[SETUP])
        ss[TRAINER] = tr
    return tr


def replace_trainer(trainer: Trainer, message=None):
    """Install ``trainer`` as the session's run (e.g. after loading a snapshot).

    The curves, heatmaps and epoch slider show it at once; the sidebar widgets take its
    setup at the start of the next full rerun (before they are drawn), so the sidebar
    never mistakes the loaded run for a change of setup. ``message`` is shown as a toast
    and in the training panel.
    """
    _install(trainer, message, sync=True)


def selected_epoch() -> int:
    """The epoch chosen on the epoch slider, or the latest if none was chosen."""
    tr = get_trainer()
    e = st.session_state.get(EPOCH)
    if e is None or e > tr.epoch:
        return tr.epoch
    return int(e)


FOLLOW = "follow_latest"      # set by Stop: this rerun's slider value may be a stale frame's
WHOLE_PAGE = "rerun_whole_page"   # a click in the training panel changed what the sidebar shows


def select_epoch(epoch):
    """Choose ``epoch`` for every page (None or the latest: follow training). Ignored while
    a "Train N epochs" run goes on or is being stopped: the slider then follows the run, and
    the value a click sends with it can be an older frame's."""
    tr = get_trainer()
    ss = st.session_state
    if ss.get(EPOCHS_LEFT) or ss.get(FOLLOW):
        ss[EPOCH] = None
        return
    ss[EPOCH] = None if epoch is None or epoch >= tr.epoch else int(epoch)


def error_text(exc_or_text) -> str:
    """A short message for a user: ValueErrors as they are (they name the bad value)."""
    if isinstance(exc_or_text, BaseException):
        exc = exc_or_text
        if isinstance(exc, ValueError):
            text = str(exc)
        else:
            text = (f"Something went wrong ({type(exc).__name__}: {exc}). Details are in the "
                    "server log.")
    else:
        text = str(exc_or_text)
    return text if len(text) <= 600 else text[:597] + "..."


def show_error(exc_or_text, container=None):
    """Show a short ``st.error`` (in ``container`` if given); log the details."""
    if isinstance(exc_or_text, BaseException) and not isinstance(exc_or_text, ValueError):
        log.error("error shown to the user", exc_info=exc_or_text)
    else:
        log.info("user error: %s", exc_or_text)
    plaintext.error(limits.public_text(error_text(exc_or_text), LIMITS), container)


# -- training ----------------------------------------------------------------------------
def train_epochs(n=1, budget_s=None, stop=None, final_save=True) -> int:
    """Train up to ``n`` epochs; stop early after ``budget_s`` seconds, at the target loss,
    when the loss diverges (the message goes to ``ERROR``; the last good epoch stays), or
    between two batches once ``stop()`` is true (that partial epoch is dropped).
    ``final_save=False`` (a frame of a longer run): only the throttled saves, the caller
    saves when the run ends. Returns the number of epochs trained."""
    ss = st.session_state
    tr = get_trainer()
    ss[ERROR] = None
    ss[NOTICE] = ss[PREVIOUS] = None
    ss[EPOCH] = None
    start, done = time.perf_counter(), 0
    n, why = limits.epochs_allowed(n, tr.epoch, LIMITS)
    try:
        limits.check_run(tr.config, tr.network.sizes, tr.data.X_train.shape[0], LIMITS)
    except ValueError as exc:          # passes and batch are soft settings: checked here
        n, why = 0, str(exc)
    if n == 0:
        ss[ERROR] = why
        ss[EPOCHS_LEFT] = 0
    while done < n:
        try:
            with np.errstate(all="ignore"):    # a diverging run is reported below, not warned
                if tr.run_epoch(stop=stop) is None:
                    break
        except Diverged as exc:
            ss[ERROR] = str(exc)
            ss[EPOCHS_LEFT] = 0
            break
        except Exception as exc:
            log.error("training failed", exc_info=exc)
            ss[ERROR] = f"Training stopped at epoch {tr.epoch}: {error_text(exc)}"
            ss[EPOCHS_LEFT] = 0
            break
        done += 1
        autosave.after_epoch(tr)      # to the run store, at most every 0.25 s
        target = tr.config.target_loss
        if target is not None and tr.records[-1].train_loss <= target:
            ss[NOTICE] = (f"Reached the target loss {target:g} at epoch {tr.epoch} "
                          f"(train loss {tr.records[-1].train_loss:.3g}).")
            ss[EPOCHS_LEFT] = 0
            break
        if budget_s is not None and time.perf_counter() - start >= budget_s:
            break
    if done and final_save:
        autosave.after_epoch(tr, final=True)
    return done


def undo_run():
    """Put back the run the last new run replaced (its setup into the sidebar too)."""
    ss = st.session_state
    prev = ss.get(PREVIOUS)
    if prev is None:
        return
    _install(prev, f"Back to the previous run: {prev.config.dataset} at epoch {prev.epoch}.",
             sync=True)
    ss[WHOLE_PAGE] = True         # the click reran only the training panel: redraw the sidebar


def rewind_run(epoch):
    """Go back to stored ``epoch`` of the run and train on from there (later epochs dropped)."""
    tr = get_trainer()
    last = tr.epoch
    before = tr.copy()
    tr.rewind(epoch)
    ss = st.session_state
    ss[PREVIOUS] = before           # Undo puts the dropped epochs back
    ss[EPOCH], ss[EPOCHS_LEFT], ss[ERROR] = None, 0, None
    ss[NOTICE] = (f"Back at epoch {epoch}: epochs {epoch + 1}–{last} were dropped and training goes "
                  f"on from here (the optimiser's state starts afresh).")


def reset_run():
    """Back to epoch 0 with the same setup and seed: the same starting weights."""
    tr = get_trainer()
    fresh = new_trainer(tr.config, tr.data)
    _install(fresh, f"Reset: back to epoch 0 with seed {tr.config.seed}, the same start as before.")


def run_summary(tr: Trainer) -> str:
    """One line naming the run: data, shape, optimiser."""
    cfg = tr.config
    return (f"**{cfg.dataset}** · {shape_text(tr.network.sizes)} "
            f"({', '.join(tr.network.activations)}) · {cfg.loss} · {cfg.optimizer} {cfg.lr_text()}"
            f" · {tr.network.n_params:,} parameters")
