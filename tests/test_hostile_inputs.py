"""Files and arguments built to hurt: each gets a one-line error, quickly and in bounded
memory, and nothing that is read is echoed back raw."""
from __future__ import annotations

import dataclasses
import gzip
import json
import re
import struct
import time

import numpy as np
import pytest
from test_datasets import make_idx_folder, write_idx

from nncore import Trainer, load_dataset, snapshot
from nncore.cli import main
from nncore.config import parse_hidden
from nncore.idx import read_idx
from nncore.presets import default_config
from nncore.snapshot import SnapshotError


# -- IDX folders -----------------------------------------------------------------------------
def test_an_idx_gzip_bomb_is_refused_without_inflating_it(tmp_path):
    header = struct.pack(">HBBIII", 0, 8, 3, 1000, 28, 28)
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(header)
        zeros = bytes(2**20)
        for _ in range(64):                       # 64 MB of data behind a 784,000-byte header
            f.write(zeros)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="holds more"):
        read_idx(path)
    assert time.perf_counter() - t0 < 2.0       # it stopped after the announced data


def test_broken_gzip_and_bad_labels_are_clear_errors(tmp_path):
    make_idx_folder(tmp_path, gz=True)
    raw = (tmp_path / "train-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(raw[:20] + b"\xff" * 40 + raw[60:])
    with pytest.raises(ValueError, match="cannot read IDX file|truncated|bad header"):
        load_dataset("mnist", {"data_dir": str(tmp_path)})
    make_idx_folder(tmp_path, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 3, 4, 200]), 1)
    with pytest.raises(ValueError, match="training labels must be 0 to 9, found 200"):
        load_dataset("mnist", {"data_dir": str(tmp_path)})


def test_idx_images_keep_their_own_size(tmp_path):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (30, 5, 5)), 3)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(30) % 10, 1)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 5, 5)), 3)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(10), 1)
    cfg = default_config("mnist").replace(dataset_options={"data_dir": str(tmp_path),
                                                           "augment_shift": 1}, hidden=[4])
    tr = Trainer(cfg)
    assert tr.data.image_shape == (5, 5) and tr.network.sizes[0] == 25
    tr.fit(1)
    back = snapshot.loads(snapshot.dumps(tr)).to_trainer()     # its own file loads back
    assert back.data.image_shape == (5, 5)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 6, 6)), 3)
    with pytest.raises(ValueError, match="training images are 5x5 but test images are 6x6"):
        load_dataset("mnist", {"data_dir": str(tmp_path)})


def test_an_image_set_without_held_out_images_works():
    d = load_dataset("digits", {"test_fraction": 0.0})
    assert d.X_test.shape == (0, 64) and d.X_train.shape == (1797, 64)


# -- CSV files -----------------------------------------------------------------------------
@pytest.mark.parametrize("text, needle", [
    ("\n1,2,a\n3,4,b\n5,6,a\n", None),                                   # a leading blank line
    ("a,b,c\n1,nan,x\n2,3,y\n", "line 2, column 2 is nan"),
    ("a,b,c\n1,1e400,x\n2,3,y\n", "line 2, column 2 is inf"),
    ("x,label\n" + "".join(f"{i},{i}\n" for i in range(100)), "100 different labels in 100 rows"),
    ("label\nx\ny\n", "at least one numeric column"),
    ("1,2,a\n3,4\n", "line 2 has 2 columns"),
    ("1,2,a\n3," + "9" * 200_000 + ",b\n", "not a readable CSV file"),
    ("1,2,a\nroot:x:0:0,2,b\n3,4,a\n", "line 2, column 1 is not a number"),
])
def test_csv_files_fail_by_line_and_column_without_quoting_them(tmp_path, text, needle):
    path = tmp_path / "data.csv"
    path.write_text(text)
    if needle is None:
        assert load_dataset("csv", {"path": str(path)}).n_in == 2
        return
    with pytest.raises(ValueError) as info:
        load_dataset("csv", {"path": str(path)})
    assert needle in str(info.value) and "root:x" not in str(info.value)


def test_csv_paths_that_are_not_text_files(tmp_path):
    (tmp_path / "bin.csv").write_bytes(b"\xbd\xff\x00" * 100)
    for path, needle in ((tmp_path / "bin.csv", "is not UTF-8 text"), ("/dev/zero", "is not a file"),
                         (tmp_path, "is not a file"), (tmp_path / "nope.csv", "no such file")):
        with pytest.raises(ValueError, match=needle):
            load_dataset("csv", {"path": str(path)})


# -- training-state files ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def doc():
    tr = Trainer(default_config("xor", epochs=3))
    tr.fit(2)
    return json.loads(snapshot.dumps(tr))


def test_many_empty_gzip_members_are_refused_at_once():
    raw = gzip.compress(b"") * 200_000            # 4 MB that inflate to nothing
    t0 = time.perf_counter()
    with pytest.raises(SnapshotError, match="more than 64 gzip members"):
        snapshot.loads(raw)
    assert time.perf_counter() - t0 < 1.0


def test_a_large_file_that_is_no_training_state_is_refused_before_parsing():
    raw = ("[" + ",".join(['"abcdef"'] * 300_000) + "]").encode()
    with pytest.raises(SnapshotError, match="not a training-state file"):
        snapshot.loads(raw)


def test_repeated_keys_and_an_even_rng_increment_are_refused(doc):
    text = json.dumps(doc)
    twice = '{"format": "other", ' + text[1:]
    with pytest.raises(SnapshotError, match="the key \"format\" appears twice"):
        snapshot.loads(twice)
    bad = json.loads(text)
    bad["resume"]["rng"]["state"]["inc"] = "2"
    with pytest.raises(SnapshotError, match="increment is odd"):
        snapshot.loads(json.dumps(bad)).to_trainer()


def test_text_from_a_file_never_carries_terminal_escapes(doc):
    d = json.loads(json.dumps(doc))
    d["resume"]["stop_reason"] = "done\x1b[2J\x1b[31m\nerror: forged"
    snap = snapshot.loads(json.dumps(d))
    assert "\x1b" not in snap.describe() and "\x1b" not in snap.resume["stop_reason"]
    d["config"]["dataset_options"] = {"\x1b[2Jx\x00": 1}
    with pytest.raises(SnapshotError) as info:
        snapshot.loads(json.dumps(d)).to_trainer()
    assert "\x1b" not in str(info.value) and "\x00" not in str(info.value)


# -- command line ------------------------------------------------------------------------------
@pytest.mark.parametrize("args, needle", [
    (["train", "--lr", "abc"], "argument --lr: invalid float value: 'abc'"),
    (["train", "--dtype", "float16"], "invalid choice"),
    (["validate", "x.json", "--max-mb", "inf"], "--max-mb must be more than 0"),
    (["train", "--dataset", "xor", "--hidden", "-3"], "got '-3'"),
    (["train", "--dataset", "xor", "--hidden", "²"], "got '²'"),
    (["train", "--dataset", "xor", "--hidden", "9" * 5000], "is too large"),
    (["train", "--dataset", "moons", "--option", "n_samples=" + "9" * 5000], "too long"),
])
def test_bad_arguments_get_one_line(capsys, args, needle):
    assert _exit_code(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err


def _exit_code(args):
    try:
        return main(args)
    except SystemExit as exc:             # argparse's errors leave through SystemExit
        return exc.code


def test_a_network_too_large_for_memory_is_one_line(capsys):
    code = _exit_code(["train", "--dataset", "xor", "--hidden", "100000,100000,100000,100000",
                       "--epochs", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error:") and len(err.splitlines()) == 1, err


def test_hidden_layer_text_accepts_shape_notation_only():
    assert parse_hidden("784-256") == [784, 256] and parse_hidden("16 - 8") == [16, 8]
    for bad in ("-3", "16,-8", "²", "1e3"):
        with pytest.raises(ValueError):
            parse_hidden(bad)


def test_a_trainer_names_what_is_wrong_with_hand_made_data():
    good = load_dataset("xor", {})
    cfg = default_config("xor")
    for change, needle in (({"Y_train": good.Y_train[:3]}, "X_train has 4 rows but Y_train has 3"),
                           ({"X_train": good.X_train[:0], "Y_train": good.Y_train[:0]},
                            "no training samples"),
                           ({"X_train": good.X_train[:, 0]}, "must be 2-D")):
        with pytest.raises(ValueError, match=needle):
            Trainer(cfg, data=dataclasses.replace(good, **change))


# -- text from a file is plain text -------------------------------------------------------------
MARKUP = "![x](https://evil.example/a.png) [link](https://evil.example) :red[forged] <b>bold</b>"


def test_markdown_escape_leaves_no_markup():
    from dashboard.plaintext import markdown_escape
    out = markdown_escape(MARKUP + " www.evil.example a@evil.example\n# heading \u202egpj.exe")
    for needle in ("![", "](", ":red[", "<b>", "www.", "\n", "\u202e", "a@"):
        assert not re.search(r"(?<!\\)" + re.escape(needle), out), (needle, out)
    assert markdown_escape("784-128-10, lr 0.001") == "784-128-10, lr 0.001"
    assert markdown_escape("- a") == "\\- a" and markdown_escape("1. a") == "1\\. a"


def _markdown_of(at):
    """Every piece of text the page sends as Markdown (messages, captions, table cells)."""
    out = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success")
           for e in getattr(at, kind)]
    for t in at.table:
        out += [str(v) for v in t.value.to_numpy().ravel()]
    return out


def test_a_snapshot_page_shows_the_files_text_as_plain_text(doc):
    from test_snapshot import _snapshots_page, _upload
    d = json.loads(json.dumps(doc))
    d["created"] = MARKUP
    d["resume"]["stop_reason"] = MARKUP
    at = _snapshots_page()
    _upload(at, "x](https://evil.example).json", json.dumps(d).encode())
    assert at.session_state["trainer"].config.dataset == "xor"        # it loaded
    shown = _markdown_of(at)
    assert any("evil" in s for s in shown)                          # the text is there ...
    assert not any(re.search(r"(?<!\\)(\]\(|!\[|:red\[|<b>)", s) for s in shown), shown  # ... as text
    d["config"]["dataset_options"] = {MARKUP: 1}
    _upload(at, "bad.json", json.dumps(d).encode())
    errors = [e.value for e in at.error]
    assert any("unknown option" in e for e in errors), errors
    assert not any(re.search(r"(?<!\\)(\]\(|!\[|:red\[|<b>)", e) for e in errors), errors


def test_a_hosted_page_names_the_data_folder_not_its_path(monkeypatch):
    import os

    from streamlit.testing.v1 import AppTest

    from dashboard import limits, state
    from nncore.datasets import ROOT
    monkeypatch.setattr(state, "LIMITS", limits.HOSTED)
    monkeypatch.setattr(limits, "set_blas_threads", lambda n: False)
    at = AppTest.from_file(os.path.join(ROOT, "dashboard", "app.py"), default_timeout=60).run()
    at.selectbox(key="sb_dataset").set_value("fashion_sample").run()
    assert not at.exception
    text = " ".join(_markdown_of(at))
    assert "fashion\\-mnist\\-sample" in text or "fashion-mnist-sample" in text
    assert ROOT not in text and "/sample_data" not in text


# -- a file that says two things at once, or holds a state training cannot go on from ---------
@pytest.fixture(scope="module")
def digits_doc():
    cfg = default_config("digits").replace(hidden=[8], optimizer="adam", lr=0.01, epochs=5,
                                           dataset_options={"limit": 200, "test_fraction": 0.2})
    tr = Trainer(cfg)
    tr.fit(3)
    return json.loads(snapshot.dumps(tr, epochs="latest", readable=True))


def _refused(d, needle):
    with pytest.raises(SnapshotError, match=needle):
        snapshot.loads(json.dumps(d))


def test_stored_weights_that_disagree_with_the_resume_block_are_refused(digits_doc, tmp_path, capsys):
    d = json.loads(json.dumps(digits_doc))
    w = d["training_states"][-1]["layers"][1]["weights"]
    d["training_states"][-1]["layers"][1]["weights"] = [[-x for x in row] for row in w]
    _refused(d, r"training_states\[0\]\.layers: the weights of epoch 3 differ from resume.params")
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(d))
    assert main(["validate", str(path), "--no-data"]) == 1
    assert "differ from resume.params" in capsys.readouterr().err


def test_state_metrics_must_be_their_epochs_record(digits_doc):
    d = json.loads(json.dumps(digits_doc))
    d["training_states"][-1]["metrics"]["test_acc"] = 0.99
    _refused(d, r"training_states\[0\]\.metrics\.test_acc: 0.99 differs from records\[3\]\.test_acc")


@pytest.mark.parametrize("key, value, needle", [
    ("train_acc", 1.5, "an accuracy is from 0 to 1, got 1.5"),
    ("test_acc", -0.1, "an accuracy is from 0 to 1, got -0.1"),
    ("train_loss", -2.0, "a loss is 0 or more, got -2"),
    ("test_loss", -1e-9, "a loss is 0 or more"),
])
def test_accuracies_outside_0_1_and_negative_losses_are_refused(digits_doc, key, value, needle):
    d = json.loads(json.dumps(digits_doc))
    d["records"][1][key] = value
    _refused(d, rf"records\[1\]\.{key}: {needle}")


def test_crafted_optimiser_state_is_refused(digits_doc):
    from nncore.snapshot.codec import _compact
    d = json.loads(json.dumps(digits_doc))
    n = d["network"]["n_params"]
    d["resume"]["grads"] = [float("nan")] + [0.0] * (n - 1)
    text = json.dumps(d).replace("NaN", "null")
    with pytest.raises(SnapshotError, match="resume.grads: 1 of .* NaN or infinite"):
        snapshot.loads(text)
    d = json.loads(json.dumps(digits_doc))
    v = _compact(d["resume"]["optimizer"]["state"]["v"], "v", (n,), None, None).copy()
    v[5] = -1.0
    d["resume"]["optimizer"]["state"]["v"] = v.tolist()
    _refused(d, r"resume.optimizer.state.v: 1 of .* negative")
    d["config"]["optimizer"] = "momentum"               # a velocity may be negative
    d["resume"]["optimizer"]["name"] = "momentum"
    del d["resume"]["optimizer"]["state"]["m"]
    assert snapshot.loads(json.dumps(d)).resume["optimizer"]["v"][5] == -1.0


def test_a_diverged_runs_own_file_loads_back():
    cfg = default_config("moons").replace(lr=10, optimizer="momentum", loss="mse",
                                          activations=["relu", "relu", "linear"])
    tr = Trainer(cfg)
    tr.fit(3)
    assert tr.stop_reason and "diverged" in tr.stop_reason
    assert snapshot.loads(snapshot.dumps(tr)).epoch == tr.epoch


def test_a_single_true_among_readable_weights_is_refused(digits_doc):
    d = json.loads(json.dumps(digits_doc))
    d["training_states"][-1]["layers"][0]["weights"][3][2] = True
    _refused(d, r"training_states\[0\]\.layers\[0\]\.weights: expected numbers, found true/false")


def test_epochs_a_file_left_out_are_not_called_dropped(digits_doc):
    back = snapshot.loads(json.dumps(digits_doc)).to_trainer()
    assert back.history.epochs == [3] and back.history.thinned == 0 and back.history.not_stored == 3


# -- train --export: the path first, and the run kept on Ctrl-C or SIGTERM -----------------------
def test_an_export_path_that_cannot_be_written_is_refused_before_training(tmp_path, capsys):
    for path, needle in ((tmp_path / "nope" / "run.json", "does not exist"),
                         (tmp_path, "is a folder")):
        t0 = time.perf_counter()
        assert main(["train", "--dataset", "moons", "--epochs", "100000", "--export", str(path)]) == 2
        out, err = capsys.readouterr()
        assert needle in err and "epoch" not in out
        assert time.perf_counter() - t0 < 10


@pytest.mark.parametrize("sig, code, name", [("SIGINT", 130, "Ctrl-C"), ("SIGTERM", 143, "SIGTERM")])
def test_an_interrupted_training_writes_the_run_so_far(tmp_path, sig, code, name):
    import os
    import signal
    import subprocess
    import sys
    path = tmp_path / "run.json.gz"
    p = subprocess.Popen([sys.executable, "-m", "nncore", "train", "--dataset", "moons", "--epochs",
                          "100000", "--export", str(path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.dirname(
                             os.path.abspath(__file__))))
    seen = [p.stdout.readline() for _ in range(6)]         # a header, then five epochs
    assert seen[-1].startswith("epoch"), seen
    p.send_signal(getattr(signal, sig))
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert f"{name}: stopped during epoch" in err and "saved the training state at epoch" in out
    snap = snapshot.load(path)
    assert snap.epoch >= 5 and len(snap.records) == snap.epoch + 1
    assert [f for f in os.listdir(tmp_path)] == ["run.json.gz"]           # no temporary left
    again = snap.to_trainer()                                             # and it goes on exactly
    straight = Trainer(snap.config)
    straight.fit(snap.epoch + 1)
    again.fit(1)
    assert np.array_equal(again.network.params, straight.network.params)


def test_resuming_a_cosine_schedule_continues_it_bit_for_bit(tmp_path, capsys):
    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    cfg = default_config("moons").replace(lr_schedule="cosine", epochs=10, lr=0.05)
    half = Trainer(cfg)
    half.fit(4)
    snapshot.save(half, a)
    assert main(["train", "--resume", a, "--epochs", "3", "--export", b]) == 0
    straight = Trainer(cfg)
    straight.fit(7)
    resumed = snapshot.load(b)
    assert [r.lr for r in resumed.records] == [r.lr for r in straight.records]
    assert np.array_equal(resumed.resume["params"], straight.network.params)
    assert main(["train", "--resume", b, "--epochs", "5", "--export", b]) == 0   # past the end
    capsys.readouterr()
    lrs = [r.lr for r in snapshot.load(b).records]
    assert len(lrs) == 13 and lrs[10:] == [cfg.lr_at(9)] * 3 and all(x >= y for x, y in zip(lrs[1:], lrs[2:]))


# -- smaller ones ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "digits.json"
    tr = Trainer(default_config("digits").replace(hidden=[16], epochs=2))
    tr.fit(2)
    snapshot.save(tr, path)
    return path


def _digit_png(path):
    from PIL import Image, ImageDraw
    im = Image.new("L", (40, 40), 255)
    ImageDraw.Draw(im).line((20, 5, 20, 35), fill=0, width=4)
    im.save(path, "PNG")
    return path


def test_cli_output_keeps_file_strings_on_one_line(tmp_path, digits_model, capsys):
    forged = tmp_path / "photo1.png\nphoto2.jpg: 7 (99.9%)\u202e"
    _digit_png(forged)
    assert main(["predict", "--model", str(digits_model), str(forged)]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and "\u202e" not in out, out
    d = json.loads(snapshot.dumps(snapshot.load_trainer(str(digits_model)), epochs="latest"))
    d["resume"]["stop_reason"] = "done\nOK: everything\u202e"
    assert "\u202e" not in snapshot.loads(json.dumps(d)).describe().split("stopped: ")[1]
    assert "\n" not in snapshot.loads(json.dumps(d)).resume["stop_reason"]


def test_pillows_warnings_do_not_reach_the_cli(tmp_path, digits_model):
    import subprocess
    import sys

    from PIL import Image, ImageDraw
    im = Image.new("L", (40, 40), 255)
    ImageDraw.Draw(im).line((20, 5, 20, 35), fill=0, width=4)
    ifd = (b"MM\x00*\x00\x00\x00\x08" + struct.pack(">H", 1) + struct.pack(">HHII", 0x010E, 2, 100, 0x1000)
           + b"\x00\x00\x00\x00")          # a tag whose data lies past the end of the file
    im.save(tmp_path / "exif.jpg", "JPEG", exif=b"Exif\x00\x00" + ifd)
    r = subprocess.run([sys.executable, "-W", "default", "-m", "nncore", "predict", "--model",
                        str(digits_model), str(tmp_path / "exif.jpg")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith(str(tmp_path / "exif.jpg")), r.stderr
    assert "Warning" not in r.stderr and "PIL" not in r.stderr, r.stderr


def test_a_csv_file_of_a_single_class_is_refused(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i * 2},yes\n" for i in range(30)))
    with pytest.raises(ValueError, match="only one label.*'yes'.*at least 2 classes"):
        load_dataset("csv", {"path": str(path)})


def test_a_refused_snapshot_leaves_no_stale_error(doc):
    from test_snapshot import _snapshots_page, _upload
    at = _snapshots_page()
    _upload(at, "broken.json", b"{ not json")
    assert any("Could not load broken.json" in e.value for e in at.error)
    [up] = [u for u in at.get("file_uploader") if u.label == "Load training state"]
    up.set_value(None)             # what the browser sends when it refuses a file over the limit
    at.run()
    assert not at.exception and not any("broken.json" in e.value for e in at.error)


def test_a_very_wide_csv_file_is_not_drawn_as_a_table_of_every_column(tmp_path):
    import os

    from streamlit.testing.v1 import AppTest

    from nncore.datasets import ROOT
    rng = np.random.default_rng(0)
    path = tmp_path / "wide.csv"
    rows = [",".join(f"{v:.2f}" for v in rng.normal(size=600)) + f",{'ab'[i % 2]}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    at = AppTest.from_file(os.path.join(ROOT, "dashboard", "app.py"), default_timeout=60).run()
    at.selectbox(key="sb_dataset").set_value("csv").run()
    at.text_input(key="sb_opt_csv_path").input(str(path)).run()
    assert not at.exception and at.session_state["trainer"].network.sizes[0] == 600
    at.switch_page("app_pages/predictions.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table.columns) <= 30 and "x600" not in table.columns
    assert any("inputs x1–x24 of 600" in c.value for c in at.caption)
