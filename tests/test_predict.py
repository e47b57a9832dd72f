"""Predictions without UI: probabilities, top guesses, confusion matrix, per-class accuracy,
networks of past epochs, image files through the shared preprocessing, and the CLI."""
import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nncore import Trainer, predict, snapshot
from nncore.cli import main
from nncore.images import NO_INK
from nncore.predict import (
    Evaluation,
    class_probabilities,
    confusion_matrix,
    evaluate,
    format_for_shape,
    image_input,
    image_input_of,
    image_input_of_snapshot,
    network_at,
    network_from_snapshot,
    page_of,
    per_class_accuracy,
    predict_images,
    top_k,
)
from nncore.presets import default_config


# -- image files, good and bad (shared with the page tests) --------------------------------------
def encode(im, fmt="PNG", **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def digit_png(array, side=96, ink=(30, 30, 40), paper=(245, 240, 225), fmt="PNG"):
    """A training image (h, w) in [0, 1], ink high, as a photo-like file: dark ink on paper,
    enlarged ``side`` px, with a margin."""
    a = np.asarray(array, np.float64)
    h, w = a.shape
    big = np.kron(a, np.ones((side // h, side // w)))
    pad = side // 4
    big = np.pad(big, pad)
    rgb = np.asarray(paper, float) * (1 - big[..., None]) + np.asarray(ink, float) * big[..., None]
    return encode(Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB"), fmt)


def seven(mode="L", size=(120, 120)):
    im = Image.new("L", size, 255)
    ImageDraw.Draw(im).line([(25, 20), (95, 20), (45, 100)], fill=0, width=10)
    return im if mode == "L" else im.convert(mode)


def huge_png(width, height):
    """A valid PNG whose header claims width × height (a decompression bomb's header)."""
    b = bytearray(encode(seven()))
    b[16:24] = struct.pack(">II", width, height)
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])))
    return bytes(b)


def animated_gif():
    frames = [seven("P"), Image.new("P", (120, 120), 255)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def sixteen_bit_png():
    im = Image.fromarray(np.asarray(seven(), np.uint16) * 257)
    assert im.mode == "I;16"
    return encode(im)


def bad_images():
    """name -> (bytes, piece of the expected message): each kind of bad file."""
    good = encode(seven())
    return {
        "notes.png": (b"these are my notes, not a picture\n" * 5, "not an image"),
        "cut.png": (good[: len(good) // 2], "truncated"),
        "empty.png": (b"", "empty file"),
        "bomb.png": (huge_png(30_000, 30_000), "decompression bomb"),
        "blank.jpg": (encode(Image.new("RGB", (300, 400), (250, 250, 245)), "JPEG"), NO_INK),
    }


def odd_good_images():
    """Files that are odd but readable: each must be predicted."""
    return {"animated.gif": animated_gif(), "deep.png": sixteen_bit_png(),
            "cmyk.jpg": encode(seven("CMYK"), "JPEG"), "seven.webp": encode(seven("RGB"), "WEBP"),
            "seven.tif": encode(seven(), "TIFF"), "seven.bmp": encode(seven(), "BMP")}


# -- trained networks ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    """An 8×8 digits network, trained to ~95% (about a second)."""
    tr = Trainer(default_config("digits", epochs=25))
    tr.fit()
    assert tr.records[-1].test_acc > 0.9
    return tr


@pytest.fixture(scope="module")
def mnist_small():
    """A small MNIST-sample network (28×28), one epoch on 500 digits."""
    tr = Trainer(default_config("mnist_sample", hidden=[32], epochs=1,
                                dataset_options={"limit": 500}))
    tr.fit()
    return tr


# -- probabilities, top guesses ---------------------------------------------------------------
def test_softmax_outputs_are_the_probabilities():
    out = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    probs, exact = class_probabilities(out, "softmax")
    assert exact and np.allclose(probs, out)


def test_one_sigmoid_output_is_two_classes():
    probs, exact = class_probabilities(np.array([[0.9], [0.2]]), "sigmoid")
    assert exact
    assert np.allclose(probs, [[0.1, 0.9], [0.8, 0.2]])


def test_several_sigmoid_outputs_become_shares_and_say_so():
    probs, exact = class_probabilities(np.array([[0.5, 0.25, 0.25], [0, 0, 0], [-1, 2, 2]]), "sigmoid")
    assert not exact
    assert np.allclose(probs.sum(1), 1)
    assert np.allclose(probs[0], [0.5, 0.25, 0.25])
    assert np.allclose(probs[1], 1 / 3)              # nothing on: no preference
    assert np.allclose(probs[2], [0, 0.5, 0.5])      # negative outputs count as 0


def test_top_k_orders_best_first_and_clamps_k():
    p = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]])
    classes, values = top_k(p, 2)
    assert classes.tolist() == [[1, 2], [0, 1]]       # a tie keeps the lower class first
    assert np.allclose(values, [[0.6, 0.3], [0.5, 0.25]])
    assert top_k(p, 10)[0].shape == (2, 3)


def test_confusion_matrix_counts_pairs():
    rng = np.random.default_rng(1)
    y, g = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    cm = confusion_matrix(y, g, 4)
    expected = np.zeros((4, 4), int)
    for a, b in zip(y, g):
        expected[a, b] += 1
    assert (cm == expected).all() and cm.sum() == 500
    with pytest.raises(ValueError, match="0..3"):
        confusion_matrix([0, 4], [0, 1], 4)


def test_per_class_accuracy_is_nan_for_an_absent_class():
    cm = np.array([[3, 1, 0], [0, 0, 0], [1, 1, 2]])
    acc = per_class_accuracy(cm)
    assert acc[0] == pytest.approx(0.75) and np.isnan(acc[1]) and acc[2] == pytest.approx(0.5)


def make_evaluation():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.55, 0.45], [0.2, 0.8], [0.7, 0.3]], np.float32)
    return Evaluation(probs, np.array([0, 0, 1, 1, 0]), ["a", "b"])


def test_select_filters_and_sorts():
    ev = make_evaluation()
    assert ev.guesses.tolist() == [0, 1, 0, 1, 0]
    assert ev.correct.tolist() == [True, False, False, True, True]
    assert ev.select().tolist() == [0, 1, 2, 3, 4]
    assert ev.select(mistakes_only=True).tolist() == [1, 2]
    assert ev.select(sort="most").tolist() == [0, 3, 4, 1, 2]
    assert ev.select(sort="least").tolist() == [2, 1, 4, 3, 0]
    assert ev.select(true_class=0, guess_class=1).tolist() == [1]
    assert ev.select(mistakes_only=True, true_class=0, guess_class=0).tolist() == []
    with pytest.raises(ValueError, match="valid: index, most, least"):
        ev.select(sort="random")


def test_page_of_clamps():
    idx = np.arange(45)
    part, page, n = page_of(idx, 3, 20)
    assert (page, n) == (3, 3) and part.tolist() == list(range(40, 45))
    assert page_of(idx, 99, 20)[1] == 3 and page_of(idx, 0, 20)[1] == 1
    assert page_of(np.arange(0), 1, 20)[2] == 1


# -- any epoch of the run -----------------------------------------------------------------------
def test_network_at_uses_that_epochs_weights_and_leaves_the_run_alone():
    tr = Trainer(default_config("moons", epochs=5))
    tr.fit()
    live = tr.network.params.copy()
    net, kept = network_at(tr, 2)
    assert kept == 2
    assert np.array_equal(net.params, tr.history.weights[2])
    assert not np.array_equal(net.params, live)
    net.params[...] = 0                              # a copy: the live run is untouched
    assert np.array_equal(tr.network.params, live)
    ev_then = evaluate(network_at(tr, 0)[0], tr.data.X_test, tr.data.Y_test, tr.data)
    assert ev_then.accuracy == pytest.approx(tr.records[0].test_acc)
    ev_now = evaluate(network_at(tr, tr.epoch)[0], tr.data.X_test, tr.data.Y_test, tr.data)
    assert ev_now.accuracy == pytest.approx(tr.records[-1].test_acc)


def test_network_at_a_thinned_epoch_takes_the_one_before():
    tr = Trainer(default_config("moons", epochs=4))
    tr.fit()
    del tr.history.weights[2]
    assert network_at(tr, 2)[1] == 1


def test_evaluation_matches_the_trainers_accuracy(digits):
    d = digits.data
    ev = evaluate(digits.network, d.X_test, d.Y_test, d)
    assert ev.accuracy == pytest.approx(digits.records[-1].test_acc)
    assert ev.confusion().sum() == len(d.X_test)
    assert np.allclose(ev.probs.sum(1), 1, atol=1e-5)


def test_multi_output_logic_sets_are_not_classification():
    tr = Trainer(default_config("modified_xor", epochs=1))
    with pytest.raises(ValueError, match="truth table"):
        evaluate(tr.network, tr.data.X_test, tr.data.Y_test, tr.data)


# -- images ---------------------------------------------------------------------------------------
def test_format_follows_the_image_shape():
    assert format_for_shape((28, 28)) == "mnist"
    assert format_for_shape([8, 8]) == "digits8"
    with pytest.raises(ValueError, match="supported: 28×28"):
        format_for_shape((16, 16))
    with pytest.raises(ValueError, match="not trained on images"):
        format_for_shape(None)


def test_a_points_network_cannot_read_pictures():
    tr = Trainer(default_config("moons", epochs=1))
    with pytest.raises(ValueError, match="not on images"):
        image_input_of(tr)


def test_image_input_checks_the_input_layer():
    with pytest.raises(ValueError, match="takes 100 inputs"):
        image_input("image", (28, 28), 100, [str(i) for i in range(10)])


def test_photos_of_test_digits_are_recognised(digits):
    """The held-out 8×8 digits, drawn as photos (dark ink on paper, enlarged), go through the
    preprocessing and come out recognised about as often as the digits themselves."""
    d = digits.data
    spec = image_input_of(digits)
    assert spec.fmt == "digits8" and spec.class_names == tuple("0123456789")
    n = 60
    files = [(f"test{i}.png", digit_png(d.X_test[i].reshape(8, 8))) for i in range(n)]
    results = predict_images(digits.network, files, spec)
    assert [r.name for r in results] == [f for f, _ in files]
    assert all(r.ok for r in results)
    guesses = np.array([int(np.argmax(r.probs)) for r in results])
    labels = d.labels(d.Y_test[:n])
    assert (guesses == labels).mean() >= 0.8
    for r in results:
        assert r.probs.shape == (10,) and abs(float(r.probs.sum()) - 1) < 1e-5
        assert r.input.shape == (64,) and r.pre.array.shape == (8, 8)


def test_bad_files_get_their_own_message_and_the_rest_are_predicted(mnist_small):
    spec = image_input_of(mnist_small)
    assert spec.fmt == "mnist"
    bad = bad_images()
    odd = odd_good_images()
    files = [("seven.png", encode(seven()))]
    files += [(name, data) for name, (data, _) in bad.items()]
    files += list(odd.items())
    results = predict_images(mnist_small.network, files, spec)
    assert [r.name for r in results] == [n for n, _ in files]
    by_name = {r.name: r for r in results}
    for name, (_, piece) in bad.items():
        r = by_name[name]
        assert not r.ok and r.probs is None and piece in r.error, (name, r.error)
    assert len({by_name[n].error for n in bad}) == len(bad)      # every message differs
    for name in ["seven.png", *odd]:
        r = by_name[name]
        assert r.ok and r.probs.shape == (10,), (name, r.error)
    assert "first frame" in " ".join(by_name["animated.gif"].pre.steps)


def test_binarised_training_data_binarises_uploads():
    spec = image_input("image", (8, 8), 64, list("0123456789"), "digits", {"binarize": True})
    row = spec.prepare(np.linspace(0, 1, 64).reshape(8, 8))
    assert set(np.unique(row)) == {0.0, 1.0}
    assert row[0] == 0 and row[-1] == 1


# -- snapshots and the CLI ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_file(digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "digits.json"
    snapshot.save(digits, str(path))
    return path


def test_network_from_a_snapshot_predicts_like_the_run(digits, digits_file):
    snap = snapshot.load(str(digits_file))
    net = network_from_snapshot(snap)
    X = digits.data.X_test[:50]
    assert np.allclose(net.predict(X), digits.predict(X), atol=1e-6)
    spec = image_input_of_snapshot(snap)
    assert spec.fmt == "digits8" and spec.class_names == tuple("0123456789")


def run_cli(capsys, *args):
    code = main(["predict", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_cli_predict_json_one_object_per_image(capsys, tmp_path, digits, digits_file):
    d = digits.data
    good = [write(tmp_path, f"d{i}.png", digit_png(d.X_test[i].reshape(8, 8))) for i in range(5)]
    bad = {name: (write(tmp_path, name, data), piece) for name, (data, piece) in bad_images().items()}
    missing = tmp_path / "missing.png"
    files = [good[0], *[p for p, _ in bad.values()], *good[1:], missing]
    code, out, err = run_cli(capsys, "--model", digits_file, *files, "--json")
    assert code == 1                                  # some images could not be read
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["file"] for r in rows] == [str(f) for f in files]
    for r, f in zip(rows, files):
        if f in good:
            assert set(r) == {"file", "label", "probabilities"}
            assert list(r["probabilities"]) == list("0123456789")
            assert abs(sum(r["probabilities"].values()) - 1) < 1e-4
            assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)
        else:
            assert set(r) == {"file", "error"}
    by_file = {r["file"]: r for r in rows}
    for _name, (path, piece) in bad.items():
        assert piece in by_file[str(path)]["error"]
    assert "No such file" in by_file[str(missing)]["error"]
    labels = [json.loads(line)["label"] for line in out.strip().splitlines() if "label" in line]
    truth = [str(t) for t in d.labels(d.Y_test[:5])]
    assert sum(a == b for a, b in zip(labels, truth)) >= 4


def test_cli_predict_exit_0_when_every_image_is_read(capsys, tmp_path, digits, digits_file):
    files = [write(tmp_path, "a.png", digit_png(digits.data.X_test[0].reshape(8, 8))),
             write(tmp_path, "anim.gif", animated_gif())]
    code, out, err = run_cli(capsys, "--model", digits_file, *files)
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{files[0]}: ") and "%" in lines[0]


def test_cli_predict_human_output_sends_errors_to_stderr(capsys, tmp_path, digits_file):
    p = write(tmp_path, "blank.png", encode(Image.new("L", (50, 50), 255)))
    code, out, err = run_cli(capsys, "--model", digits_file, p)
    assert code == 1 and out == "" and f"{p}: error: {NO_INK}" in err


def test_cli_predict_uses_a_stored_epoch(capsys, tmp_path, digits, digits_file):
    p = write(tmp_path, "a.png", digit_png(digits.data.X_test[0].reshape(8, 8)))
    code0, out0, _ = run_cli(capsys, "--model", digits_file, p, "--json", "--epoch", 0)
    code1, out1, _ = run_cli(capsys, "--model", digits_file, p, "--json")
    assert code0 == code1 == 0
    assert json.loads(out0)["probabilities"] != json.loads(out1)["probabilities"]
    code, _, err = run_cli(capsys, "--model", digits_file, p, "--epoch", 999)
    assert code == 2 and "--epoch 999" in err


def test_cli_predict_refuses_bad_models(capsys, tmp_path):
    img = write(tmp_path, "a.png", encode(seven()))
    code, _, err = run_cli(capsys, "--model", tmp_path / "nope.json", img)
    assert code == 2 and "nope.json" in err and "cannot read" in err
    junk = write(tmp_path, "junk.json", b"{not json")
    code, _, err = run_cli(capsys, "--model", junk, img)
    assert code == 2 and "junk.json" in err
    moons = Trainer(default_config("moons", epochs=1))
    path = tmp_path / "moons.json"
    snapshot.save(moons, str(path))
    code, _, err = run_cli(capsys, "--model", path, img)
    assert code == 2 and "not on images" in err and "cannot read pictures" in err


def test_cli_predict_needs_model_and_images(capsys):
    with pytest.raises(SystemExit) as info:
        main(["predict", "a.png"])
    assert info.value.code == 2


def test_snapshot_round_trip_keeps_class_names(tmp_path):
    """Class names come from the dataset: Fashion-MNIST's names reach the CLI's JSON."""
    tr = Trainer(default_config("fashion_sample", hidden=[16], epochs=1,
                                dataset_options={"limit": 500}))
    tr.fit()
    path = tmp_path / "fashion.json"
    snapshot.save(tr, str(path))
    spec = image_input_of_snapshot(snapshot.load(str(path)))
    assert spec.class_names[0] == "T-shirt/top" and spec.fmt == "mnist"


def test_predict_module_imports_neither_streamlit_nor_plotly():
    import subprocess
    import sys
    code = ("import sys, nncore.predict; "
            "bad = [m for m in ('streamlit', 'plotly') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0



def test_probabilities_always_side_with_the_largest_output():
    # linear outputs trained with mse: often all negative, so shares alone would be uniform
    rng = np.random.default_rng(0)
    out = rng.normal(size=(500, 2)) * 3 - 2
    out[:50] = -np.abs(out[:50])                 # rows with no positive output
    probs, exact = class_probabilities(out, "linear")
    assert not exact and np.array_equal(probs.argmax(axis=1), out.argmax(axis=1))
    assert np.allclose(probs.sum(axis=1), 1)
    # so the decision boundary (coloured by P(class 1) > 0.5) agrees with the guesses
    cfg = default_config("moons").replace(hidden=[8], activations=["relu", "linear"], loss="mse",
                                          optimizer="sgd", lr=0.05, epochs=3)
    tr = Trainer(cfg)
    tr.fit(3)
    X = tr.data.X_test
    p1 = predict.network_probabilities(tr.network, X)[:, 1]
    guesses = tr.network.predict(X).argmax(axis=1)
    assert np.array_equal(p1 > 0.5, guesses == 1)
