"""The training panel (an ``st.fragment``) and the epoch slider, shared by the pages.

``training_panel(body)`` draws Train 1 epoch / Play (Pause) / Train N epochs / Stop / Reset,
the run's numbers, and then ``body(trainer)``: the page's charts. Clicking in it reruns only
the fragment. While a run goes on (Play, or "Train N epochs"), the panel is a fragment with
``run_every``: each frame trains for a slice of time, then draws (pages ask :func:`live` and
draw their cheap views), and the browser's timer asks for the next frame. A click while a
frame trains (Pause, Stop, the slider, the sidebar) stops the epoch between two batches
(the partial epoch is dropped, see ``Trainer.run_epoch``) and is answered at once.
"""
from __future__ import annotations

import streamlit as st

from dashboard import autosave, compare, limits, plaintext, state

FRAME_S = 0.1        # the browser asks for the next frame this long after the last one
SLICE_S = 0.06       # each frame trains at least this long (whole epochs) ...
MAX_SLICE_S = 0.45   # ... and for slow epochs up to this long, so a frame costs < 20 % of it
PLAYING = "playing"  # session key: the run going on is Play's (else Train N's)
UNSAVED = "run_unsaved"   # session key: a run ended; save it once the page is drawn
SLOW_EPOCH_S = 0.7   # a single epoch at least this long trains with a progress bar shown


def _train_one():
    tr = state.get_trainer()
    last = tr.records[-1].seconds if tr.epoch else 0.0
    if last >= SLOW_EPOCH_S or (not tr.epoch and len(tr.data.X_train) * tr.config.passes_per_epoch
                                >= 20_000):
        _start_run(1)                 # the panel says it is training while the epoch runs
    else:
        state.train_epochs(1)


def _start_run(wanted=None, play=False):
    ss = st.session_state
    tr = state.get_trainer()
    n, why = limits.epochs_allowed(wanted or tr.config.epochs, tr.epoch, state.LIMITS)
    ss[state.EPOCHS_LEFT] = ss[state.EPOCHS_TOTAL] = n
    ss[state.ERROR] = None if n else why
    ss[PLAYING] = play and n > 0
    if why and n and wanted is None:
        st.toast(f"{why}: training {n} epochs.", icon=":material/info:")


def _play():
    """Train until paused (at most the epochs one run may have)."""
    _start_run(state.LIMITS.max_epochs_per_run, play=True)


def live() -> bool:
    """True while a run goes on: the pages draw their cheap live views."""
    return st.session_state[state.EPOCHS_LEFT] > 0


def playing() -> bool:
    return live() and bool(st.session_state.get(PLAYING))


def _stop():
    ss = st.session_state
    if ss[state.EPOCHS_LEFT]:
        ss[state.NOTICE] = (f"{'Paused' if playing() else 'Stopped'} at epoch "
                            f"{state.get_trainer().epoch}.")
    ss[state.EPOCHS_LEFT], ss[PLAYING] = 0, False
    ss[state.EPOCH], ss[state.FOLLOW] = None, True       # show the epoch it stopped at
    autosave.after_epoch(state.get_trainer(), final=True)   # the run store has the last epoch


def _reset():
    try:
        state.reset_run()
    except Exception as exc:          # e.g. the data went away; the run stays as it is
        st.session_state[state.ERROR] = f"Reset failed: {state.error_text(exc)}"


def _status(tr):
    ss = st.session_state
    recs = tr.records
    last, prev = recs[-1], recs[-2] if len(recs) > 1 else None
    c = st.columns(5)
    c[0].metric("Epoch", tr.epoch, help=f"{tr.iterations:,} weight updates so far")
    for col, label, key in ((c[1], "Train loss", "train_loss"), (c[2], "Test loss", "test_loss")):
        now = getattr(last, key)
        delta = f"{now - getattr(prev, key):+.3g}" if prev else None
        steady = delta is not None and float(delta) == 0          # "+0": say so, in grey
        col.metric(label, f"{now:.4g}", delta="no change" if steady else delta,
                   delta_color="off" if steady else "inverse",
                   delta_arrow="off" if steady else "auto")
    gain = (last.test_acc - prev.test_acc) * 100 if prev else None
    steady = gain is not None and abs(gain) < 0.05            # shows as +0.0: say so, in grey
    c[3].metric("Test accuracy", f"{last.test_acc:.1%}",
                delta=None if gain is None else "no change" if steady else f"{gain:+.1f} pts",
                delta_color="off" if steady else "normal", delta_arrow="off" if steady else "auto")
    secs = last.seconds
    c[4].metric("Last epoch", ("–" if not tr.epoch else "< 0.1 ms" if secs < 5e-5
                               else f"{secs * 1000:.1f} ms" if secs < 1 else f"{secs:.2f} s"),
                help=f"{last.samples_per_s:,.0f} samples/s" if tr.epoch else "No epoch trained yet")
    if tr.config.loss == "sse":       # summed over the samples: the sets' sizes differ
        n_train, n_test = len(tr.data.X_train), len(tr.data.X_test)
        per = f"train {last.train_loss / n_train:.4g}"
        if n_test and tr.data.kind != "logic":
            per += f", test {last.test_loss / n_test:.4g}"
        st.caption(f"sse is summed over the samples, as in the tutorials ({n_train:,} training"
                   f"{f' and {n_test:,} test' if n_test and tr.data.kind != 'logic' else ''} "
                   f"samples); per sample: {per}.")
    if ss[state.ERROR]:
        st.error(ss[state.ERROR], icon=":material/error:")
    if ss[state.SETUP_ERROR]:
        why = ss[state.SETUP_ERROR].rstrip(".")
        st.warning(f"The sidebar's setup cannot start a run: {why}. The run shown here is the "
                   "previous one.", icon=":material/warning:")
    autosave.show_problem()
    notice()


def _page():
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    ctx = get_script_run_ctx(suppress_warning=True)
    return getattr(ctx, "page_script_hash", None)


def notice():
    """What just happened to the run, with Undo when a trained run was replaced. A notice
    shown on one page is not shown again on the next page opened."""
    ss = st.session_state
    if not ss[state.NOTICE]:
        return
    seen = ss.get("notice_seen")
    if seen and seen[0] == ss[state.NOTICE] and seen[1] != _page():
        ss[state.NOTICE] = None
        return
    ss["notice_seen"] = (ss[state.NOTICE], _page())
    plaintext.info(ss[state.NOTICE])          # names files and settings: plain text
    prev = ss.get(state.PREVIOUS)
    if prev is not None:
        st.button(f"Undo: back to the trained run ({prev.config.dataset}, epoch {prev.epoch})",
                  key="btn_undo", on_click=state.undo_run, icon=":material/undo:")


def training_panel(body):
    """Training buttons, progress and numbers, then ``body(trainer)``, in one fragment.

    While a run goes on, the buttons are drawn outside the frames (they do not change from
    frame to frame, and a click on them reruns the page, which stops the frame at once)."""
    if st.session_state[state.EPOCHS_LEFT] > 0:
        _header(state.get_trainer(), running=True)
        _running_panel(body)
    else:
        _idle_panel(body)


@st.fragment
def _idle_panel(body):
    ss = st.session_state
    # Train N epochs was clicked (switch panels), or Undo put back a run whose setup the
    # sidebar must show (once): both need the whole page
    if ss[state.EPOCHS_LEFT] > 0 or ss.pop(state.WHOLE_PAGE, False):
        st.rerun()
    ss[state.FOLLOW], ss[PLAYING] = False, False
    _panel(body, running=False)
    if ss.pop(UNSAVED, False):        # the end of a run is saved once its page is drawn
        autosave.after_epoch(state.get_trainer(), final=True)


@st.fragment(run_every=FRAME_S)
def _running_panel(body):
    _panel(body, running=True)


def _user_waiting() -> bool:
    """True once the browser has sent something other than the frame timer's tick (a
    click, a slider, the sidebar) or the session is closing: training then stops between
    two batches so the request is answered at once. Streamlit lets a fragment finish before
    it runs a click made in it; its pending request is read from the run's context."""
    from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    try:
        requests = get_script_run_ctx(suppress_warning=True).script_requests
        kind = requests._state
        return kind == ScriptRequestType.STOP or (
            kind == ScriptRequestType.RERUN and not requests._rerun_data.is_auto_rerun)
    except AttributeError:            # no context (tests) or another Streamlit: frames end it
        return False


def _first_epoch_s(tr):
    """A guess of the first epoch's time before there is one: about 6 flops per sample and
    parameter at a modest 10 GFLOP/s."""
    return len(tr.data.X_train) * tr.config.passes_per_epoch * tr.network.n_params * 6 / 1e10


def _slice_s(tr):
    """Training time per frame: short for fast epochs (many frames a second), longer for
    slow ones (so drawing stays a small part of each frame)."""
    last = tr.records[-1].seconds if tr.epoch else 0.0
    return min(MAX_SLICE_S, max(SLICE_S, 2.5 * last))


def _train_slice(tr):
    """The frame's slice of training. When the run ends, or a click is waiting (the frame
    is then not drawn), the page reruns: the click's callback runs and the page is drawn."""
    ss = st.session_state
    if ss[state.EPOCHS_LEFT] > 0:
        done = state.train_epochs(ss[state.EPOCHS_LEFT], budget_s=_slice_s(tr), stop=_user_waiting,
                                  final_save=False)
        ss[state.EPOCHS_LEFT] = max(0, ss[state.EPOCHS_LEFT] - done)
        if ss[state.EPOCHS_LEFT] == 0 and ss.get(PLAYING) and not ss[state.ERROR] \
                and not ss[state.NOTICE]:
            ss[state.NOTICE] = (f"Paused at epoch {tr.epoch}: Play trains at most "
                                f"{ss[state.EPOCHS_TOTAL]:,} epochs at a time; Play goes on.")
    if ss[state.EPOCHS_LEFT] == 0 or _user_waiting():    # finished, stopped, or a click waits
        ss[PLAYING] = ss[PLAYING] and ss[state.EPOCHS_LEFT] > 0
        ss[UNSAVED] = True
        st.rerun()


def _progress(slot, tr, training):
    ss = st.session_state
    if playing():
        slot.caption(f"Playing: epoch {tr.epoch}{f', training epoch {tr.epoch + 1}…' if training else ''}"
                     " (Pause stops between two batches)")
        return
    total = max(ss[state.EPOCHS_TOTAL], 1)
    done = total - ss[state.EPOCHS_LEFT]
    text = (f"Training epoch {tr.epoch + 1}…" if total == 1 else
            f"Training: {done} of {total} epochs (epoch {tr.epoch}"
            f"{f', now training epoch {tr.epoch + 1}' if training else ''})")
    slot.progress(done / total, text=text)


def _header(tr, running):
    """The run's summary line and the training buttons."""
    st.markdown(state.run_summary(tr))
    n = min(tr.config.epochs, state.LIMITS.max_epochs_per_run)
    c = st.container(key="run_buttons").columns(5)
    c[0].button("Train 1 epoch", key="btn_train_1", type="primary", on_click=_train_one,
                disabled=running, width="stretch", icon=":material/skip_next:")
    if playing():
        c[1].button("Pause", key="btn_pause", on_click=_stop, width="stretch",
                    icon=":material/pause:", help="Stops between two batches")
    else:
        c[1].button("Play", key="btn_play", on_click=_play, disabled=running, width="stretch",
                    icon=":material/play_arrow:", help="Trains until paused, redrawing many "
                    "times a second")
    c[2].button(f"Train {n} epoch{'s' if n != 1 else ''}", key="btn_train_n", on_click=_start_run,
                disabled=running, width="stretch", icon=":material/fast_forward:",
                help="Runs 'Epochs per run' epochs (sidebar), redrawing as it goes; Stop ends it")
    c[3].button("Stop", key="btn_stop", on_click=_stop, disabled=not running or playing(),
                width="stretch", icon=":material/stop:")
    c[4].button("Reset", key="btn_reset", on_click=_reset, width="stretch",
                icon=":material/restart_alt:", help="Back to epoch 0: same seed, same start")
    compare.add_button(running)       # keep this run for the Compare page


def _panel(body, running):
    tr = state.get_trainer()
    if not running:
        _header(tr, running)
    if running and (tr.records[-1].seconds if tr.epoch else _first_epoch_s(tr)) >= SLICE_S:
        bar, numbers = st.empty(), st.empty()    # slow epochs: say what trains before it does
        _progress(bar, tr, training=True)
        with numbers.container():
            _status(tr)
        _train_slice(tr)
        _progress(bar, tr, training=False)
        with numbers.container():
            _status(tr)
    elif running:                     # fast ones: train, then draw (no blank placeholders)
        _train_slice(tr)
        _progress(st, tr, training=False)
        _status(tr)
    else:
        _status(tr)
    try:
        body(tr)
    except Exception as exc:          # a chart that cannot be drawn must not take the page down
        state.show_error(exc)


def _rewind(epoch):
    try:
        state.rewind_run(epoch)
    except ValueError as exc:
        st.session_state[state.ERROR] = state.error_text(exc)


def _on_slide():
    state.select_epoch(st.session_state["epoch_slider"])


def epoch_slider(tr) -> int:
    """An epoch slider over the stored epochs; returns the stored epoch to show."""
    ss = st.session_state
    epochs = tr.history.epochs
    shown = tr.history.nearest(state.selected_epoch())
    if len(epochs) == 1:
        st.caption("Epoch 0: the starting weights. Train to scrub back through the epochs."
                   if epochs == [0] else f"Only epoch {epochs[0]} is stored (the file kept its "
                   "latest epoch only). Train to scrub back through the epochs from here.")
        return shown
    ss["epoch_slider"] = shown
    st.select_slider("Epoch to show", options=epochs, key="epoch_slider", on_change=_on_slide,
                     help="Scrub back through the run's history; training jumps to the latest")
    if shown < tr.epoch and not ss[state.EPOCHS_LEFT]:
        st.button(f"Continue from epoch {shown}", key="btn_rewind", on_click=_rewind,
                  args=(shown,), icon=":material/history:",
                  help=f"Go back to epoch {shown} and train on from there: epochs {shown + 1}–"
                       f"{tr.epoch} are dropped (for example after the loss blew up; Undo brings "
                       "them back until you train). The optimiser's state starts afresh.")
    h = tr.history
    if h.not_stored:
        st.caption(f"The loaded file stored the weights of {len(epochs)} of the run's "
                   f"{tr.epoch + 1:,} epochs; every epoch's metrics are in the curves.")
    if h.thinned:
        st.caption(f"History thinned to stay within {h.budget_bytes / 2**20:.0f} MB: {h.thinned} "
                   f"older epochs were dropped; {len(epochs)} stored epochs can be shown "
                   f"(epoch 0 and the latest are always kept).")
    return shown
