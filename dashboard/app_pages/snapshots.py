"""Snapshots page: download the whole run as one JSON file, and load such a file back."""
import logging

import streamlit as st

from dashboard import controls, figures, plaintext, snapfile, state, upload_store
from nncore import snapshot
from nncore.text import shape_text, size_text

log = logging.getLogger("dashboard")

KEEP = {"Every stored epoch": "all", "Every k-th epoch": "every", "Latest epoch only": "latest"}
ARRAYS = {"Compact": False, "Readable": True}
FILES = [".json", ".json.gz"]
DONE = "snap_done_id"        # file_id of the upload already handled (each upload loads once)
RESULT = "snap_result"       # what the last upload gave: a dict shown under the uploader


def _exporter(trainer, epochs, readable, compress):
    """The download's data: called on click, so the file is the run as it is then."""
    def make():
        return snapshot.dumps(trainer, epochs=epochs, readable=readable, compress=compress)
    return make


def _size_text(tr, epochs, n_states, readable, compress):
    """The file's size: exact for small runs (made now, in milliseconds), else estimated."""
    if n_states * tr.network.n_params <= 200_000:
        return size_text(len(snapshot.dumps(tr, epochs=epochs, readable=readable, compress=compress)))
    return "about " + size_text(_estimate(tr, n_states, readable, compress))


def _estimate(tr, n_states, readable, compress):
    """Rough file size in bytes (compact float32 weights compress a little)."""
    n, item = tr.network.n_params, tr.network.dtype.itemsize
    resume = (2 + len(tr.optimizer.state_dict()) - 1) * n * item * 1.3
    body = n_states * n * ((13 if item == 4 else 21) if readable else item * 0.98)
    size = body + resume + 400 * len(tr.records) + 2000
    return size * ((0.45 if readable else 0.78) if compress else 1.0)


def download_block(tr):
    st.subheader("Download training state")
    stored = tr.history.epochs
    st.markdown(f"{state.run_summary(tr)} · epoch **{tr.epoch}** · weights stored for "
                f"{len(stored)} epoch{'s' if len(stored) != 1 else ''}")
    keep = st.radio("Epochs to include", list(KEEP), key="snap_keep", horizontal=True,
                    help="Every stored epoch lets the file replay the whole run on the Weights "
                         "page; the curves of every epoch and the exact resume state are always "
                         "included.")
    epochs = KEEP[keep]
    if epochs == "every":
        top = max(2, tr.epoch)
        ss = st.session_state       # a loaded or reset run may have fewer epochs than k
        ss["snap_k"] = min(max(int(ss.get("snap_k", tr.epoch // 10)), 2), top)
        k = st.number_input("k (keep epochs 0, k, 2k, ... and the latest)", min_value=2,
                            max_value=top, step=1, key="snap_k")
        epochs = int(k)
    c = st.columns(2)
    arrays = c[0].radio("Arrays", list(ARRAYS), key="snap_arrays", horizontal=True,
                        help="Compact: base64 binary, exact and small. Readable: nested lists of "
                             "numbers, one matrix row per line, easy to read anywhere "
                             "(the resume block stays compact so it stays exact).")
    kind = c[1].radio("File", FILES, key="snap_file", horizontal=True,
                      help=".json.gz is the same JSON, gzip-compressed")
    readable, compress = ARRAYS[arrays], kind == ".json.gz"
    n_states = len(snapshot.select_epochs(stored, tr.epoch, epochs))
    name = snapshot.default_filename(tr, readable, compress)
    st.download_button("Download training state", data=_exporter(tr, epochs, readable, compress),
                       file_name=name, mime="application/gzip" if compress else "application/json",
                       on_click="ignore", type="primary", icon=":material/download:",
                       key="snap_download")
    st.caption(f"`{name}`: {n_states} epoch{'s' if n_states != 1 else ''} of weights "
               f"({tr.network.n_params:,} each), {_size_text(tr, epochs, n_states, readable, compress)}. "
               "Load it here or with `python -m nncore train --resume FILE --epochs N`; "
               "`python -m nncore validate FILE` checks it.")
    if tr.history.thinned:
        st.caption(f"The run's history was thinned to stay within its memory budget: "
                   f"{tr.history.thinned} older epochs have no stored weights (their metrics are kept).")


def _load(upload, lim):
    """Load an uploaded file into a new run; on any problem keep the current run."""
    ss = st.session_state
    try:
        snap, trainer = snapfile.load_upload(upload, lim)
    except snapshot.SnapshotError as exc:
        ss[RESULT] = {"ok": False, "name": upload.name, "error": str(exc)}
        return False
    except Exception as exc:          # a bug, not a bad file: say so briefly, keep the run
        log.error("loading %s failed", upload.name, exc_info=exc)
        ss[RESULT] = {"ok": False, "name": upload.name,
                      "error": f"unexpected problem ({type(exc).__name__}); details are in the server log"}
        return False
    ss[RESULT] = {"ok": True, "name": upload.name, "summary": snap.summary(),
                  "describe": snap.describe(), "records": trainer.records[:]}
    state.replace_trainer(trainer, f"Loaded {upload.name}: {snap.config.dataset} "
                                   f"{shape_text(snap.sizes)} at epoch {trainer.epoch}.")
    return True


def _summary_table(s, name):
    rows = [
        ("File", f"{name} ({s['encoding']}{', gzip' if s['compressed'] else ''}, "
                 f"{size_text(s['file_bytes'] or 0)})"),
        ("Data", s["dataset"]),
        ("Network", f"{shape_text(s['sizes'])} ({', '.join(s['activations'])}), "
                    f"{s['n_params']:,} parameters"),
        ("Training", f"{s['loss']}, {s['optimizer']} lr {s['lr']:g}, batch "
                     f"{s['batch'] + (' ' + str(s['batch_size']) if s['batch'] == 'mini' else '')}, "
                     f"seed {s['seed']}, {s['dtype']}"),
        ("Epochs trained", str(s["epochs_trained"])),
        ("Weights stored for", f"{len(s['stored_epochs'])} epoch(s)"),
        ("Last epoch", f"train loss {s['train_loss']:.4g}, test loss {s['test_loss']:.4g}, "
                       f"test accuracy {s['test_acc']:.1%}"),
    ]
    if s.get("created"):
        rows.append(("Saved", s["created"].replace("T", " ")))
    if s.get("stop_reason"):
        rows.append(("Stopped", s["stop_reason"]))
    cells = plaintext.table_cells(rows)          # the file's own text: shown as it is
    st.table({"": [r[0] for r in cells], "Loaded file": [r[1] for r in cells]})


def load_block(lim):
    ss = st.session_state
    st.subheader("Load training state")
    upload = st.file_uploader(
        "Load training state", type=["json", "gz"], key="snap_upload",
        max_upload_size=max(1, lim.max_snapshot_bytes // 2**20),
        help=f"A .json or .json.gz file saved on this page or by `python -m nncore train --export`; "
             f"up to {size_text(lim.max_snapshot_bytes)} uncompressed. The run it holds replaces the "
             "current one only if the whole file is valid.")
    if upload is not None and ss.get(DONE) != upload.file_id:
        ss[DONE] = upload.file_id
        loaded = _load(upload, lim)
        upload_store.release([upload])     # read: Streamlit's copy of the bytes can go
        if loaded:
            st.rerun()                # redraw the sidebar with the loaded run's setup
    elif upload is None and ss.get(RESULT) and not ss[RESULT]["ok"]:
        # the file was removed, or the uploader refused the next one (too large): the error
        # was about a file no longer there
        ss[DONE] = ss[RESULT] = None
    result = ss.get(RESULT)
    if not result:
        st.caption("The loaded run shows on the Train and Weights pages as if it had just been "
                   "trained (curves, heatmaps, epoch slider), and training it further continues "
                   "exactly where it stopped.")
        return
    if not result["ok"]:
        state.show_error(f"Could not load {result['name']}: {result['error']}. "
                         "The current run is unchanged.")
        return
    s = result["summary"]
    st.success(f"Loaded **{plaintext.markdown_escape(result['name'])}**: {s['dataset']} "
               f"{shape_text(s['sizes'])} at epoch "
               f"{s['epochs_trained']}. Open the Train or Weights page to replay it; "
               "Train 1 epoch continues it exactly.", icon=":material/check_circle:")
    _summary_table(s, result["name"])
    st.plotly_chart(figures.loss_curves(result["records"]), key="snap_loaded_loss")


st.header("Snapshots")
st.caption("A training-state file holds the whole run: its setup, the metrics of every epoch, "
           "the weights of the stored epochs (with each layer's weighted sum and activation "
           "for one probe input), and the optimiser and random-generator state that let it "
           "carry on bit for bit.")
controls.notice()                         # what just happened to the run, with Undo
if st.session_state[state.EPOCHS_LEFT] > 0:      # a "Train N epochs" run only advances on its pages
    st.info(f"The \"Train N epochs\" run is paused at epoch {state.get_trainer().epoch} while this "
            "page is open (a download is the run as it is now). It carries on when you open the "
            "Train, Weights or Predictions page.", icon=":material/pause_circle:")
try:
    lim = state.LIMITS
    left, right = st.columns(2, gap="large")
    with left:
        download_block(state.get_trainer())
    with right:
        load_block(lim)
except Exception as exc:              # never a traceback on the page
    state.show_error(exc)
