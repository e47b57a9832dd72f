"""Train page: step the trainer and watch the loss, the accuracy and the data.

On top, the live view (one canvas component, redrawn every frame while playing): the
network with each unit's picture, the decision boundary or a few test images, and the
curves. Below it, when no run is going on, the same and more as Plotly charts with hover.
"""
import streamlit as st

from dashboard import controls, figures, limits, liveview, plaintext, state
from dashboard.figures import live
from nncore import predict
from nncore.datasets import FEATURE_LABELS

SAMPLES = 32          # images in the sample grid
LIVE_SAMPLES = 24     # ... and in the live view's
GRID = 100            # decision-boundary resolution per side
LIVE_GRID = 48        # ... in the live view (the browser smooths it)


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


def _input_names(data):
    if data.features:
        return [FEATURE_LABELS.get(f, f) for f in data.features]
    return [f"x{i + 1}" for i in range(data.n_in)]


def _live_view(tr, net, epoch, mark):
    """The frame's cheap view: curves, and the boundary with the network (2-D data) or a
    few test images with their guesses."""
    data = tr.data
    frame = {"epoch": epoch, "curves": live.curves(tr.records, st.session_state["loss_log"], mark)}
    if data.on_plane:
        xs, ys, probs = predict.plane_answers(data, net, LIVE_GRID)
        logic = data.kind == "logic"
        frame["plane"] = live.plane(xs, ys, probs, data.P_train,
                                    predict.labels_of(data.Y_train, data.target),
                                    None if logic else data.P_test,
                                    None if logic else predict.labels_of(data.Y_test, data.target),
                                    predict.class_names_of(data))
        if data.n_in <= live.MAX_UNITS:
            _, _, points = predict.data_plane(data, live.UNIT_GRID)
            outputs = [a for _, a in net.layer_outputs(points)]
            frame["net"] = live.network(net.sizes, [layer.weights for layer in net.layers],
                                        net.activations, _input_names(data), points, outputs)
    elif data.kind == "image" and data.image_shape:
        X, Y, _, _ = predict.held_out(data)
        X, Y = X[:LIVE_SAMPLES], Y[:LIVE_SAMPLES]
        cols = 8 if max(len(str(c)) for c in data.class_names) <= 2 else 6
        frame["grid"] = live.sample_grid(X, data.image_shape, data.labels(Y),
                                         net.predict(X).argmax(axis=1), data.class_names, cols)
    liveview.live_view(frame)


def _epoch_time(tr):
    if tr.epoch == 0:
        st.caption("The time per epoch appears here after the first epoch.")
    else:
        st.plotly_chart(figures.epoch_times(tr.records), key="chart_time")


def body(tr):
    data = tr.data
    pictured = data.on_plane or (data.kind == "image" and data.image_shape) or data.kind == "logic"
    # the data views can be scrubbed back; the curves mark the epoch they show
    left, right = st.columns([5, 2], vertical_alignment="bottom")
    with left:       # while a run goes on the views follow it (and the slider's options grow)
        epoch = controls.epoch_slider(tr) if pictured and not controls.live() else tr.epoch
    with right:
        st.toggle("Log scale for the loss", key="loss_log")
    net, epoch = (tr.network, tr.epoch) if epoch >= tr.epoch else predict.network_at(tr, epoch)
    mark = epoch if epoch < tr.epoch else None
    _live_view(tr, net, epoch, mark)
    rows = len(data.X_train)
    if data.target == "binary" and rows <= 16 and tr.records[0].train_acc > 0:
        st.caption(f"Accuracy over {rows} rows moves in steps of {100 / rows:g} points. A row "
                   "counts as right when every output rounds to its target (0 or 1), so at epoch "
                   "0 outputs a hair either side of 0.5 can round the right way by chance (epoch 0 "
                   f"shows {tr.records[0].train_acc:.0%}) and lose it after an epoch; the loss says "
                   "how far the outputs really are.")
    if controls.live():
        st.caption("The charts with hover, the time per epoch and the truth table come back "
                   "on Pause.")
        return
    _details(tr, net, epoch, mark)


def _details(tr, net, epoch, mark):
    """The Plotly charts (hover for values), drawn when no run is going on."""
    data = tr.data
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
