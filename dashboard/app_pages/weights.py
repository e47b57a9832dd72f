"""Weights page: every layer's weights as heatmaps, scrubbed through the epochs."""
import numpy as np
import streamlit as st

from dashboard import controls, figures
from nncore import predict
from nncore.datasets import FEATURE_LABELS

VIEWS = ["Weights", "Change since previous epoch (ΔW)"]
UNIT_GRID = 40       # points per side of each hidden unit's map


def _layers(tr, epoch):
    """[(W, b or None), ...] of the stored ``epoch``."""
    pairs, _ = tr.weights_at(epoch)
    return [(W, b if layer.use_bias else None) for (W, b), layer in zip(pairs, tr.network.param_layers)]


def _in_label(i):
    return "input" if i == 0 else f"layer {i} unit"


def _heatmaps(tr, epoch, mats, value, what):
    ss = st.session_state
    zmax = figures.shared_scale(mats, per_layer=ss["w_per_layer"])
    dense = [(i, m, lim) for i, (m, lim) in enumerate(zip(mats, zmax))
             if tr.network.param_layers[i].kind == "dense"]      # conv filters: _conv_filters
    for n, (i, (W, b), lim) in enumerate(dense):
        if n % 2 == 0:                # a row per pair: on narrow windows they stack in order
            cols = st.columns(2)
        layer = tr.network.param_layers[i]
        title = f"Layer {i + 1} {what}: {layer.n_in} → {layer.n_out} ({layer.activation})"
        names = _input_names(tr) if i == 0 and tr.data.features else None
        fig = figures.weight_heatmap(W, b, lim, title, _in_label(i), full=ss["w_fullres"],
                                     value=value, row_names=names)
        with cols[n % 2]:
            st.plotly_chart(fig, key=f"heatmap_layer_{i}")


def _conv_filters(tr, mats, value, what):
    """Each conv layer's filters: one row per output channel, one column per input channel."""
    ss = st.session_state
    zmax = figures.shared_scale(mats, per_layer=ss["w_per_layer"])
    for i, ((W, b), lim) in enumerate(zip(mats, zmax)):
        layer = tr.network.param_layers[i]
        if layer.kind != "conv":
            continue
        k, c, kh, kw = W.shape
        title = (f"Layer {i + 1} {what}: {k} filters of {kh}×{kw} over {c} input channel"
                 f"{'s' if c > 1 else ''} ({layer.activation})")
        st.plotly_chart(figures.conv_filters(W, lim, title, value, b), key=f"conv_filters_{i}")


def _feature_maps(tr, epoch):
    """Every conv and pool layer's output for one test image, at the epoch shown."""
    ss = st.session_state
    data = tr.data
    X = data.X_test if len(data.X_test) else data.X_train
    part = "test" if len(data.X_test) else "training"
    ss["w_image"] = min(int(ss["w_image"]), len(X) - 1)
    c = st.columns([1, 3])
    c[0].number_input(f"Feature maps of {part} image", min_value=0, max_value=len(X) - 1, step=1,
                      key="w_image", help="Which image to pass through the network")
    i = int(ss["w_image"])
    net, kept = predict.network_at(tr, epoch)
    if data.image_shape:
        Y = data.Y_test if part == "test" else data.Y_train
        label = f": {data.class_names[int(Y[i].argmax())]}" if data.class_names else ""
        c[1].image(_picture(X[i], data.image_shape), caption=f"{part} image {i}{label}", width=96)
    for j, maps in net.feature_maps(X[i:i + 1]):
        layer = net.layers[j]
        kind = "conv" if layer.kind == "conv" else f"max-pool {layer.p}"
        title = (f"Layer output {j + 1} ({kind}): {' × '.join(map(str, layer.out_shape))} at epoch "
                 f"{kept}, one square per channel")
        st.plotly_chart(figures.feature_maps(maps[0], title), key=f"feature_maps_{j}")


def _picture(x, shape):
    """An image's pixels (ink high, 0..1) as an 8-bit grey picture, ink dark."""
    return (255 - np.clip(np.asarray(x).reshape(shape) * 255, 0, 255)).astype("uint8")


def _note_resolution(tr):
    big = [(i, l) for i, l in enumerate(tr.network.param_layers)
           if l.kind == "dense" and max(l.n_in, l.n_out) > figures.MAX_SIDE]
    if not big:
        return
    if st.session_state["w_fullres"]:
        st.caption("Full resolution: every weight is drawn (large layers make heavy charts).")
        return
    parts = []
    for i, l in big:
        fr, fc = figures.block_factors((l.n_in, l.n_out))
        parts.append(f"layer {i + 1} ({l.n_in}×{l.n_out}) in blocks of {fr}×{fc}")
    st.caption(f"Large matrices are block-averaged for display (at most {figures.MAX_SIDE} cells per "
               f"side): {', '.join(parts)}. Averaging a block of small weights of both signs "
               "brings it near zero, so such a layer (MNIST's first) looks almost white: switch "
               "on Full resolution to draw every weight, or see the units as images.")


def _input_names(tr):
    if tr.data.features:
        return [FEATURE_LABELS.get(f, f) for f in tr.data.features]
    return [f"x{i + 1}" for i in range(tr.data.n_in)]


def _output_names(tr):
    data = tr.data
    if data.target == "binary":
        return [f"y{j + 1}" for j in range(data.n_out)] if data.n_out > 1 else ["y"]
    return [str(c) for c in data.class_names]


def _unit_maps(tr, epoch):
    """2-D data: each hidden unit's output over the plane, at the epoch shown."""
    xs, ys, points = predict.data_plane(tr.data, UNIT_GRID)
    net, _ = predict.network_at(tr, epoch)
    outputs = [a for _, a in net.layer_outputs(points)[:-1]]
    st.plotly_chart(figures.unit_maps(xs, ys, outputs, tr.network.activations, epoch,
                                      inputs=(points, _input_names(tr))),
                    key="chart_unit_maps")
    st.caption("The first row is what the network is given: each input feature over the plane. "
               "Then each square is one hidden unit's output over the same plane as the Train "
               "page's decision boundary (x1 across, x2 up): grey where it is zero, blue where it is "
               "positive and orange where negative, each unit on its own scale (sigmoid units: "
               "orange 0, grey 0.5, blue 1). The output layer combines the last row into the "
               "decision boundary. Hover a square for its range.")


def body(tr):
    ss = st.session_state
    epoch = controls.epoch_slider(tr)
    c = st.columns([2, 1, 1])
    c[0].radio("Show", VIEWS, key="w_view", horizontal=True)
    c[1].toggle("Full resolution", key="w_fullres",
                help=f"Draw every weight instead of block means of matrices over {figures.MAX_SIDE} per side")
    c[2].toggle("Scale per layer", key="w_per_layer",
                help="One colour scale per layer instead of one shared by all layers")
    mats = _layers(tr, epoch)
    stored = tr.history.epochs
    if ss["w_view"] == VIEWS[1] and epoch > stored[0]:
        prev = stored[stored.index(epoch) - 1]
        before = _layers(tr, prev)
        mats = [(W - Wp, None if b is None else b - bp) for (W, b), (Wp, bp) in zip(mats, before)]
        what, value = f"ΔW, epoch {prev} → {epoch}", "ΔW"
        if prev != epoch - 1:
            st.caption(f"Epochs {prev + 1}–{epoch - 1} were thinned from the history: "
                       f"the change shown is since epoch {prev}, the previous stored epoch.")
    else:
        if ss["w_view"] == VIEWS[1]:
            st.info("Epoch 0 is the start: there is no previous epoch to compare with, so the "
                    "weights are shown.", icon=":material/info:")
        what, value = f"weights at epoch {epoch}", "weight"
    note = "one scale per layer." if ss["w_per_layer"] else "one scale shared by all layers."
    shown = mats if ss["w_fullres"] else [(figures.block_average(W)[0] if W.ndim == 2 else W, b)
                                          for W, b in mats]
    lims = figures.shared_scale(shown, per_layer=True)       # of what is drawn: block means
    if not ss["w_per_layer"] and min(lims) < 0.25 * max(lims):
        note += (" Layers whose values are small next to the others look pale: switch on "
                 "Scale per layer to see their pattern.")
    st.caption(f"Colours: orange negative, white zero, blue positive (as on the unit maps and the Train page); {note} Hover a cell for its value.")
    _note_resolution(tr)
    sizes = tr.network.sizes
    if tr.network.spatial:
        st.plotly_chart(figures.conv_diagram(figures.diagram_blocks(tr.network),
                                             "The network: conv and pool blocks with their output shapes"),
                        key="chart_conv_diagram")
        _conv_filters(tr, mats, value, what)
    elif max(sizes) <= figures.GRAPH_MAX_UNITS:
        st.plotly_chart(figures.network_graph(mats, tr.network.activations, _input_names(tr),
                                              _output_names(tr), epoch, value),
                        key="chart_network")
    _heatmaps(tr, epoch, mats, value, what)
    if tr.network.spatial:
        _feature_maps(tr, epoch)
    shape = tr.data.image_shape
    if shape and tr.network.sizes[0] == shape[0] * shape[1] and tr.network.sizes[1] > 0:
        st.radio("Units to draw", [16, 32, 64], key="w_units", horizontal=True)
        n = min(ss["w_units"], tr.network.sizes[1])
        fig = figures.unit_images(mats[0][0], shape, n,
                                  f"Layer 1 units as {shape[0]}×{shape[1]} images: {value} from each "
                                  f"pixel (first {n} of {tr.network.sizes[1]} units, epoch {epoch})",
                                  value=value)
        st.plotly_chart(fig, key="chart_units")
    if tr.data.on_plane and len(tr.network.layers) > 1:
        _unit_maps(tr, epoch)
    stored = tr.history.grads.get(epoch)   # runs loaded from a file keep only the latest
    grads = (tr.network.unflatten(stored) if stored is not None
             else [(None, None)] * len(tr.network.param_layers))
    st.plotly_chart(figures.histograms(
        [W for W, _ in _layers(tr, epoch)], [G for G, _ in grads],
        f"Weight and gradient histograms at epoch {epoch} (gradients of the epoch's last batch)",
        epoch=epoch), key="chart_hist")
    if st.toggle("Norms per layer over the epochs", key="w_norms",
                 help="Weight and gradient norms of every layer: vanishing or exploding gradients "
                      "show up here"):
        st.plotly_chart(figures.norms(tr.records), key="chart_norms")


controls.training_panel(body)
