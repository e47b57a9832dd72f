"""Predictions page: what the network gets right and wrong, and what it makes of your images.

Everything is computed with a copy of the network at the epoch chosen on the slider, so
scrubbing back through the run never touches the live run.
"""
import logging
import zlib

import numpy as np
import streamlit as st

from dashboard import controls, figures, plaintext, state, upload_store, uploads
from dashboard.figures import predictions as pf
from nncore import predict
from nncore.images import NO_INK
from nncore.trainer import correct_rows

try:  # a third-party component: the page works without it
    from streamlit_drawable_canvas import st_canvas
except Exception:  # noqa: BLE001 (any import problem only costs the drawing canvas)
    st_canvas = None

log = logging.getLogger("dashboard")

PER_PAGE, COLS = 20, 5           # the tutorials' 4×5 gallery
TABLE_ROWS, TABLE_COLUMNS = 500, 24   # the most of a table of samples a reader can take in
GRID = 100                       # decision-boundary resolution per side
IMAGE_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
TABS = ["Test samples", "Your images"]
ANY = "Any"
SORTS = {"Data order": "index", "Most confident first": "most", "Least confident first": "least"}
CACHE = "pred_cache"             # (sha1, fmt) -> preprocessed image or error text
LAST = "pred_last_upload"        # [(name, cache key)] of the latest upload
UPLOADS = "pred_upload_n"        # the uploader's key is pred_upload_<n>: a new n empties it
CM_N, CM_SEEN = "pred_cm_n", "pred_cm_seen"
DETAIL, DETAIL_SEEN = "pred_detail", "pred_detail_seen"   # the sample clicked in the gallery


# -- widget state --------------------------------------------------------------------------
def _restore():
    """Defaults of the page's own state (its widgets' values are kept across pages by
    ``state.PAGE_WIDGETS``)."""
    ss = st.session_state
    ss.setdefault(CM_N, 0)
    ss.setdefault(CM_SEEN, None)
    ss.setdefault(DETAIL, None)
    ss.setdefault(DETAIL_SEEN, None)
    ss.setdefault(CACHE, {})
    ss.setdefault(LAST, [])
    ss.setdefault(UPLOADS, 0)


def _filters_changed(key):
    """A filter widget changed: back to page 1; a class filter drops the matrix's selection."""
    st.session_state["_kept_pred_page"] = 1
    st.session_state[DETAIL] = None
    if key in ("pred_true", "pred_guess"):
        st.session_state[CM_N] += 1
        st.session_state[CM_SEEN] = None


def _chart_points(key):
    """The points selected on the plotly chart ``key`` in the last interaction ([] if none)."""
    value = st.session_state.get(key)
    try:
        return list(value["selection"]["points"]) if value else []
    except (KeyError, TypeError):
        return []


def _apply_matrix_selection(names):
    """A click on a cell of the confusion matrix sets the class filters (before they are drawn).

    Only a new, non-empty selection counts: the chart forgets its selection whenever its
    figure changes (every epoch), and that must not undo the filters.
    """
    ss = st.session_state
    points = _chart_points(f"pred_cm_{ss[CM_N]}")
    cell = None
    if points and points[0].get("customdata") is not None:
        cd = points[0]["customdata"]
        cell = (int(cd[0]), int(cd[1])) if not isinstance(cd, dict) else (int(cd["0"]), int(cd["1"]))
    if cell == ss[CM_SEEN]:
        return
    ss[CM_SEEN] = cell
    if cell is None or max(cell) >= len(names):
        return
    ss["pred_true"], ss["pred_guess"] = names[cell[0]], names[cell[1]]
    if cell[0] == cell[1]:
        ss["pred_mistakes"] = False    # a diagonal cell holds only right answers
    ss["_kept_pred_page"] = 1
    ss[DETAIL] = None


# -- test samples -----------------------------------------------------------------------------
def _logic(tr, net, epoch):
    data = tr.data
    out = net.predict(data.X_train)
    right = correct_rows(out, data.Y_train, data.target)
    st.markdown(f"At epoch **{epoch}** the network answers **{int(right.sum())} of {len(right)}** "
                "rows of the truth table right (each output rounded to 0 or 1).")
    left, mid = st.columns(2)
    with left:
        st.dataframe(figures.truth_table(data.P_train, data.Y_train, out), hide_index=True,
                     width="stretch")
        st.plotly_chart(figures.logic_outputs(data.P_train, data.Y_train, out, epoch),
                        key="pred_logic")
    with mid:
        if data.on_plane and predict.can_evaluate(data):
            xs, ys, grid = predict.plane_answers(data, net, GRID)
            ev = predict.evaluate(net, data.X_train, data.Y_train, data)
            fig = figures.boundary_right_wrong(xs, ys, grid, data.P_train, ev.labels,
                                          ev.guesses, ev.confidence, ev.class_names, epoch)
            st.plotly_chart(fig, key="pred_logic_boundary")


def _class_options(ev):
    return [ANY] + list(ev.class_names)


def _filter_widgets(ev):
    ss = st.session_state
    options = _class_options(ev)
    for key in ("pred_true", "pred_guess"):
        if ss.get(key) not in options:
            ss[key] = ANY
    if ss.get("pred_sort") not in SORTS:
        ss["pred_sort"] = "Data order"
    c = st.container(key="pred_filters").columns([1.2, 1.4, 1.2, 1.2], vertical_alignment="bottom")
    c[0].toggle("Mistakes only", key="pred_mistakes", on_change=_filters_changed,
                args=("pred_mistakes",))
    c[1].selectbox("Order", list(SORTS), key="pred_sort", on_change=_filters_changed,
                   args=("pred_sort",), help="By the probability of the top guess")
    c[2].selectbox("True class", options, key="pred_true", on_change=_filters_changed,
                   args=("pred_true",), help="Or click a cell of the confusion matrix")
    c[3].selectbox("Guessed class", options, key="pred_guess", on_change=_filters_changed,
                   args=("pred_guess",), help="Or click a cell of the confusion matrix")
    names = list(ev.class_names)
    t = None if ss["pred_true"] == ANY else names.index(ss["pred_true"])
    g = None if ss["pred_guess"] == ANY else names.index(ss["pred_guess"])
    return ev.select(ss["pred_mistakes"], SORTS[ss["pred_sort"]], t, g), t, g


def _describe_filter(n, t, g, names, part):
    ss = st.session_state
    what = "mistakes" if ss["pred_mistakes"] else f"{part} samples"
    esc = plaintext.markdown_escape          # class names can be a CSV file's labels
    if t is not None and g is not None:
        what += f" of true class {esc(names[t])} guessed as {esc(names[g])}"
    elif t is not None:
        what += f" of true class {esc(names[t])}"
    elif g is not None:
        what += f" guessed as {esc(names[g])}"
    return f"{n:,} {what}"


def _pager(idx):
    """Page numbers under the gallery; returns ``predict.page_of`` of the chosen page. The
    widget's key names the filters, so that new filters start on page 1 (and the page is
    kept across page switches)."""
    ss = st.session_state
    _, page, n_pages = predict.page_of(idx, ss.get("_kept_pred_page", 1), PER_PAGE)
    if n_pages > 1:
        sig = "_".join(str(ss[k]) for k in ("pred_mistakes", "pred_sort", "pred_true", "pred_guess"))
        page = st.pagination(n_pages, default=page, key=f"pred_page_{zlib.crc32(sig.encode()):08x}_{n_pages}",
                             max_visible_pages=9)
    ss["_kept_pred_page"] = page
    return predict.page_of(idx, page, PER_PAGE)


def _gallery(tr, ev, X, idx, epoch, part):
    ss = st.session_state
    data = tr.data
    box = st.container()
    shown, page, n_pages = _pager(idx)
    with box:
        if not len(shown):
            st.info("No samples match these filters.", icon=":material/filter_alt_off:")
            return
        first = (page - 1) * PER_PAGE + 1
        key = "pred_gallery"
        picked = _chart_points(key)
        clicked = (int(picked[0]["customdata"]) if picked and picked[0].get("customdata") is not None
                   else None)
        if clicked != ss[DETAIL_SEEN]:    # a new click (an empty selection is the chart resetting)
            ss[DETAIL_SEEN] = clicked
            if clicked is not None:
                ss[DETAIL] = clicked
        data_key = (tr.config.dataset, repr(tr.config.dataset_options), tr.config.seed)
        if ss.get("pred_detail_data") != data_key:    # a sample of other data: not this one's
            ss["pred_detail_data"], ss[DETAIL] = data_key, None
        chosen = ss[DETAIL]
        title = (f"Epoch {epoch}: {part} samples {first}–{first + len(shown) - 1} of {len(idx):,} "
                 f"(page {page} of {n_pages})")
        fig = pf.gallery(X[shown], data.image_shape, ev.labels[shown], ev.top[shown],
                         ev.top_p[shown], ev.class_names, shown, title, COLS, chosen)
        st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points",
                        config={"displayModeBar": False})
        if chosen is not None and chosen < ev.n:
            _sample_detail(data, ev, X, chosen, part)
        else:
            st.caption("Click a picture to see the probability of every class.")


def _sample_detail(data, ev, X, i, part):
    label, guess = int(ev.labels[i]), int(ev.guesses[i])
    verdict = "right" if label == guess else "wrong"
    c = st.columns([1, 3])
    with c[0]:
        st.image(pf.digit_picture(X[i].reshape(data.image_shape), 140),
                 caption=f"{part} sample #{i}: true {ev.class_names[label]}")
    with c[1]:
        st.plotly_chart(pf.probability_bars(
            ev.probs[i], ev.class_names, f"Sample #{i}: guessed {ev.class_names[guess]} "
            f"({100 * float(ev.probs[i, guess]):.1f}%), {verdict}", label=label),
            key="pred_detail", config={"displayModeBar": False})


def _sample_table(ev, X, idx):
    shown = idx[:TABLE_ROWS]
    names = ev.class_names
    cols = {"sample": shown}
    n_cols = min(X.shape[1], TABLE_COLUMNS)      # a wide CSV file: the first columns only
    for j in range(n_cols):
        cols[f"x{j + 1}"] = np.round(X[shown, j].astype(np.float64), 3)
    cols["true"] = [names[t] for t in ev.labels[shown]]
    cols["guess"] = [names[g] for g in ev.guesses[shown]]
    cols["probability"] = np.round(ev.confidence[shown].astype(np.float64), 4)
    cols["right"] = np.where(ev.correct[shown], "✓", "✗")
    st.dataframe(cols, hide_index=True, width="stretch", height=320,
                 column_config={"probability": st.column_config.ProgressColumn(
                     "probability", min_value=0.0, max_value=1.0, format="percent")})
    if len(idx) > len(shown) or X.shape[1] > n_cols:
        st.caption(f"The first {len(shown)} of {len(idx):,} samples"
                   + (f", inputs x1–x{n_cols} of {X.shape[1]:,}" if X.shape[1] > n_cols else "") + ".")


def _matrix(ev, epoch, t, g, part):
    ss = st.session_state
    cm = ev.confusion()
    selected = (t, g) if t is not None and g is not None else None
    st.plotly_chart(pf.confusion_heatmap(cm, ev.class_names,
                                         f"Confusion matrix at epoch {epoch} ({part} set)", selected),
                    key=f"pred_cm_{ss[CM_N]}", on_select="rerun", selection_mode="points",
                    config={"displayModeBar": False})
    st.caption("Rows: the true class; columns: the network's guess. Right answers are green, "
               "mistakes red. Click a cell to show its samples in the gallery; set True class and "
               "Guessed class back to Any to show all.")
    counts = cm.sum(axis=1)
    st.plotly_chart(pf.per_class_accuracy(predict.per_class_accuracy(cm), counts, ev.class_names,
                                          ev.accuracy, f"Accuracy per class at epoch {epoch}"),
                    key="pred_per_class", config={"displayModeBar": False})


def _test_samples(tr, net, epoch):
    data = tr.data
    if data.kind == "logic" or not predict.can_evaluate(data):
        _logic(tr, net, epoch)
        return
    X, Y, P, part = predict.held_out(data)
    ev = predict.evaluate(net, X, Y, data)
    _apply_matrix_selection(list(ev.class_names))
    wrong = int((~ev.correct).sum())
    st.markdown(f"At epoch **{epoch}** the network gets **{ev.n - wrong:,} of {ev.n:,}** {part} "
                f"samples right (**{ev.accuracy:.1%}**): **{wrong:,}** mistake{'s' if wrong != 1 else ''}.")
    if part == "training":
        st.caption("This dataset holds no held-out samples: these are the training samples.")
    if not ev.exact:
        st.caption(f"The output layer ({net.activations[-1]}) does not give probabilities: the "
                   "percentages are each output's share of the sum of outputs.")
    left, right = st.columns([3, 2], gap="medium")
    with left:
        idx, t, g = _filter_widgets(ev)
        st.caption(_describe_filter(len(idx), t, g, ev.class_names, part) + ".")
        if data.kind == "image" and data.image_shape:
            _gallery(tr, ev, X, idx, epoch, part)
        else:
            if P is not None:
                xs, ys, grid = predict.plane_answers(data, net, GRID)
                st.plotly_chart(figures.boundary_right_wrong(xs, ys, grid, P[idx], ev.labels[idx],
                                                        ev.guesses[idx], ev.confidence[idx],
                                                        ev.class_names, epoch),
                                key="pred_boundary")
            _sample_table(ev, X if P is None else P, idx)
    with right:
        _matrix(ev, epoch, t, g, part)


# -- your images ------------------------------------------------------------------------------
def _no_image_network(exc):
    st.info(f"**Your images need a network trained on images**: {exc}.\n\n"
            "To get one, choose **mnist_sample** (28×28 handwritten digits, or the preset "
            "**mnist_modern**) or **digits** (8×8 digits, trains in about a second) in the "
            "sidebar's **Dataset** box and click **Train 1 epoch** a few times; or load the "
            "training state of an image network on the **Snapshots** page.",
            icon=":material/image_not_supported:")


def _predict_keys(net, spec, named_keys):
    """[(name, cache key)] -> [(name, entry, probs or None)] with one network pass."""
    found = uploads.entries(st.session_state[CACHE], named_keys)
    good = [e[0] for _, e in found if not isinstance(e, str)]
    probs = iter(predict.predict_arrays(net, good, spec) if good else [])
    return [(name, e, None if isinstance(e, str) else next(probs)) for name, e in found]


def _guess_text(probs, names):
    """'**7** (98.1%), then 1 (1.2%)': the top guesses of one image."""
    classes, values = predict.top_k(probs[None, :], 3)
    esc = plaintext.markdown_escape
    best = f"**{esc(names[classes[0][0]])}** ({100 * values[0][0]:.1f}%)"
    rest = [f"{esc(names[c])} ({100 * p:.1f}%)" for c, p in zip(classes[0][1:], values[0][1:]) if p >= 0.005]
    return best + (", then " + ", ".join(rest) if rest else "")


def _result_card(i, name, entry, probs, spec):
    if isinstance(entry, str):
        st.error(f"**{plaintext.markdown_escape(name)}**: {plaintext.markdown_escape(entry)}",
                 icon=":material/broken_image:")
        return
    array, thumb, picture, steps = entry
    h, w = spec.shape
    how = "How the network's input was made:\n\n" + "\n".join(
        f"{k + 1}. {s}" for k, s in enumerate(steps)) + (
        "\n\nThen binarised (> 127/255 becomes 1), as the training data was."
        if spec.binarize else "")
    with st.container(border=True, key=f"pred_result_{i}"):
        st.markdown(f"**{plaintext.markdown_escape(name)}** → {_guess_text(probs, spec.class_names)}",
                    help=how)
        c = st.columns([1, 1, 2.6], vertical_alignment="top")
        c[0].image(thumb, caption="your image", width="stretch")
        c[1].image(picture, width="stretch", caption=f"network input, {h}×{w}")
        with c[2]:
            st.html(pf.probability_strip(probs, spec.class_names))


def _clear_images():
    st.session_state[LAST] = []
    st.session_state[UPLOADS] += 1


def _results(results, spec, fresh):
    if not results:
        return
    n_bad = sum(p is None for _, _, p in results)
    st.markdown(f"**{len(results)} image{'s' if len(results) != 1 else ''}**: "
                f"{len(results) - n_bad} predicted"
                + (f", {n_bad} could not be read" if n_bad else "") + "."
                + ("" if fresh else " Your last upload, predicted by the network shown here."))
    st.button("Clear images", key="pred_clear", on_click=_clear_images, icon=":material/delete:",
              help="Empty the list of uploaded images")
    st.html(pf.STRIP_CSS)
    cols = st.columns(2)
    for i, (name, entry, probs) in enumerate(results):
        with cols[i % 2]:
            _result_card(i, name, entry, probs, spec)


def _uploads(net, spec, lim):
    ss = st.session_state
    key = f"pred_upload_{ss[UPLOADS]}"
    files = st.file_uploader(
        "Upload images", accept_multiple_files=True, type=IMAGE_TYPES, key=key,
        max_upload_size=max(1, lim.max_upload_bytes // 2**20),
        help=f"Photos or scans of single {'digits' if spec.class_names[:3] == ('0', '1', '2') else 'items'}"
             f" (PNG, JPEG, GIF, BMP, WebP or TIFF; up to {lim.max_images} files of "
             f"{lim.max_upload_bytes // 2**20} MB). Each is prepared the way the training images "
             "were: upright, on white, ink found and cropped, fitted and centred.")
    if files:
        if len(files) > lim.max_images:
            st.warning(f"{len(files)} files uploaded: only the first {lim.max_images} are read.",
                       icon=":material/warning:")
        read = files[:lim.max_images]
        sources = [(uploads.digest(f.getvalue()), f.getvalue) for f in read]
        ss[LAST] = list(zip([f.name for f in read], uploads.cached(ss[CACHE], sources, spec, lim)))
        # read once: the bytes leave Streamlit's store and a fresh uploader replaces this one,
        # so no upload stays in memory (the prepared images are in the cache)
        upload_store.release(files)
        ss.pop(key, None)
        ss[UPLOADS] += 1
    named = [(n, k) for n, k in ss[LAST] if k[1] == spec.fmt]
    return (_predict_keys(net, spec, named) if named else []), bool(files)


def _canvas(net, spec, lim):
    st.markdown("**Draw a piece of clothing**" if spec.dataset.startswith("fashion")
                else "**Draw a digit**")
    if st_canvas is None:
        st.caption("The drawing canvas needs the `streamlit-drawable-canvas` package (0.13 or "
                   "later): `pip install -r requirements.txt`.")
        return
    ss = st.session_state
    if "pred_canvas" not in ss:        # back on this page: the drawing it had comes back
        ss["pred_canvas_start"] = ss.get("pred_canvas_drawing")
    result = st_canvas(stroke_width=18, stroke_color="#000000", background_color="#ffffff",
                       height=240, width=240, drawing_mode="freedraw", key="pred_canvas",
                       return_image_data=True, initial_drawing=ss.get("pred_canvas_start"))
    if result.json_data is not None:
        ss["pred_canvas_drawing"] = result.json_data
    drawn = bool(result.json_data and result.json_data.get("objects"))
    data = result.image_bytes if drawn else None
    if not data:
        st.caption("Draw with the mouse or a finger; the drawing goes through the same "
                   "preparation as an uploaded photo. The bin icon clears it.")
        return
    key, = uploads.cached(st.session_state[CACHE], [(uploads.digest(data), lambda: data)], spec, lim)
    (_, entry, probs), = _predict_keys(net, spec, [("drawing", key)])
    if isinstance(entry, str):
        if entry == NO_INK:
            st.caption("Nothing drawn yet.")
        else:
            plaintext.error(f"The drawing: {entry}", icon=":material/broken_image:")
        return
    st.markdown(f"Your drawing → {_guess_text(probs, spec.class_names)}")
    c = st.columns([1, 2], vertical_alignment="center")
    c[0].image(entry[2], caption="what the network sees", width=112)
    with c[1]:
        st.plotly_chart(pf.probability_bars(probs, spec.class_names, height=180),
                        key="pred_canvas_probs", config={"displayModeBar": False, "staticPlot": True})


def _your_images(tr, net, epoch):
    try:
        spec = predict.image_input_of(tr)
    except ValueError as exc:
        _no_image_network(exc)
        return
    lim = state.LIMITS
    notes = [f"Predictions of the network at epoch **{epoch}**."]
    if spec.dataset.startswith("fashion"):
        notes.append("Uploads are prepared the MNIST way (centred, fitted into 20×20, strokes "
                     "thickened): made for digits, rough for photos of clothes.")
    st.markdown(" ".join(notes))
    if epoch == 0:
        st.warning("This is the untrained network (epoch 0): its guesses are still random. "
                   "Train a few epochs first.", icon=":material/warning:")
    left, right = st.columns([3, 2], gap="large")
    with left:
        results, fresh = _uploads(net, spec, lim)
    with right:
        _canvas(net, spec, lim)
    _results(results, spec, fresh)


def body(tr):
    _restore()
    epoch = controls.epoch_slider(tr)
    net, epoch = predict.network_at(tr, epoch)
    tabs = st.tabs(TABS, key="pred_view", on_change="rerun")
    if tabs[0].open:
        with tabs[0]:
            _test_samples(tr, net, epoch)
    if tabs[1].open:
        with tabs[1]:
            _your_images(tr, net, epoch)


controls.training_panel(body)
