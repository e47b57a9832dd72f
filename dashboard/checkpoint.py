"""Crash-safe checkpoints of each session's run (local mode), and resuming one.

After a completed epoch the session's run is written to ``<runs>/<session id>.json``: a
compact training-state snapshot (``nncore.snapshot``, format v1) holding the latest epoch's
weights, every epoch's metrics, and the optimiser and generator state, so a resumed run
continues bit for bit. The file is written to a temporary name, flushed to disk, then
renamed over the old one (``os.replace``): a crash leaves either the previous checkpoint
or the new one, never half a file. Each session writes only its own file.

When the server starts again (after ``kill -9``, a crash or a plain restart), a new session
is offered the newest checkpoint written by an earlier server process; resuming it moves
that file to the new session's name, so no two sessions continue the same run.

``<runs>`` is ``$NNCORE_RUNS_DIR`` or ``runs/`` in the repository root. The plain functions
here know nothing of Streamlit; :func:`after_epoch`, :func:`offer_resume` use the session.
"""
from __future__ import annotations

import glob
import logging
import os
import re
import time
from dataclasses import dataclass

from nncore import snapshot

from dashboard import admit, limits

log = logging.getLogger("dashboard")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROCESS_START = time.time()      # checkpoints older than this come from an earlier server
MIN_INTERVAL_S = 0.25            # within one click, checkpoint at most this often ...
MAX_SHARE = 0.2                  # ... and spend at most about this share of the time writing
KEEP_FILES = 10                  # newest checkpoint files kept in the runs folder
SUFFIX = ".json"
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")

# Session-state keys.
LAST_SAVE = "ckpt_last_save"     # perf_counter of this session's last write
WRITE_S = "ckpt_write_s"         # how long that write took
SAVED = "ckpt_saved"             # (id of the trainer, epoch) of that write
OFFER = "ckpt_offer"             # the Checkpoint offered for resuming, or None
OFFERED = "ckpt_offered"         # True once this session has looked for one
RESUMED = "ckpt_resumed"         # message after a resume (shown once)


@dataclass(frozen=True)
class Checkpoint:
    path: str
    session: str
    mtime: float
    size: int

    def saved_at(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.mtime))


def runs_dir(environ=os.environ) -> str:
    return environ.get("NNCORE_RUNS_DIR") or os.path.join(ROOT, "runs")


def path_for(session_id: str, folder: str) -> str:
    name = _SAFE.sub("_", str(session_id))[:80] or "session"
    return os.path.join(folder, name + SUFFIX)


def save(trainer, path) -> int:
    """Write ``trainer`` to ``path`` atomically (``snapshot.save``); return the bytes
    written. Compact, latest epoch only: exact to resume, small to write."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return snapshot.save(trainer, path, epochs="latest", readable=False, compress=False)


def read(path, lim=None):
    """The checkpoint at ``path`` as a validated :class:`nncore.snapshot.Snapshot`."""
    lim = lim or limits.current()
    try:                          # our own file: as large as the run it holds
        size = os.path.getsize(path)
    except OSError:
        size = 0
    return snapshot.load(path, max_bytes=max(lim.max_snapshot_bytes, size + 2**20))


def load(path, lim=None):
    """A new Trainer continuing the checkpoint at ``path``; raises SnapshotError (a
    ValueError) naming the problem."""
    lim = lim or limits.current()
    return admit.admit_snapshot(read(path, lim), lim)


def list_checkpoints(folder) -> list[Checkpoint]:
    """The checkpoints in ``folder``, newest first."""
    out = []
    for p in glob.glob(os.path.join(glob.escape(folder), "*" + SUFFIX)):
        try:
            st = os.stat(p)
        except OSError:
            continue
        out.append(Checkpoint(p, os.path.basename(p)[:-len(SUFFIX)], st.st_mtime, st.st_size))
    return sorted(out, key=lambda c: (c.mtime, c.path), reverse=True)


def orphans(folder, before=None) -> list[Checkpoint]:
    """Checkpoints written before ``before`` (default: this server's start), newest first:
    runs of sessions that an earlier server process lost."""
    before = PROCESS_START if before is None else before
    return [c for c in list_checkpoints(folder) if c.mtime < before]


def prune(folder, keep=KEEP_FILES, before=None):
    """Remove all but the ``keep`` newest checkpoints, and temporary files left by a
    crash of an earlier server (older than ``before``)."""
    before = PROCESS_START if before is None else before
    for c in list_checkpoints(folder)[keep:]:
        _remove(c.path)
    for p in glob.glob(os.path.join(glob.escape(folder), "*.tmp")):
        try:
            if os.stat(p).st_mtime < before:
                _remove(p)
        except OSError:
            pass


def adopt(old_path, new_path, trainer):
    """Make ``new_path`` the resumed run's checkpoint and drop ``old_path``, so the run is
    offered to nobody else and stays safe under its new session."""
    save(trainer, new_path)
    if os.path.abspath(old_path) != os.path.abspath(new_path):
        _remove(old_path)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


# -- the Streamlit side ------------------------------------------------------------------
def _session_id():
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    return getattr(ctx, "session_id", None) or "local"


def after_epoch(trainer, final=False, lim=None):
    """Checkpoint the session's run after a completed epoch (local mode only).

    Within one click epochs are written at most every ``MIN_INTERVAL_S`` and so that
    writing takes at most ``MAX_SHARE`` of the time (a large network's checkpoint takes a
    while); ``final=True`` (the end of a click) always writes. A failure is logged, never
    shown: training goes on.
    """
    import streamlit as st
    lim = lim or limits.current()
    if not lim.checkpoints or trainer.epoch == 0:
        return
    ss = st.session_state
    now, key = time.perf_counter(), (id(trainer), trainer.epoch)
    wait = max(MIN_INTERVAL_S, ss.get(WRITE_S, 0.0) / MAX_SHARE)
    if ss.get(SAVED) == key or (not final and now - ss.get(LAST_SAVE, -1e9) < wait):
        return
    try:
        folder = runs_dir()
        path = path_for(_session_id(), folder)
        if not os.path.exists(path):      # a session's first checkpoint: tidy the folder
            prune(folder)
        save(trainer, path)
        done = time.perf_counter()
        ss[LAST_SAVE], ss[WRITE_S], ss[SAVED] = done, done - now, key
    except Exception as exc:      # a full disk must not stop training
        log.warning("checkpoint not written: %s", exc)


def _find_offer(lim):
    """The newest loadable checkpoint of an earlier server process, as (Checkpoint, line)."""
    for c in orphans(runs_dir())[:3]:
        try:
            snap = read(c.path, lim)
        except Exception as exc:
            log.warning("checkpoint %s cannot be offered: %s", c.path, exc)
            continue
        cfg = snap.config
        line = (f"{cfg.dataset} {'-'.join(str(s) for s in snap.sizes)}, {cfg.optimizer} "
                f"lr {cfg.lr:g}, epoch {snap.epoch} (saved {c.saved_at()})")
        return c, line
    return None


def _resume(path, lim):
    import streamlit as st
    from dashboard import state
    ss = st.session_state
    ss[OFFER] = None
    try:
        trainer = load(path, lim)
        adopt(path, path_for(_session_id(), runs_dir()), trainer)
    except Exception as exc:
        log.warning("resume of %s failed", path, exc_info=exc)
        ss[RESUMED] = ("error", f"Could not resume the run: {state.error_text(exc)}")
        return
    ss[LAST_SAVE], ss[SAVED] = time.perf_counter(), (id(trainer), trainer.epoch)
    state.replace_trainer(trainer, f"Resumed the interrupted run at epoch {trainer.epoch}, its "
                                   "last completed epoch; Train 1 epoch continues it exactly.")
    ss[RESUMED] = ("ok", None)


def _dismiss():
    import streamlit as st
    st.session_state[OFFER] = None


def offer_resume(lim=None):
    """In local mode, once per session: if an earlier server left a run, show a banner
    offering to resume it (Resume / Dismiss)."""
    import streamlit as st
    lim = lim or limits.current()
    if not lim.checkpoints:
        return
    ss = st.session_state
    if not ss.get(OFFERED):
        ss[OFFERED] = True
        try:
            ss[OFFER] = _find_offer(lim)
        except Exception as exc:
            log.warning("looking for checkpoints failed: %s", exc)
            ss[OFFER] = None
    done = ss.pop(RESUMED, None)
    if done and done[0] == "error":
        st.error(done[1], icon=":material/error:")
    offer = ss.get(OFFER)
    if not offer:
        return
    ckpt, line = offer
    with st.container(border=True, key="resume_banner"):
        st.markdown(f":material/history: **An interrupted run can be resumed:** {line}.")
        c = st.columns([1, 1, 4])
        c[0].button("Resume", key="btn_resume", type="primary", on_click=_resume, args=(ckpt.path, lim),
                    icon=":material/play_arrow:", width="stretch")
        c[1].button("Dismiss", key="btn_dismiss", on_click=_dismiss, width="stretch",
                    help="Keep the current run; the interrupted one stays on disk "
                         f"({os.path.relpath(ckpt.path, ROOT) if ckpt.path.startswith(ROOT) else ckpt.path})")
