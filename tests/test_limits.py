"""The app's limits: hosted detection, the checks' messages, and one session's memory."""
import tracemalloc

import numpy as np
import pytest

from dashboard import limits
from nncore import Trainer
from nncore.presets import default_config


@pytest.mark.parametrize("value, hosted", [("1", True), ("true", True), ("ON", True),
                                           ("0", False), ("false", False), ("no", False)])
def test_hosted_mode_follows_the_environment(value, hosted):
    env = {"NNCORE_HOSTED": value}
    assert limits.is_hosted(env) is hosted
    assert limits.current(env) == (limits.HOSTED if hosted else limits.LOCAL)


def test_hosted_limits_are_tighter_everywhere():
    h, loc = limits.HOSTED, limits.LOCAL
    for field in ("max_params", "max_epochs_per_run", "max_total_epochs", "max_epoch_samples",
                  "history_bytes", "max_upload_bytes", "max_image_pixels", "max_images",
                  "max_snapshot_bytes", "max_train_samples"):
        assert getattr(h, field) < getattr(loc, field), field
    assert h.hosted and not h.checkpoints and not h.allow_paths
    assert not loc.hosted and loc.checkpoints and loc.allow_paths


def test_environment_overrides_and_bad_values():
    lim = limits.current({"NNCORE_HOSTED": "1", "NNCORE_MAX_PARAMS": "5000",
                          "NNCORE_HISTORY_MB": "2.5"})
    assert lim.hosted and lim.max_params == 5000 and lim.history_bytes == int(2.5 * 2**20)
    assert limits.current({"NNCORE_HOSTED": "1", "NNCORE_MAX_PARAMS": "lots"}) == limits.HOSTED


def test_every_preset_fits_the_hosted_limits():
    from nncore.datasets import load_dataset
    from nncore.network import count_params
    from nncore.presets import PRESETS, preset_config
    from nncore.trainer import network_sizes
    h = limits.HOSTED
    for name in PRESETS:
        cfg = preset_config(name)
        if cfg.dataset in ("mnist", "fashion_mnist"):   # the full sets: hosted, a part of them
            with pytest.raises(ValueError, match="at most 10,000"):
                limits.check_data(cfg.dataset, 60_000, cfg.passes_per_epoch, h)
            continue
        data = load_dataset(cfg.dataset, cfg.dataset_options, np.random.default_rng(0), cfg.dtype)
        sizes = network_sizes(cfg, data)        # conv presets: ['1x28x28', 'conv ...', ...]
        n = count_params(sizes)
        limits.check_network(sizes, n, h)
        limits.check_data(cfg.dataset, data.X_train.shape[0], cfg.passes_per_epoch, h)
        assert cfg.epochs <= h.max_epochs_per_run, name


def test_the_checks_name_the_limit_and_the_fix():
    h = limits.HOSTED
    with pytest.raises(ValueError, match=r"784-2000-2000-10 has 5,592,010 parameters; this hosted "
                                         r"demo trains at most 600,000"):
        limits.check_network([784, 2000, 2000, 10], 5_592_010, h)
    limits.check_network([784, 2000, 2000, 10], 5_592_010, limits.LOCAL)
    with pytest.raises(ValueError, match="60,000 training samples.*at most 10,000.*training images to use"):
        limits.check_data("mnist", 60_000, 1, h)
    with pytest.raises(ValueError, match="passes over the data per epoch"):
        limits.check_data("xor", 4, 1_000_000, h)
    limits.check_data("xor", 4, 1000, h)
    with pytest.raises(ValueError, match="does not read files from the server.*'path'"):
        limits.check_paths("csv", {"path": "/etc/passwd"}, h)
    with pytest.raises(ValueError, match="'data_dir'"):
        limits.check_paths("mnist", {"data_dir": "/srv", "limit": 0}, h)
    limits.check_paths("mnist", {"data_dir": ""}, h)
    limits.check_paths("csv", {"path": "/tmp/x.csv"}, limits.LOCAL)


def test_epochs_are_capped_per_click_and_per_run():
    h = limits.HOSTED
    assert limits.epochs_allowed(5, 0, h) == (5, None)
    n, why = limits.epochs_allowed(10_000, 0, h)
    assert n == h.max_epochs_per_run and "per click" in why
    n, why = limits.epochs_allowed(50, h.max_total_epochs - 20, h)
    assert n == 20 and f"{h.max_total_epochs:,} epochs" in why and "download" in why
    assert limits.epochs_allowed(1, h.max_total_epochs, h)[0] == 0


def test_describe_lists_every_limit():
    text = "\n".join(limits.HOSTED.describe())
    for part in ("600,000 parameters", "200 epochs per click", "2,000 epochs per run",
                 "thinned", "5 MB", "16 megapixels", "25 MB", "server's files"):
        assert part in text, part


def session_bytes(cfg, epochs, lim):
    """Bytes a session's run holds after ``epochs`` epochs (data, network, optimiser and a
    history filled past its budget), measured by tracemalloc."""
    from dashboard import state
    state.run_data(cfg)                   # the sample's file cache is shared, not per session
    tracemalloc.start()
    try:
        tr = Trainer(cfg, history_budget=lim.history_bytes)
        tr.run_epoch()
        for e in range(2, epochs + 1):    # as many epochs' weights as a long run stores
            tr.epoch = e
            tr.history.add(e, tr.network.params, tr.network.grads)
        assert tr.history.nbytes <= max(lim.history_bytes, 3 * 2 * tr.network.params.nbytes)
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_a_hosted_session_stays_well_under_100_mb():
    cfg = default_config("mnist_sample").replace(hidden=[128, 64])
    used = session_bytes(cfg, 200, limits.HOSTED)
    assert used < 70 * 2**20, f"{used / 2**20:.1f} MB"


@pytest.mark.slow
def test_the_largest_preset_stays_bounded_when_hosted():
    from nncore.presets import preset_config
    cfg = preset_config("mnist_nlayer_modern")          # 784-512-256-16-10, 537,354 parameters
    used = session_bytes(cfg, 30, limits.HOSTED)
    assert used < 128 * 2**20, f"{used / 2**20:.1f} MB"


def _blas_threads():
    """The thread-count getters of the OpenBLAS libraries loaded here."""
    import ctypes
    getters = []
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    for path in paths:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                     "openblas_get_num_threads64_", "openblas_get_num_threads"):
            if hasattr(lib, name):
                getters.append(getattr(lib, name))
                break
    return getters


def test_hosted_mode_makes_blas_single_threaded():
    getters = _blas_threads()
    if not getters:
        pytest.skip("NumPy here does not use OpenBLAS")
    before = getters[0]()
    try:
        assert limits.set_blas_threads(limits.HOSTED.blas_threads)
        assert [g() for g in getters] == [1] * len(getters)
        assert limits.set_blas_threads(None) is False and limits.LOCAL.blas_threads is None
    finally:
        limits._apply_blas_threads.__wrapped__(before)
        limits._apply_blas_threads.cache_clear()
    assert getters[0]() == before


# -- hosted mode in the app (AppTest, in this process) ----------------------------------------
@pytest.fixture
def hosted_app(monkeypatch):
    """The app with the hosted limits, without touching this process's BLAS threads."""
    import os

    from streamlit.testing.v1 import AppTest

    from dashboard import state
    monkeypatch.setattr(state, "LIMITS", limits.HOSTED)
    monkeypatch.setattr(limits, "set_blas_threads", lambda n: False)
    app = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "dashboard", "app.py")
    at = AppTest.from_file(app, default_timeout=60).run()
    assert not at.exception
    return at


def _errors(at):
    return " ".join(e.value for e in at.error)


def test_hosted_app_lists_its_limits(hosted_app):
    at = hosted_app
    box = [e for e in at.expander if e.label == "Limits of this demo"]
    assert box, [e.label for e in at.expander]
    text = " ".join(m.value for m in box[0].caption)
    assert "600,000 parameters" in text and "6 MB of weight history" in text


def test_hosted_app_refuses_a_network_over_the_limit_and_keeps_the_run(hosted_app):
    at = hosted_app
    at.text_input(key="sb_hidden").input("2000, 2000").run()
    assert not at.exception
    assert "2-2000-2000-2 has 4,012,002 parameters; this hosted demo trains at most 600,000" \
        in _errors(at)
    assert at.session_state["trainer"].network.sizes == [2, 16, 8, 2]
    at.button(key="btn_train_1").click().run()
    assert at.session_state["trainer"].epoch == 1


def test_hosted_app_reads_no_server_files(hosted_app):
    at = hosted_app
    at.selectbox(key="sb_dataset").set_value("csv").run()
    at.text_input(key="sb_opt_csv_path").input("/etc/passwd").run()
    assert not at.exception
    assert "does not read files from the server" in _errors(at)
    assert "root:" not in _errors(at)
    assert at.session_state["trainer"].config.dataset != "csv"


def test_hosted_app_caps_the_work_of_one_click(hosted_app):
    at = hosted_app
    at.number_input(key="sb_passes_per_epoch").set_value(1_000_000).run()
    at.button(key="btn_train_1").click().run()
    assert not at.exception
    assert at.session_state["trainer"].epoch == 0
    assert "passes over the data per epoch" in _errors(at)
    at.number_input(key="sb_passes_per_epoch").set_value(1).run()
    at.number_input(key="sb_epochs").set_value(5000).run()
    assert any(b.label == "Train 200 epochs" for b in at.button)


# -- isolation: what sessions may share -----------------------------------------------------
@pytest.mark.parametrize("name", ["mnist_sample", "digits", "xor", "moons"])
def test_two_sessions_data_share_no_writable_memory(name):
    """Sessions on the same data get their own arrays; whatever is cached for all of them
    (the sample files, read once per process) is read-only, so no session can change
    another's data."""
    from nncore.datasets import load_dataset
    a = load_dataset(name, None, np.random.default_rng(0), "float32")
    b = load_dataset(name, None, np.random.default_rng(0), "float32")
    for key in ("X_train", "Y_train", "X_test", "Y_test"):
        x, y = getattr(a, key), getattr(b, key)
        assert np.array_equal(x, y)
        assert not np.shares_memory(x, y) or not (x.flags.writeable or y.flags.writeable), key


def test_the_dashboard_keeps_nothing_in_shared_caches():
    """Per-user objects live in st.session_state only. st.cache_resource hands every
    session the same object (st.cache_data hands each caller its own copy), so the
    dashboard does not use it."""
    import pathlib
    root = pathlib.Path(__file__).resolve().parent.parent / "dashboard"
    assert [p.name for p in root.rglob("*.py") if "cache_resource" in p.read_text()] == []


# -- admitting a run: limits against what is built, before building it -------------------------
def _idx_server_folder(tmp_path, monkeypatch, n_train):
    """A server whose default IDX folder (``NNCORE_DATA_DIR``) holds ``n_train`` 5x5 images."""
    from test_datasets import write_idx
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 5, 5)), 3)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(n_train) % 10, 1)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (10, 5, 5)), 3)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(10), 1)
    monkeypatch.setenv("NNCORE_DATA_DIR", str(tmp_path))


def _count_builds(monkeypatch):
    from nncore import datasets
    built = []
    real = datasets.load_idx_folder
    monkeypatch.setattr(datasets, "load_idx_folder", lambda folder: built.append(folder) or real(folder))
    datasets._read_idx_cached.cache_clear()
    return built


def test_a_dataset_over_the_limit_is_refused_before_it_is_built(tmp_path, monkeypatch):
    from dashboard import admit
    _idx_server_folder(tmp_path, monkeypatch, 30)
    built = _count_builds(monkeypatch)
    lim = limits.replace(limits.HOSTED, max_train_samples=20)
    cfg = default_config("fashion_mnist").replace(hidden=[4])
    with pytest.raises(admit.DataError, match="30 training samples.*at most 20"):
        admit.admit_config(cfg, lim)
    assert built == []                                  # the IDX header told, nothing was read
    tr = admit.admit_config(cfg.replace(dataset_options={"limit": 20}), lim)
    assert tr.data.X_train.shape == (20, 25) and len(built) == 1


def test_a_file_that_lies_about_its_size_is_checked_against_the_data(tmp_path, monkeypatch):
    import json

    from dashboard import admit
    from nncore import snapshot
    _idx_server_folder(tmp_path, monkeypatch, 30)
    run = Trainer(default_config("fashion_mnist").replace(hidden=[4]))
    run.fit(1)
    doc = json.loads(snapshot.dumps(run))
    doc["data"]["n_train"] = 5                          # the file's claim
    snap = snapshot.loads(json.dumps(doc))
    built = _count_builds(monkeypatch)
    lim = limits.replace(limits.HOSTED, max_train_samples=20)
    with pytest.raises(snapshot.SnapshotError, match="30 training samples.*at most 20"):
        admit.admit_snapshot(snap, lim)
    assert built == []
    assert admit.admit_snapshot(snap, limits.LOCAL).epoch == 1


def test_every_way_in_admits_through_one_check(monkeypatch):
    """The sidebar's setup, a loaded file and a stored run all meet the same limits."""
    from dashboard import admit, runstore
    from nncore import snapshot
    seen = []
    real = limits.check_run
    monkeypatch.setattr(limits, "check_run", lambda *a, **k: seen.append(a[1]) or real(*a, **k))
    cfg = default_config("xor")
    tr = admit.admit_config(cfg, limits.LOCAL)
    tr.fit(1)
    admit.admit_snapshot(snapshot.loads(snapshot.dumps(tr)), limits.LOCAL)
    runstore.read_trainer(snapshot.dumps(tr), limits.LOCAL)
    assert seen == [tr.network.sizes] * 3


def test_multiply_adds_count_the_products_of_a_forward_pass():
    from nncore.network import Network, count_params, multiply_adds
    sizes = [784, 700, 64, 10]
    assert multiply_adds(sizes) == 784 * 700 + 700 * 64 + 64 * 10
    assert multiply_adds(sizes) == count_params(sizes, False)
    net = Network([3, 4, 2], ["relu", "softmax"], True, "he", np.random.default_rng(0))
    assert multiply_adds(net.sizes) == sum(layer.weights.size for layer in net.layers)


def test_the_work_of_an_epoch_is_bounded_by_its_cost_not_its_parameters():
    """784-700-64-10 has fewer parameters than the limit, but one sample at a time and five
    passes over 4,000 images it held a core for over a minute per epoch."""
    from dashboard import admit
    h = limits.HOSTED
    cfg = default_config("mnist_sample").replace(hidden=[700, 64], batch="online", passes_per_epoch=5,
                                                 activations=None)
    with pytest.raises(ValueError, match="multiply-adds.*a limit.*larger batches"):
        admit.admit_config(cfg, h)
    fine = cfg.replace(batch="mini", batch_size=64, passes_per_epoch=1)
    assert admit.admit_config(fine, h).network.n_params < h.max_params
    small = limits.epoch_work([784, 32, 10], 4000, 1, 1)      # a tutorial's online network
    assert small < h.max_epoch_work
    assert limits.epoch_work([784, 700, 64, 10], 4000, 5, 1) > 100 * limits.epoch_work(
        [784, 700, 64, 10], 4000, 1, 64)


def test_hosted_app_checks_the_cost_of_each_click(hosted_app):
    at = hosted_app
    at.selectbox(key="sb_dataset").set_value("mnist_sample").run()
    at.text_input(key="sb_hidden").input("700, 64").run()
    assert at.session_state["trainer"].network.sizes == [784, 700, 64, 10]
    at.radio(key="sb_batch").set_value("online").run()
    at.number_input(key="sb_passes_per_epoch").set_value(5).run()
    at.button(key="btn_train_1").click().run()
    assert not at.exception
    assert at.session_state["trainer"].epoch == 0
    assert "multiply-adds" in _errors(at)


def test_hosted_mode_caps_the_depth(hosted_app):
    from dashboard import admit
    with pytest.raises(ValueError, match="1,000 hidden layers; this hosted demo trains at most 16"):
        admit.admit_config(default_config("moons").replace(hidden=[2] * 1000, activations=None),
                           limits.HOSTED)
    at = hosted_app
    at.text_input(key="sb_hidden").input(", ".join(["2"] * 1000)).run()
    assert not at.exception and "hidden layers" in _errors(at)
    assert at.session_state["trainer"].network.sizes == [2, 16, 8, 2]


def test_a_wide_conv_stack_is_refused_for_its_work_not_its_parameters():
    """Three conv layers of 64 filters on the MNIST sample have few parameters but cost
    minutes an epoch; the hosted limit counts conv multiply-adds and feature-map values."""
    from dashboard import admit
    from nncore.network import count_params, work_parts
    h = limits.HOSTED
    wide = default_config("mnist_sample").replace(
        hidden=["conv 64@3x3", "conv 64@3x3", "conv 64@3x3", "pool 2", 10], activations=None)
    sizes = ["1x28x28", *wide.hidden, 10]
    assert count_params(sizes) < h.max_params
    parts = work_parts(sizes)
    assert parts["conv"] == 64 * 26 * 26 * 9 + 64 * 24 * 24 * 576 + 64 * 22 * 22 * 576
    assert parts["map_values"] == 64 * (26 * 26 + 24 * 24 + 22 * 22 + 11 * 11)
    with pytest.raises(ValueError, match="multiply-adds.*a limit"):
        admit.admit_config(wide, h)
    lenet = default_config("mnist_sample").replace(
        hidden=["conv 8@5x5", "pool 2", "conv 16@5x5", "pool 2", 64], activations=None)
    assert admit.admit_config(lenet, h).network.spatial
    dense_only = limits.epoch_work([784, 256, 128, 10], 4000, 1, 64)
    assert limits.epoch_work(["1x28x28", *lenet.hidden, 10], 4000, 1, 64) > 3 * dense_only


# -- uploads: bounded per session, let go once read ---------------------------------------------
def test_a_session_may_hold_only_so_many_upload_bytes():
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    from dashboard import upload_store
    mgr = MemoryUploadedFileManager("/upload")
    assert upload_store.install_session_budget(10_000, mgr)
    assert upload_store.install_session_budget(10_000, mgr)      # once: not wrapped twice
    rec = lambda i, n: UploadedFileRec(f"f{i}", f"p{i}.png", "image/png", bytes(n))
    for i in range(4):
        mgr.add_file("a", rec(i, 2_400))
    with pytest.raises(Exception) as info:
        mgr.add_file("a", rec(9, 2_400))
    assert getattr(info.value, "status_code", 413) == 413 and "limit is" in str(info.value.detail)
    mgr.add_file("b", rec(9, 9_000))                             # another session has its own
    mgr.add_file("a", rec(0, 2_400))                             # the same file again: replaced
    files = [type("F", (), {"file_id": f"f{i}"})() for i in range(4)]
    upload_store.release(files, mgr, "a")
    assert upload_store.held_bytes(mgr, "a") == 0 and upload_store.held_bytes(mgr, "b") == 9_000
    mgr.add_file("a", rec(9, 2_400))                             # room again once read


def test_uploaded_images_leave_the_uploader_once_read(monkeypatch):
    import os

    from streamlit.testing.v1 import AppTest
    from test_predictions_page import digit_png

    from dashboard import state, upload_store
    from nncore.datasets import ROOT
    released = []
    real = upload_store.release
    monkeypatch.setattr(upload_store, "release", lambda files, *a: released.extend(
        f.name for f in files) or real(files, *a))
    monkeypatch.setattr(state, "LIMITS", limits.replace(limits.HOSTED, max_images=3))
    monkeypatch.setattr(limits, "set_blas_threads", lambda n: False)
    at = AppTest.from_file(os.path.join(ROOT, "dashboard", "app.py"), default_timeout=60).run()
    at.selectbox(key="sb_dataset").set_value("digits").run()
    at.switch_page("app_pages/predictions.py").run()
    at.session_state["pred_view"] = "Your images"
    at.run()
    d = at.session_state["trainer"].data
    files = [(f"d{i}.png", digit_png(d.X_test[i].reshape(8, 8)), "image/png") for i in range(5)]
    [up] = [u for u in at.get("file_uploader") if u.label == "Upload images"]
    up.set_value(files).run()
    assert not at.exception
    assert released == [f"d{i}.png" for i in range(5)]            # all of them, read or not
    assert sum(" → " in m.value for m in at.markdown) == 3          # the first 3 were read
    at.run()
    [up] = [u for u in at.get("file_uploader") if u.label == "Upload images"]
    assert not up.value                                            # a fresh, empty uploader
    assert sum(" → " in m.value for m in at.markdown) == 3          # the results stay
    assert "pred_upload_0" not in at.session_state                 # the read files' widget is gone
