"""Train page: step the trainer and watch the loss, the accuracy and the data."""
import streamlit as st

from dashboard import controls, figures, limits, plaintext, state
from nncore import predict

SAMPLES = 32          # images in the sample grid
GRID = 100            # decision-boundary resolution per side


def _boundary(tr, net, epoch):
    data = tr.data
    xs, ys, probs = predict.plane_answers(data, net, GRID)
    logic = data.kind == "logic"          # its test set is its training set
    fig = figures.decision_boundary(xs, ys, probs, data.P_train,
                                    predict.labels_of(data.Y_train, data.target), None if logic else data.P_test,
                                    None if logic else predict.labels_of(data.Y_test, data.target),
                                    predict.class_names_of(data), epoch)
    st.plotly_chart(fig, key="chart_boundary")


def _samples(tr, net, epoch):
    data = tr.data
    cols = 8 if max(len(str(c)) for c in data.class_names) <= 2 else 5   # room for long names
    n = SAMPLES // 8 * cols
    X, Y, _, _ = predict.held_out(data)
    X, Y = X[:n], Y[:n]
    guesses = net.predict(X).argmax(axis=1)
    fig = figures.image_samples(X, data.image_shape, data.labels(Y), guesses, data.class_names,
                                epoch, cols=cols)
    st.plotly_chart(fig, key="chart_samples")


def _logic(tr, net, epoch, chart=True):
    """The truth table with the outputs at ``epoch`` (and, unless the boundary shows them, a
    chart of outputs against targets)."""
    data = tr.data
    out = net.predict(data.X_train)
    if chart:
        st.plotly_chart(figures.logic_outputs(data.P_train, data.Y_train, out, epoch),
                        key="chart_logic")
    else:
        st.markdown(f"**Outputs vs targets at epoch {epoch}**")
    st.table(figures.truth_table(data.P_train, data.Y_train, out), border="horizontal",
             hide_index=True, hide_header=False)


def _epoch_time(tr):
    if tr.epoch == 0:
        st.caption("The time per epoch appears here after the first epoch.")
    else:
        st.plotly_chart(figures.epoch_times(tr.records), key="chart_time")


def body(tr):
    data = tr.data
    pictured = data.on_plane or (data.kind == "image" and data.image_shape) or data.kind == "logic"
    # the data views can be scrubbed back; the curves mark the epoch they show
    epoch = controls.epoch_slider(tr) if pictured else tr.epoch
    net, epoch = (tr.network, tr.epoch) if epoch >= tr.epoch else predict.network_at(tr, epoch)
    mark = epoch if epoch < tr.epoch else None
    st.toggle("Log scale for the loss", key="loss_log")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(figures.loss_curves(tr.records, st.session_state["loss_log"], mark),
                        key="chart_loss")
    with right:
        st.plotly_chart(figures.accuracy_curves(tr.records, mark), key="chart_acc")
    left, right = st.columns(2)
    with left:
        if data.on_plane:
            _boundary(tr, net, epoch)
        elif data.kind == "image" and data.image_shape:
            _samples(tr, net, epoch)
        elif data.kind == "logic":
            _logic(tr, net, epoch)
        else:
            st.plotly_chart(figures.pca_scatter(data.X_train, data.labels(data.Y_train),
                                                data.class_names), key="chart_pca")
    with right:
        if data.kind == "logic" and data.on_plane:
            _logic(tr, net, epoch, chart=False)
        _epoch_time(tr)
    if data.notes:
        st.caption("Data: " + plaintext.markdown_escape(limits.public_text("; ".join(data.notes),
                                                                          state.LIMITS)))


controls.training_panel(body)
