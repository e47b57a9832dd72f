"""Compare page: kept runs side by side: curves overlaid, setups in a table, pictures."""
import logging

import streamlit as st

from dashboard import compare, controls, figures, plaintext, snapfile, state
from dashboard.figures import predictions as pf
from nncore import snapshot
from nncore.text import shape_text, size_text

log = logging.getLogger("dashboard")

DONE = "compare_upload_done"     # file_id of the upload already added (each upload adds once)
ERROR = "compare_upload_error"
PER_ROW = 2


def _add_file(upload, lim):
    ss = st.session_state
    ss[ERROR] = None
    try:
        compare.check_room_for_file(lim)
        _snap, tr = snapfile.load_upload(upload, lim)
        compare.keep(tr, source=upload.name, lim=lim)
    except (snapshot.SnapshotError, ValueError) as exc:
        ss[ERROR] = f"Could not add {upload.name}: {state.error_text(exc)}"
    except Exception as exc:          # a bug, not a bad file
        log.error("adding %s to the comparison failed", upload.name, exc_info=exc)
        ss[ERROR] = (f"Could not add {upload.name}: unexpected problem ({type(exc).__name__}); "
                     "details are in the server log")


def _take_upload(lim):
    """Add the file just uploaded (read from the widget's state before the page is drawn, so
    the run shows at once)."""
    ss = st.session_state
    upload = ss.get("compare_upload")
    if upload is not None and ss.get(DONE) != upload.file_id:
        ss[DONE] = upload.file_id
        _add_file(upload, lim)


def _upload_block(lim):
    ss = st.session_state
    st.file_uploader(
        "Add a training-state file", type=["json", "gz"], key="compare_upload",
        help=f"A .json or .json.gz file saved on the Snapshots page or by `python -m nncore "
             f"train --export`, up to {size_text(lim.max_snapshot_bytes)} uncompressed: it is "
             "added to the comparison (the run you are training is not touched).")
    if ss.get(ERROR):                 # a file's name and text: plain text only
        plaintext.error(f"{ss[ERROR]}. The file was not added; the comparison is unchanged.")


def _runs_block(kept, names):
    for i, (run, name) in enumerate(zip(kept, names)):
        with st.container(horizontal=True, vertical_alignment="center", key=f"compare_run_{i}"):
            st.button("Remove", key=f"compare_remove_{i}", on_click=compare.remove, args=(i,),
                      icon=":material/delete:")
            plaintext.text(f"{i + 1}. {name}: {run.config.dataset} {shape_text(run.sizes)} at "
                           f"epoch {run.epoch} (from {run.source})")


def _table(kept, names):
    import pandas as pd
    rows, differ = compare.setup_table(kept)
    columns = ["setting", *[f"{i + 1}. {n}" for i, n in enumerate(names)]]
    df = pd.DataFrame(rows, columns=columns)
    df.insert(0, "differs", ["≠" if d else "" for d in differ])
    styled = df.style.apply(lambda row: ["background-color: #fff3bf" if differ[row.name] else ""
                                         for _ in row], axis=1)
    st.dataframe(styled, hide_index=True, width="stretch", key="compare_table",
                 height=min(36 * (len(df) + 1) + 4, 640))


def _pictures(kept, names):
    shown = [(r, n) for r, n in zip(kept, names) if r.view]
    if not shown:
        return
    for start in range(0, len(shown), PER_ROW):
        cols = st.columns(PER_ROW)
        for j, (col, (run, name)) in enumerate(zip(cols, shown[start:start + PER_ROW])):
            v = run.view
            with col:
                if v["kind"] == "plane":
                    fig = figures.decision_boundary(
                        v["xs"], v["ys"], v["probs"], v["P_train"], v["y_train"], v.get("P_test"),
                        v.get("y_test"), v["class_names"], run.epoch)
                    fig.layout.title.text = f"{name}: epoch {run.epoch}"
                    fig.layout.showlegend = False      # the Train page's colours and marks
                else:
                    fig = pf.confusion_heatmap(
                        v["cm"], v["class_names"], f"{name}: epoch {run.epoch} ({v['part']})")
                st.plotly_chart(fig, key=f"compare_view_{start + j}")


st.header("Compare")
controls.notice()
lim = state.LIMITS
try:
    _take_upload(lim)
except Exception as exc:
    state.show_error(exc)
kept = compare.runs()
if not kept:
    st.info("No runs kept yet. Train a run and press **Add to comparison** under the training "
            "buttons; change the setup (a learning rate, the layers, a preset's modern variant), "
            "train again and add that run too. Runs appear here side by side: curves, setups "
            "and what each has learnt.", icon=":material/compare:")
try:
    if kept:
        names = compare.labels(kept)
        st.caption(f"Kept: {compare.used_text(lim)}. Each run is named by what differs.")
        _runs_block(kept, names)
        st.button("Remove all", key="compare_clear", on_click=compare.clear,
                  icon=":material/delete_sweep:")
        log_scale = st.toggle("Log scale for the loss", key="compare_log")
        left, right = st.columns(2)
        with left:
            st.plotly_chart(figures.compare_loss([r.records for r in kept], names, log_scale),
                            key="compare_loss")
        with right:
            st.plotly_chart(figures.compare_accuracy([r.records for r in kept], names),
                            key="compare_acc")
        st.subheader("Setups")
        _table(kept, names)
        st.subheader("At their latest epochs")
        _pictures(kept, names)
    _upload_block(lim)
except Exception as exc:              # never a traceback on the page
    state.show_error(exc)
