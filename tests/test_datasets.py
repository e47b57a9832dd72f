"""The dataset registry, IDX and CSV readers."""
import gzip
import struct

import numpy as np
import pytest

from nncore import DATASETS, load_dataset
from nncore.idx import load_idx_folder, read_idx


@pytest.mark.parametrize("name", [n for n in DATASETS if n not in ("mnist", "csv", "fashion_mnist")])
def test_every_shipped_dataset_loads(name):
    d = load_dataset(name, seed=0)
    assert d.X_train.dtype == np.float32 and d.X_train.ndim == 2 and d.Y_train.ndim == 2
    assert len(d.X_train) == len(d.Y_train) and len(d.X_test) == len(d.Y_test) > 0
    assert d.X_test.shape[1] == d.n_in and d.Y_test.shape[1] == d.n_out
    assert np.all(np.isfinite(d.X_train))
    if d.kind == "image":
        assert d.X_train.min() >= 0 and d.X_train.max() <= 1
        assert int(np.prod(d.image_shape)) == d.n_in
        assert len(d.class_names) == d.n_out == 10


def test_tutorial_tables():
    xor = load_dataset("xor")
    assert xor.X_train.tolist() == [[0, 0], [1, 1], [0, 1], [1, 0]]
    assert xor.Y_train.ravel().tolist() == [0, 0, 1, 1]
    x3 = load_dataset("xor3")
    assert x3.X_train.tolist() == [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    assert x3.Y_train.ravel().tolist() == [0, 1, 1, 0]
    mx = load_dataset("modified_xor")
    for (x, y, z), (t0, t1) in zip(mx.X_train.astype(int), mx.Y_train.astype(int)):
        assert t0 == (x ^ y) ^ z and t1 == x ^ y
    assert len(mx.X_train) == 8
    for gate, table in {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "nand": [1, 1, 1, 0],
                        "nor": [1, 0, 0, 0], "xnor": [1, 0, 0, 1]}.items():
        assert load_dataset(gate).Y_train.ravel().tolist() == table


def test_toy_sets_honour_options_and_seed():
    a = load_dataset("moons", {"n_samples": 200, "noise": 0.3, "test_fraction": 0.25}, seed=3)
    b = load_dataset("moons", {"n_samples": 200, "noise": 0.3, "test_fraction": 0.25}, seed=3)
    c = load_dataset("moons", {"n_samples": 200, "noise": 0.3, "test_fraction": 0.25}, seed=4)
    assert len(a.X_train) == 150 and len(a.X_test) == 50
    assert np.array_equal(a.X_train, b.X_train) and not np.array_equal(a.X_train, c.X_train)
    blobs = load_dataset("blobs", {"classes": 5})
    assert blobs.n_out == 5
    spiral = load_dataset("spiral", {"classes": 3, "n_samples": 300})
    assert spiral.n_out == 3 and len(spiral.X_train) + len(spiral.X_test) == 300


def test_binarise_limit_and_shift():
    d = load_dataset("mnist_sample", {"binarize": True, "limit": 1000})
    assert len(d.X_train) == 1000 and set(np.unique(d.X_train)) <= {0.0, 1.0}
    s = load_dataset("mnist_sample", {"augment_shift": 2})
    shifted = s.augmented(np.random.default_rng(0))
    assert shifted.shape == s.X_train.shape and not np.array_equal(shifted, s.X_train)
    # a shift moves ink, it does not create it
    assert np.allclose(shifted.sum(1), s.X_train.sum(1), atol=1e-3) or \
        np.all(shifted.sum(1) <= s.X_train.sum(1) + 1e-3)


def write_idx(path, arr, magic):
    header = struct.pack(">HBB", 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    (gzip.open if str(path).endswith(".gz") else open)(path, "wb").write(data)


def make_idx_folder(folder, gz=True, n=6):
    ext = ".gz" if gz else ""
    rng = np.random.default_rng(0)
    write_idx(folder / f"train-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, 28, 28)), 3)
    write_idx(folder / f"train-labels-idx1-ubyte{ext}", np.arange(n) % 10, 1)
    write_idx(folder / f"t10k-images-idx3-ubyte{ext}", rng.integers(0, 256, (3, 28, 28)), 3)
    write_idx(folder / f"t10k-labels-idx1-ubyte{ext}", np.arange(3), 1)


@pytest.mark.parametrize("gz", [True, False])
def test_full_set_from_an_idx_folder(tmp_path, gz):
    make_idx_folder(tmp_path, gz)
    Xtr, ytr, Xte, yte = load_idx_folder(tmp_path)
    assert Xtr.shape == (6, 28, 28) and ytr.tolist() == [0, 1, 2, 3, 4, 5] and Xte.shape == (3, 28, 28)
    d = load_dataset("mnist", {"data_dir": str(tmp_path)})
    assert d.X_train.shape == (6, 784) and d.Y_test.shape == (3, 10)


def test_bad_idx_files_get_clear_errors(tmp_path):
    bad = tmp_path / "x.idx"
    bad.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 20)
    with pytest.raises(ValueError, match="bad header"):
        read_idx(bad)
    short = tmp_path / "short.idx"
    short.write_bytes(struct.pack(">HBBIII", 0, 8, 3, 10, 28, 28) + b"\x00" * 100)
    with pytest.raises(ValueError, match="header says"):
        read_idx(short)
    with pytest.raises(ValueError, match="no IDX files found"):
        load_dataset("mnist", {"data_dir": str(tmp_path)})


def test_fashion_is_found_without_being_told():
    import os
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    d = load_dataset("fashion_mnist", {"limit": 100})
    assert d.X_train.shape == (100, 784) and d.X_test.shape == (10000, 784)


def test_csv_dataset(tmp_path):
    path = tmp_path / "iris.csv"
    rows = ["a,b,label"] + [f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}" for i in range(40)]
    path.write_text("\n".join(rows))
    d = load_dataset("csv", {"path": str(path), "test_fraction": 0.25})
    assert d.n_in == 2 and d.n_out == 2 and d.class_names == ["no", "yes"] and len(d.X_test) == 10
    path.write_text("a,b,label\n1,x,yes\n2,3,no\n")
    with pytest.raises(ValueError, match="line 2, column 2 is not a number"):
        load_dataset("csv", {"path": str(path)})
    with pytest.raises(ValueError, match="cannot read"):
        load_dataset("csv", {"path": str(tmp_path / "missing.csv")})


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_shift_augmentation_matches_a_per_sample_reference(shift):
    d = load_dataset("mnist_sample", {"augment_shift": shift, "limit": 300})
    got = d.augmented(np.random.default_rng(7))
    dy, dx = np.random.default_rng(7).integers(0, 2 * shift + 1, size=(2, len(d.X_train)))
    h, w = d.image_shape
    for i in range(len(d.X_train)):
        padded = np.pad(d.X_train[i].reshape(h, w), shift)
        want = padded[dy[i]:dy[i] + h, dx[i]:dx[i] + w].ravel()
        assert np.array_equal(got[i], want), i


def test_astype_never_changes_the_dataset_it_is_called_on():
    d = load_dataset("moons", {"n_samples": 50})
    assert d.astype("float32") is d
    wide = d.astype("float64")
    assert wide is not d and wide.X_train.dtype == np.float64 and d.X_train.dtype == np.float32
    assert np.array_equal(wide.X_train, d.X_train)
    d.read_only()
    with pytest.raises(ValueError):
        d.X_train[0, 0] = 1.0
