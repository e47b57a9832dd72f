"""Getting a stored run back into a session: from the address bar's link, or (local mode) the
offer to resume a run that an earlier server process left behind.

Both copy the run under the session's own token before it trains on (the session never
writes another session's run): a link keeps its run for other openers; a resumed interrupted
run is moved (the original is removed, so it is offered to nobody else). A stored run goes
through the checks of a loaded file (``runstore.read_trainer``).
"""
from __future__ import annotations

import contextlib
import logging
import time

import streamlit as st

from dashboard import autosave, runlink, runstore, state

log = logging.getLogger("dashboard")

# Session-state keys.
LINK_DONE = "link_done"          # True once this session has looked at the address's run
OFFER = "resume_offer"           # (row key, line, saved at) offered for resuming, or None
OFFERED = "resume_offered"       # True once this session has looked for one
RESUMED = "resume_result"        # an error from Resume (shown once)


def _data_for(cfg):
    try:
        return state.run_data(cfg)            # shared with other sessions on the same data
    except ValueError:
        return None                           # the snapshot's own rebuild says what is wrong


def _adopt(trainer, message):
    """Install ``trainer`` as the session's run and store it under the session's token."""
    state.replace_trainer(trainer, message)
    return autosave.save_now(trainer)


def open_linked_run(lim=None):
    """Once per session, before the sidebar is drawn: if the address names a run, open a
    copy of it (its setup into the sidebar). A wrong or expired link gives a short notice
    and the session starts afresh."""
    lim = lim or state.LIMITS
    ss = st.session_state
    if ss.get(LINK_DONE):
        return
    ss[LINK_DONE] = True
    token = runlink.get()
    if token is None or token == ss.get(autosave.TOKEN):
        return
    ss[OFFERED] = True                        # a session that follows a link is not offered another
    try:
        stored = autosave.store().get(token)
        trainer = runstore.read_trainer(stored.body, lim, _data_for)
    except runstore.RunGone as exc:      # the key stays until this session's run replaces it
        state.init_session()
        ss[state.NOTICE] = f"The run of this link cannot be opened: {exc.reason}. A new run starts here."
        return
    except runstore.StoreError as exc:
        log.warning("linked run %s not opened: %s", runstore.short_hash(token), exc)
        state.init_session()
        ss[state.NOTICE] = (f"The run of this link cannot be opened now: {exc}. A new run starts "
                            "here; the link may work again later.")
        return
    except ValueError as exc:
        log.warning("linked run %s refused: %s", runstore.short_hash(token), exc)
        state.init_session()
        ss[state.NOTICE] = (f"The run of this link cannot be opened: {state.error_text(exc)}. "
                            "A new run starts here.")
        return
    if stored.writer != autosave.store().writer:
        with contextlib.suppress(runstore.StoreError):
            autosave.store().dismiss(stored.key)   # taken up: not offered as interrupted
    _adopt(trainer, f"Reopened the run of this link at epoch {trainer.epoch}, its last saved "
                    "epoch; it goes on here as your own copy, under a new link.")


# -- the crash-resume offer (local mode) ---------------------------------------------------
def _find_offer(lim):
    """The newest loadable run of an earlier server process: (row key, line, saved at)."""
    for run in autosave.store().interrupted(limit=3):
        try:
            runstore.read_snapshot(run.body, lim)
        except ValueError as exc:
            log.warning("interrupted run %s cannot be offered: %s", run.key[:8], exc)
            continue
        return run.key, run.summary, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.updated))
    return None


def _resume(key, lim):
    ss = st.session_state
    ss[OFFER] = None
    try:
        stored = autosave.store().get_key(key)
        trainer = runstore.read_trainer(stored.body, lim, _data_for)
    except (ValueError, LookupError, runstore.StoreError) as exc:
        log.warning("resume of %s failed: %s", key[:8], exc)
        text = exc.reason if isinstance(exc, runstore.RunGone) else state.error_text(exc)
        ss[RESUMED] = f"Could not resume the run: {text}"
        return
    if _adopt(trainer, f"Resumed the interrupted run at epoch {trainer.epoch}, its last "
                       "completed epoch; Train 1 epoch continues it exactly."):
        with contextlib.suppress(runstore.StoreError):
            autosave.store().delete(key)           # moved to this session: offered to nobody else


def _dismiss(key):
    st.session_state[OFFER] = None
    try:
        autosave.store().dismiss(key)
    except runstore.StoreError as exc:
        log.warning("dismissing %s failed: %s", key[:8], exc)


def offer_resume(lim=None):
    """In local mode, once per session: if an earlier server left a run, show a banner
    offering to resume it (Resume / Dismiss). It stays in the store until one is chosen."""
    lim = lim or state.LIMITS
    if not lim.checkpoints:
        return
    ss = st.session_state
    if not ss.get(OFFERED):
        ss[OFFERED] = True
        try:
            ss[OFFER] = _find_offer(lim)
        except runstore.StoreError as exc:
            log.warning("looking for interrupted runs failed: %s", exc)
            ss[OFFER] = None
    error = ss.pop(RESUMED, None)
    if error:
        st.error(error, icon=":material/error:")
    offer = ss.get(OFFER)
    if not offer:
        return
    key, line, saved_at = offer
    with st.container(border=True, key="resume_banner"):
        st.markdown(":material/history: **An interrupted run can be resumed:**")
        st.text(f"{line} (saved {saved_at}).")
        c = st.columns([1, 1, 4])
        c[0].button("Resume", key="btn_resume", type="primary", on_click=_resume, args=(key, lim),
                    icon=":material/play_arrow:", width="stretch")
        c[1].button("Dismiss", key="btn_dismiss", on_click=_dismiss, args=(key,), width="stretch",
                    help="Keep the current run; the interrupted one stays in the run store "
                         f"({autosave.store().describe()}) until it expires or makes room")
