"""The Predictions page in AppTest: gallery, filters, paging, confusion matrix, per-class
accuracy, the epoch slider, uploads with bad files among good ones, and other datasets."""
import json
import os

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_predict import bad_images, digit_png, encode, odd_good_images, seven

from nncore import predict

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dashboard", "app.py")
PAGE = "app_pages/predictions.py"


def new_app(dataset=None):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    if dataset:
        at.selectbox(key="sb_dataset").set_value(dataset).run()
    return at


def train(at, epochs):
    """Click "Train N epochs" and let it run (AppTest reruns stand in for fragment ticks)."""
    at.number_input(key="sb_epochs").set_value(epochs).run()
    at.button(key="btn_train_n").click().run()
    for _ in range(10 * epochs):
        if at.session_state["trainer"].epoch >= epochs:
            break
        at.run()
    assert at.session_state["trainer"].epoch == epochs


def charts(at):
    """{title: figure dict} of the page's plotly charts."""
    out = {}
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        out[spec["layout"]["title"]["text"]] = spec
    return out


def chart(at, start):
    found = [s for t, s in charts(at).items() if t.startswith(start)]
    assert found, f"no chart titled {start!r}: {list(charts(at))}"
    return found[0]


def gallery_ids(at):
    g = chart(at, "Epoch ")
    markers = [d for d in g["data"] if d.get("type") == "scatter"]
    return decode(markers[0]["customdata"]).astype(int).tolist() if markers else []


def decode(v):
    """A Plotly array as JSON: a list, or {"dtype", "bdata"} (base64)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        if "shape" in v:
            a = a.reshape([int(n) for n in str(v["shape"]).split(",")])
        return a
    return np.asarray(v)


def texts(at):
    return [m.value for m in at.markdown] + [c.value for c in at.caption]


def no_problems(at):
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]


def evaluation(at):
    tr = at.session_state["trainer"]
    return tr, predict.evaluate(tr.network, tr.data.X_test, tr.data.Y_test, tr.data)


def reset_filters(at):
    for key in ("pred_true", "pred_guess"):
        at.selectbox(key=key).set_value("Any")
    at.selectbox(key="pred_sort").set_value("Data order")
    at.toggle(key="pred_mistakes").set_value(False)
    at.run()


@pytest.fixture(scope="module")
def digits_app():
    at = new_app("digits")
    train(at, 12)
    no_problems(at)
    return at


# -- test samples --------------------------------------------------------------------------
def test_gallery_shows_20_test_samples_right_and_wrong(digits_app):
    at = digits_app
    reset_filters(at)
    no_problems(at)
    tr, ev = evaluation(at)
    assert gallery_ids(at) == list(range(20))
    g = chart(at, "Epoch 12: test samples 1–20 of 359")
    notes = [a["text"] for a in g["layout"]["annotations"]]
    assert len(notes) == 20 and len(g["layout"]["shapes"]) == 20
    for i, text in enumerate(notes):
        guess, label = ev.guesses[i], ev.labels[i]
        if guess == label:
            assert text.startswith(f"<b>Correct guess! {guess}</b>")
        else:
            assert text.startswith(f"<b>Guessed {guess}, then {ev.top[i, 1]}</b>")
            assert f"true {label}" in text
    colours = {s["line"]["color"] for s in g["layout"]["shapes"]}
    assert len(colours) == 2 or ev.correct[:20].all() or not ev.correct[:20].any()
    wrong = int((~ev.correct).sum())
    assert any(f"**{ev.n - wrong:,} of {ev.n:,}**" in t for t in texts(at))


def test_confusion_matrix_and_per_class_accuracy(digits_app):
    at = digits_app
    tr, ev = evaluation(at)
    cm = chart(at, "Confusion matrix at epoch 12")
    right, wrong = (np.nan_to_num(decode(d["z"]).astype(float)) for d in cm["data"][:2])
    assert np.array_equal(right + wrong, ev.confusion())
    cells = [d for d in cm["data"] if d.get("type") == "scatter"][0]
    assert len(decode(cells["customdata"]).reshape(-1)) == 2 * 100     # [true, guess] per cell
    bars = chart(at, "Accuracy per class at epoch 12")["data"][0]
    assert np.allclose(decode(bars["y"]), 100 * predict.per_class_accuracy(ev.confusion()), atol=1e-3)


def test_mistakes_only_and_sorting(digits_app):
    at = digits_app
    reset_filters(at)
    tr, ev = evaluation(at)
    at.toggle(key="pred_mistakes").set_value(True).run()
    no_problems(at)
    ids = gallery_ids(at)
    assert ids == ev.select(mistakes_only=True)[:20].tolist() and not ev.correct[ids].any()
    at.selectbox(key="pred_sort").set_value("Least confident first").run()
    ids = gallery_ids(at)
    assert ids == ev.select(True, "least")[:20].tolist()
    assert np.all(np.diff(ev.confidence[ids]) >= 0)
    at.toggle(key="pred_mistakes").set_value(False)
    at.selectbox(key="pred_sort").set_value("Most confident first").run()
    ids = gallery_ids(at)
    assert ids == ev.select(False, "most")[:20].tolist()
    assert np.all(np.diff(ev.confidence[ids]) <= 0)


def test_class_filters_pick_one_cell_and_frame_it(digits_app):
    at = digits_app
    reset_filters(at)
    tr, ev = evaluation(at)
    at.selectbox(key="pred_true").set_value("3")
    at.selectbox(key="pred_guess").set_value("3").run()
    no_problems(at)
    ids = gallery_ids(at)
    assert ids and all(ev.labels[i] == 3 and ev.guesses[i] == 3 for i in ids)
    frame = chart(at, "Confusion matrix")["layout"]["shapes"]
    assert len(frame) == 1 and frame[0]["x0"] == 2.5 and frame[0]["y0"] == 2.5
    # an empty cell says so instead of drawing an empty gallery
    empty = [(t, g) for t in range(10) for g in range(10) if t != g and ev.confusion()[t, g] == 0][0]
    at.selectbox(key="pred_true").set_value(str(empty[0]))
    at.selectbox(key="pred_guess").set_value(str(empty[1])).run()
    no_problems(at)
    assert any("No samples match" in i.value for i in at.info)


def test_pages_of_20(digits_app):
    at = digits_app
    reset_filters(at)
    pager = at.get("pagination")[0]
    assert pager.num_pages == 18                       # 359 test digits
    pager.set_value(2).run()
    assert gallery_ids(at) == list(range(20, 40))
    at.get("pagination")[0].set_value(18).run()
    assert gallery_ids(at) == list(range(340, 359))
    assert chart(at, "Epoch 12: test samples 341–359 of 359 (page 18 of 18)")
    at.toggle(key="pred_mistakes").set_value(True).run()    # new filters start on page 1
    tr, ev = evaluation(at)
    assert gallery_ids(at) == ev.select(mistakes_only=True)[:20].tolist()


def test_an_earlier_epoch_leaves_the_run_alone(digits_app):
    at = digits_app
    reset_filters(at)
    tr = at.session_state["trainer"]
    live = tr.network.params.copy()
    at.select_slider(key="epoch_slider").set_value(1).run()
    no_problems(at)
    net, _ = predict.network_at(tr, 1)
    ev1 = predict.evaluate(net, tr.data.X_test, tr.data.Y_test, tr.data)
    assert any(t.startswith("At epoch **1**") for t in texts(at))
    assert chart(at, "Confusion matrix at epoch 1")
    assert any(f"(**{ev1.accuracy:.1%}**)" in t for t in texts(at))
    assert tr.epoch == 12 and np.array_equal(tr.network.params, live)
    at.select_slider(key="epoch_slider").set_value(12).run()
    assert chart(at, "Confusion matrix at epoch 12")


# -- your images ------------------------------------------------------------------------------
def upload(at, files):
    at.session_state["pred_view"] = "Your images"
    at.run()
    uploader(at).set_value(files).run()


def uploader(at):
    found = [u for u in at.get("file_uploader") if u.label == "Upload images"]
    assert len(found) == 1
    return found[0]


def test_upload_predicts_good_files_and_names_each_bad_one(digits_app):
    at = digits_app
    tr = at.session_state["trainer"]
    d = tr.data
    good = [(f"test{i}.png", digit_png(d.X_test[i].reshape(8, 8)), "image/png") for i in range(6)]
    good += [(name, data, "application/octet-stream") for name, data in odd_good_images().items()]
    bad = bad_images()
    files = good[:3] + [(n, data, "image/png") for n, (data, _) in bad.items()] + good[3:]
    upload(at, files)
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == len(bad)
    for name, (_, piece) in bad.items():
        assert any(e.startswith(f"**{name}**: ") and piece in e for e in errors), (name, errors)
    results = {m.value.split("**")[1]: m.value for m in at.markdown if " → **" in m.value}
    assert sorted(results) == sorted(n for n, _, _ in good)
    # each good image: its guess is the network's own answer on what it saw
    spec = predict.image_input_of(tr)
    for name, data, _ in good:
        r = predict.predict_images(tr.network, [(name, data)], spec)[0]
        assert results[name].split("→ **")[1].startswith(f"{int(np.argmax(r.probs))}**")
    strips = [h.proto.body for h in at.get("html") if h.proto.body.startswith("<div class=\"nn-pstrip\"")]
    assert len(strips) == len(good)                      # every class's probability, per image
    for body in strips:
        assert body.count('class="nn-pcol"') == 10
    assert any(f"{len(files)} images" in t and f"{len(good)} predicted" in t
               and f"{len(bad)} could not be read" in t for t in texts(at))
    # the first few photos of test digits are mostly recognised
    labels = d.labels(d.Y_test[:6])
    guessed = [int(results[f"test{i}.png"].split("→ **")[1][0]) for i in range(6)]
    assert sum(int(a == b) for a, b in zip(guessed, labels)) >= 4


def test_uploads_stay_after_a_page_switch_and_can_be_cleared(digits_app):
    at = digits_app
    upload(at, [("seven.png", encode(seven()), "image/png")])
    assert any(" → **" in m.value for m in at.markdown)
    at.switch_page("app_pages/train.py").run()
    at.switch_page(PAGE).run()
    assert at.session_state["pred_view"] == "Your images"
    no_problems(at)
    assert any(m.value.startswith("**seven.png** → ") for m in at.markdown)
    at.button(key="pred_clear").click().run()
    assert not any(" → **" in m.value for m in at.markdown)
    assert not [b for b in at.button if b.key == "pred_clear"]


def test_untrained_network_is_flagged():
    at = new_app("digits")
    at.session_state["pred_view"] = "Your images"
    at.run()
    no_problems(at)
    assert any("untrained network (epoch 0)" in w.value for w in at.warning)


def test_a_network_not_trained_on_images_says_how_to_get_one():
    at = new_app()                                       # the default: moons
    at.session_state["pred_view"] = "Your images"
    at.run()
    no_problems(at)
    info = " ".join(i.value for i in at.info)
    assert "need a network trained on images" in info and "mnist_sample" in info
    assert "digits" in info and "Snapshots" in info
    assert not [u for u in at.get("file_uploader") if u.label == "Upload images"]


# -- other kinds of data ----------------------------------------------------------------------
def test_points_show_right_and_wrong_over_the_boundary():
    at = new_app()
    train(at, 3)
    no_problems(at)
    tr, ev = evaluation(at)
    b = chart(at, "Epoch 3: right ● and wrong ✕")
    names = [d.get("name", "") for d in b["data"] if d.get("type") == "scatter"]
    n_right = int(ev.correct.sum())
    assert f"right ({n_right})" in names or n_right == 0
    assert f"wrong ({ev.n - n_right})" in names or n_right == ev.n
    assert at.dataframe, "the samples table"
    at.toggle(key="pred_mistakes").set_value(True).run()
    b = chart(at, "Epoch 3: right ● and wrong ✕")
    names = [d.get("name", "") for d in b["data"] if d.get("type") == "scatter"]
    assert not any(n.startswith("right") for n in names)


def test_logic_sets_show_the_truth_table():
    at = new_app("modified_xor")
    no_problems(at)
    assert any("rows of the truth table right" in t for t in texts(at))
    table = at.dataframe[0].value
    assert list(table.columns)[:3] == ["x1", "x2", "x3"] and len(table) == 8
    assert chart(at, "Outputs vs targets")


# -- the figure builders, with Plotly's validation on -------------------------------------------
def test_every_figure_is_valid_plotly(monkeypatch):
    import plotly.io as pio

    from dashboard import figures
    from dashboard.figures import predictions as pf
    monkeypatch.setattr(figures.base, "VALIDATE", True)   # every module builds with base.make_figure
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), 20).astype(np.float32)
    top, top_p = predict.top_k(probs, 3)
    labels = rng.integers(0, 10, 20)
    names = [str(i) for i in range(10)]
    xs = ys = np.linspace(-1, 1, 20)
    grid_out = rng.dirichlet(np.ones(3), 400).astype(np.float32)
    figs = [
        pf.gallery(rng.random((20, 784)), (28, 28), labels, top, top_p, names, np.arange(20),
                   "Epoch 3: test samples", selected=4),
        pf.gallery(rng.random((3, 64)), (8, 8), labels[:3], top[:3], top_p[:3],
                   ["T-shirt/top", "Trouser", "Pullover", *names[3:]], np.arange(3), "long names"),
        pf.gallery(np.zeros((0, 64)), (8, 8), labels[:0], top[:0], top_p[:0], names,
                   np.arange(0), "empty"),
        pf.confusion_heatmap(predict.confusion_matrix(labels, top[:, 0], 10), names, "cm", (2, 3)),
        pf.per_class_accuracy(np.r_[np.linspace(0.3, 1, 9), np.nan], np.r_[np.full(9, 10), 0],
                              names, 0.8, "per class"),
        pf.probability_bars(probs[0], names, "one", label=3),
        pf.probability_bars(probs[0], names),
        figures.boundary_right_wrong(xs, ys, grid_out, rng.normal(size=(30, 2)), rng.integers(0, 3, 30),
                                rng.integers(0, 3, 30), rng.random(30), ["a", "b", "c"], 5),
        figures.boundary_right_wrong(xs, ys, rng.random((400, 1)).astype(np.float32),
                                rng.normal(size=(30, 2)), rng.integers(0, 2, 30),
                                rng.integers(0, 2, 30), rng.random(30), ["0", "1"], 5),
    ]
    for fig in figs:
        pio.to_json(fig, validate=True)
    # right and wrong points on the boundary: one trace each; two classes keep the P() colour bar
    three, two = (f.to_plotly_json()["data"] for f in figs[-2:])
    assert [t["name"].split()[0] for t in three] == ["right", "wrong"]
    assert two[0]["marker"]["showscale"] and [t["name"].split()[0] for t in two[1:]] == ["right", "wrong"]
    strip = pf.probability_strip(probs[0], ["<b>x</b>", *names[1:]])
    assert strip.count('class="nn-pcol"') == 10 and "<b>x</b>" not in strip   # names escaped


def test_tile_titles_say_right_and_wrong_like_the_tutorial():
    from dashboard.figures.predictions import tile_title
    names = [str(i) for i in range(10)]
    assert tile_title([7, 1], [0.98, 0.01], 7, names)[0] == "Correct guess! 7"
    first, second = tile_title([3, 5], [0.6, 0.3], 5, names)
    assert first == "Guessed 3, then 5" and second == "60% / 30% · true 5"
    long = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]
    assert tile_title([2, 4], [0.5, 0.4], 4, long) == ["Guessed Pullover,", "then Coat",
                                                      "50% / 40% · true Coat"]
