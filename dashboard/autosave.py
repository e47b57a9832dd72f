"""Saving the session's run to the run store after its epochs (local and hosted).

The session owns one token (made at its first save, never taken from a link: a session
that opens a link writes a copy under its own token, dashboard/resume.py), so no two
sessions ever write one run. Within a run of many epochs (Train N, Play) epochs are saved
at most every ``MIN_INTERVAL_S`` and so that writing takes at most ``MAX_SHARE`` of the
time; the end of a click, of a run, and Stop always save. When the store cannot be used (unreachable, full) the session is told
once in the training panel and goes on in memory; it tries again after ``RETRY_S``.
"""
from __future__ import annotations

import logging
import time

import streamlit as st

from dashboard import runlink, runstore

log = logging.getLogger("dashboard")

MIN_INTERVAL_S = 0.25            # within one click, save at most this often ...
MAX_SHARE = 0.05                 # ... and spend at most about this share of the time writing
RETRY_S = 30.0                   # after a failure, try the store again this much later

# Session-state keys.
TOKEN = "run_token"              # this session's run in the store (secret: never logged)
LAST_SAVE = "store_last_save"    # perf_counter of this session's last write (or failure)
WRITE_S = "store_write_s"        # how long that write took
SAVED = "store_saved"            # (id of the trainer, epoch) of that write
PROBLEM = "store_problem"        # why the run is not being saved, or None
TOLD = "store_told"              # a message about the store shown once (e.g. the run was dropped)


def store() -> runstore.RunStore:
    return runstore.open_store()


def token(ss=None) -> str:
    """The session's token (made on first use)."""
    ss = st.session_state if ss is None else ss
    if not runstore.valid_token(ss.get(TOKEN)):
        ss[TOKEN] = runstore.new_token()
    return ss[TOKEN]


def after_epoch(trainer, final=False, ss=None):
    """Save the session's run after a completed epoch, throttled (see the module's
    docstring). Never raises: a failure is shown in the training panel, training goes on.
    ``ss``: the session's state (default ``st.session_state``; a dict for benchmarks)."""
    if trainer.epoch == 0:
        return
    given, ss = ss, st.session_state if ss is None else ss
    now, key = time.perf_counter(), (id(trainer), trainer.epoch)
    wait = RETRY_S if ss.get(PROBLEM) else max(MIN_INTERVAL_S, ss.get(WRITE_S, 0.0) / MAX_SHARE)
    if ss.get(SAVED) == key or ((not final or ss.get(PROBLEM)) and now - ss.get(LAST_SAVE, -1e9) < wait):
        return
    save_now(trainer, now, given)


def save_now(trainer, started=None, ss=None) -> bool:
    """Write the run now; True if it was stored (and the address bar names it)."""
    bare = ss is not None
    ss = st.session_state if ss is None else ss
    started = time.perf_counter() if started is None else started
    try:
        s = store()
        saved = s.save(token(ss), runstore.dump_run(trainer, s.cfg.history_bytes), trainer.epoch,
                       runstore.summary_line(trainer))
    except runstore.StoreError as exc:
        if not ss.get(PROBLEM):
            log.warning("run %s not stored: %s", runstore.short_hash(token(ss)), exc)
        ss[PROBLEM] = (f"Your run is not being saved: {exc}. Training goes on in memory; "
                       "use Download training state (Snapshots page) to keep it.")
        ss[LAST_SAVE] = time.perf_counter()
        return False
    except Exception as exc:              # e.g. a run that cannot be written: keep training
        log.error("run %s not stored", runstore.short_hash(token(ss)), exc_info=exc)
        ss[PROBLEM] = ("Your run is not being saved (an unexpected error; details are in the "
                       "server log). Training goes on in memory; use Download training state "
                       "(Snapshots page) to keep it.")
        ss[LAST_SAVE] = time.perf_counter()
        return False
    done = time.perf_counter()
    ss[LAST_SAVE], ss[WRITE_S], ss[SAVED] = done, done - started, (id(trainer), trainer.epoch)
    if ss.get(PROBLEM):
        ss[PROBLEM] = None
        ss[TOLD] = "The run store works again: your run is saved."
    if saved.was_gone:
        ss[TOLD] = ("The store had dropped your run to make room for newer ones (the oldest go "
                    "first); it is saved again from this epoch.")
    if saved.evicted:
        log.info("run %s saved; %d older run(s) dropped", runstore.short_hash(token(ss)), saved.evicted)
    if not bare:
        runlink.put(token(ss))
    return True


def show_problem():
    """In the training panel: why the run is not being saved, or a message about the store."""
    ss = st.session_state
    if ss.get(PROBLEM):
        st.warning(ss[PROBLEM], icon=":material/cloud_off:")
    told = ss.pop(TOLD, None)
    if told:
        st.info(told, icon=":material/cloud_done:")
