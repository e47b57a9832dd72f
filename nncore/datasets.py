"""The dataset registry shared by the app and the CLI.

Every dataset is built by ``load_dataset(name, options, seed)`` into a :class:`Dataset`
of float arrays: inputs ``X`` (n, n_in) and targets ``Y`` (n, n_out). Images are scaled
to [0, 1] with ink high. ``target`` says how accuracy is counted: ``classes`` (argmax of
one-hot rows) or ``binary`` (every output rounds to its 0/1 target).
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import gzip
import io
import os
from dataclasses import dataclass, field

import numpy as np

from .idx import find_idx_files, load_idx_folder, read_idx_header

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_DIR = os.environ.get("NNCORE_SAMPLE_DATA", os.path.join(ROOT, "sample_data"))
FASHION_DIRS = ("/usr/share/datasets/fashion-mnist",)
MNIST_DIRS = ("/usr/share/datasets/mnist",)
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
DIGITS = [str(i) for i in range(10)]


PATH_OPTIONS = ("path", "data_dir")   # dataset options that read files named by the user


@dataclass
class Dataset:
    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    kind: str = "points"               # points (2-D), image, table, logic
    target: str = "classes"            # classes or binary
    class_names: list = field(default_factory=list)
    image_shape: tuple | None = None
    notes: list = field(default_factory=list)
    augment_shift: int = 0             # random shift in pixels per epoch (images)
    # 2-D sets (points, two-input tables): the input features computed from each point of
    # the plane (``FEATURES``), and the points themselves when the inputs are not just them
    features: tuple | None = None
    plane: tuple | None = None         # (train points, test points), each (n, 2)

    ARRAYS = ("X_train", "Y_train", "X_test", "Y_test")

    @property
    def on_plane(self):
        """True for data drawn on the x1-x2 plane (decision boundary, unit maps)."""
        return self.features is not None

    @property
    def P_train(self):
        """Training points on the plane (n, 2): the inputs themselves unless features of
        them are the inputs."""
        return self.X_train if self.plane is None else self.plane[0]

    @property
    def P_test(self):
        return self.X_test if self.plane is None else self.plane[1]

    def plane_inputs(self, points):
        """The network inputs of ``points`` (m, 2) on the plane, in this data's dtype."""
        points = np.asarray(points)
        if self.plane is None:
            return points.astype(self.X_train.dtype, copy=False)
        return make_features(points, self.features).astype(self.X_train.dtype, copy=False)

    @property
    def n_in(self):
        return self.X_train.shape[1]

    @property
    def n_out(self):
        return self.Y_train.shape[1]

    def labels(self, Y):
        """Integer class per row of ``Y`` (classes) or the rows themselves (binary)."""
        return Y.argmax(axis=1) if self.target == "classes" else Y

    def astype(self, dtype):
        """This dataset with its arrays as contiguous ``dtype``: itself when they already
        are, else a new Dataset (the arrays of this one are never changed, so one Dataset
        can serve several runs)."""
        dtype = np.dtype(dtype)
        arrays = [getattr(self, k) for k in self.ARRAYS] + list(self.plane or ())
        if all(a.dtype == dtype and a.flags.c_contiguous for a in arrays):
            return self
        plane = self.plane and tuple(np.ascontiguousarray(p, dtype=dtype) for p in self.plane)
        return dataclasses.replace(self, plane=plane, **{
            k: np.ascontiguousarray(getattr(self, k), dtype=dtype) for k in self.ARRAYS})

    def read_only(self):
        """Lock the arrays against writes (for a Dataset shared between runs); returns self."""
        for a in [getattr(self, key) for key in self.ARRAYS] + list(self.plane or ()):
            a.flags.writeable = False
        return self

    @property
    def nbytes(self):
        return sum(getattr(self, k).nbytes for k in self.ARRAYS) + sum(a.nbytes for a in self.plane or ())

    def augmented(self, rng):
        """Training inputs shifted by up to ``augment_shift`` pixels per sample."""
        s = self.augment_shift
        if not s or self.image_shape is None:
            return self.X_train
        n, (h, w) = self.X_train.shape[0], self.image_shape
        dy, dx = rng.integers(0, 2 * s + 1, size=(2, n))
        src = self.X_train.reshape(n, h, w)
        out = np.zeros_like(src)
        # one block copy per shift (dy, dx): sample i's pixel (r, c) comes from
        # (r + dy[i] - s, c + dx[i] - s), zero outside the image
        for y in range(2 * s + 1):
            for x in range(2 * s + 1):
                idx = np.flatnonzero((dy == y) & (dx == x))
                if idx.size:
                    oy, ox = y - s, x - s
                    out[idx, max(0, -oy):h - max(0, oy), max(0, -ox):w - max(0, ox)] = \
                        src[idx, max(0, oy):h - max(0, -oy), max(0, ox):w - max(0, -ox)]
        return out.reshape(n, h * w)


@dataclass(frozen=True)
class Option:
    default: object
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None       # with a text default: a comma-separated subset of these


# Input features of a point (x1, x2) of the plane, as in the TensorFlow Playground: squares,
# the product or sines make rings, XOR and spirals separable with fewer hidden units.
FEATURES = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1 * x1,
    "x2^2": lambda x1, x2: x2 * x2,
    "x1*x2": lambda x1, x2: x1 * x2,
    "sin(x1)": lambda x1, x2: np.sin(x1),
    "sin(x2)": lambda x1, x2: np.sin(x2),
}
FEATURE_LABELS = {"x1": "x1", "x2": "x2", "x1^2": "x1²", "x2^2": "x2²", "x1*x2": "x1·x2",
                  "sin(x1)": "sin x1", "sin(x2)": "sin x2"}      # as people read them
PLAIN_FEATURES = ("x1", "x2")


def make_features(points, names):
    """The columns ``names`` (from ``FEATURES``) of points (m, 2) of the plane."""
    x1, x2 = points[:, 0], points[:, 1]
    return np.stack([FEATURES[n](x1, x2) for n in names], axis=1)


def parse_choices(text, choices, what):
    """A comma-separated subset of ``choices`` as a tuple in their order; raises naming
    anything unknown, repeated or an empty choice."""
    items = [t.strip().replace(" ", "") for t in str(text).split(",") if t.strip()]
    unknown = [t for t in items if t not in choices]
    if unknown:
        raise ValueError(f"{what}: unknown {', '.join(map(repr, unknown))}; valid: {', '.join(choices)}")
    if not items:
        raise ValueError(f"{what}: choose at least one of {', '.join(choices)}")
    if len(set(items)) != len(items):
        raise ValueError(f"{what}: {text!r} names one of them twice")
    return tuple(c for c in choices if c in items)


@dataclass(frozen=True)
class Spec:
    build: object
    description: str
    kind: str
    options: dict
    size: object = None       # opts -> (training samples, inputs) without building, or None


def one_hot(labels, k):
    out = np.zeros((len(labels), k))
    out[np.arange(len(labels)), labels] = 1
    return out


def _split(X, y, test_fraction, rng):
    idx = rng.permutation(len(X))
    n_test = len(X) - _n_split(len(X), test_fraction)
    te, tr = idx[:n_test], idx[n_test:]
    return X[tr], y[tr], X[te], y[te]


def _on_plane(data, opts):
    """``data`` (2-D inputs) with the features of option ``features`` as its inputs."""
    names = tuple(opts["features"].split(","))      # checked and in order (resolve_options)
    data.features = names
    if names != PLAIN_FEATURES:
        data.plane = (data.X_train, data.X_test)
        data.X_train, data.X_test = make_features(data.X_train, names), make_features(data.X_test, names)
        data.notes.append("inputs: " + ", ".join(names))
    return data


def _points(name, X, labels, k, opts, rng, notes=()):
    Xtr, ytr, Xte, yte = _split(X, labels, opts["test_fraction"], rng)
    return _on_plane(Dataset(name, Xtr, one_hot(ytr, k), Xte, one_hot(yte, k), "points", "classes",
                             [f"class {i}" for i in range(k)], notes=list(notes)), opts)


# -- toy sets ----------------------------------------------------------------------------
def _circles(opts, rng):
    n = opts["n_samples"]
    labels = rng.integers(0, 2, n)
    radius = np.where(labels == 1, 0.5, 1.0) + rng.normal(0, opts["noise"], n)
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    return _points("circles", X, labels, 2, opts, rng)


def _spiral(opts, rng):
    n, k = opts["n_samples"], opts["classes"]
    labels = rng.integers(0, k, n)
    r = rng.uniform(0.05, 1.0, n)
    theta = labels * 2 * np.pi / k + r * 1.75 * 2 * np.pi / 2 + rng.normal(0, opts["noise"] * 2, n)
    X = np.c_[r * np.cos(theta), r * np.sin(theta)]
    return _points("spiral", X, labels, k, opts, rng)


def _blobs(opts, rng):
    n, k = opts["n_samples"], opts["classes"]
    labels = rng.integers(0, k, n)
    centres = np.c_[np.cos(2 * np.pi * np.arange(k) / k), np.sin(2 * np.pi * np.arange(k) / k)]
    X = centres[labels] * 0.8 + rng.normal(0, opts["noise"], (n, 2))
    return _points("blobs", X, labels, k, opts, rng)


def _moons(opts, rng):
    n = opts["n_samples"]
    labels = rng.integers(0, 2, n)
    t = rng.uniform(0, np.pi, n)
    X = np.where(labels[:, None] == 0, np.c_[np.cos(t), np.sin(t)],
                 np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    X = (X - [0.5, 0.25]) / 1.2 + rng.normal(0, opts["noise"], (n, 2))
    return _points("moons", X, labels, 2, opts, rng)


# -- logic tables -------------------------------------------------------------------------
_PAIRS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
GATES = {"and": lambda a, b: a & b, "or": lambda a, b: a | b, "nand": lambda a, b: 1 - (a & b),
         "nor": lambda a, b: 1 - (a | b), "xnor": lambda a, b: 1 - (a ^ b)}


def _table(name, X, Y, note, opts=None):
    X, Y = np.asarray(X, float), np.asarray(Y, float).reshape(len(X), -1)
    data = Dataset(name, X, Y, X.copy(), Y.copy(), "logic", "binary",
                   [f"output {i}" for i in range(Y.shape[1])],
                   notes=[note, "the test set is the training set: every case of the table"])
    return data if opts is None else _on_plane(data, opts)


def _table_size(n):
    return lambda opts: (n, len(opts["features"].split(",")))


def _xor(opts, rng):
    # Tutorial 4's order: [[0,0],[1,1],[0,1],[1,0]] -> [0,0,1,1].
    X = [[0, 0], [1, 1], [0, 1], [1, 0]]
    return _table("xor", X, [0, 0, 1, 1], "XOR of two inputs", opts)


def _gate(name):
    def build(opts, rng):
        a, b = _PAIRS.astype(int).T
        return _table(name, _PAIRS, GATES[name](a, b), f"{name.upper()} of two inputs", opts)
    return build


def _xor3(opts, rng):
    # Tutorial 2: the third input is a constant 1 (a bias by hand); target = x XOR y.
    X = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    return _table("xor3", X, [0, 1, 1, 0], "x XOR y, with a constant third input")


def _modified_xor(opts, rng):
    # Tutorial 3: all 8 triples; targets [(x XOR y) XOR z, x XOR y].
    X = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)])
    Y = np.c_[(X[:, 0] ^ X[:, 1]) ^ X[:, 2], X[:, 0] ^ X[:, 1]]
    return _table("modified_xor", X, Y, "targets [(x XOR y) XOR z, x XOR y]")


# -- images ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _read_csv_gz(path):
    with gzip.open(path, "rt") as f:
        text = f.read()
    first = text.split("\n", 1)[0]
    skip = 0 if first.replace(",", "").replace(".", "").strip().isdigit() else 1
    arr = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=skip, dtype=np.float32)
    arr.flags.writeable = False
    return arr


def _read_idx_folder(folder):
    """The folder's IDX arrays, read once per version of its files (cached, read-only)."""
    files = find_idx_files(folder) or {}
    stamp = []
    for path in sorted(files.values()):
        try:
            st = os.stat(path)
            stamp.append((path, st.st_mtime_ns, st.st_size))
        except OSError:
            pass
    return _read_idx_cached(folder, tuple(stamp))


@functools.lru_cache(maxsize=4)
def _read_idx_cached(folder, stamp):
    arrays = load_idx_folder(folder)
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _image_set(name, Xtr, ytr, Xte, yte, shape, classes, opts, rng, scale, notes):
    k = len(classes)
    for part, y in (("training", ytr), ("test", yte)):
        bad = y[(y < 0) | (y >= k)]
        if bad.size:
            raise ValueError(f"{name}: {part} labels must be 0 to {k - 1}, found {int(bad[0])}")
    if opts.get("limit"):
        Xtr, ytr = Xtr[:opts["limit"]], ytr[:opts["limit"]]
    pixels = int(np.prod(shape))
    Xtr = Xtr.reshape(len(Xtr), pixels) / scale
    Xte = Xte.reshape(len(Xte), pixels) / scale
    if opts.get("binarize"):
        Xtr, Xte = (Xtr > 127 / 255).astype(float), (Xte > 127 / 255).astype(float)
        notes = notes + ["pixels binarised: value > 127 of 255 becomes 1"]
    return Dataset(name, Xtr, one_hot(ytr.astype(int), k), Xte, one_hot(yte.astype(int), k),
                   "image", "classes", classes, shape, notes, opts.get("augment_shift", 0))


def _n_split(n, test_fraction):
    """Training samples of ``n`` after ``_split`` holds out ``test_fraction``."""
    n_test = int(round(n * test_fraction))
    return n - (1 if test_fraction > 0 and n_test == 0 else n_test)


def _csv_size(file):
    def size(opts):
        arr = _read_csv_gz(os.path.join(SAMPLE_DIR, file))      # a shipped file, read once
        n = _n_split(arr.shape[0], opts["test_fraction"])
        return min(n, opts.get("limit") or n), arr.shape[1] - 1
    return size


def _points_size(opts):
    return _n_split(opts["n_samples"], opts["test_fraction"]), len(opts["features"].split(","))


def _csv_images(name, file, shape, scale, classes, note):
    def build(opts, rng):
        arr = _read_csv_gz(os.path.join(SAMPLE_DIR, file))
        X, y = arr[:, :-1], arr[:, -1].astype(int)
        Xtr, ytr, Xte, yte = _split(X, y, opts["test_fraction"], rng)
        return _image_set(name, Xtr, ytr, Xte, yte, shape, classes, opts, rng, scale,
                          [note, f"{len(Xtr)} training / {len(Xte)} held-out images"])
    return build


def _idx_folder(name, dirs, sample, opts):
    """The folder of IDX files a dataset reads: the option's, else the defaults."""
    folder = opts.get("data_dir") or ""
    candidates = [folder] if folder else [os.environ.get("NNCORE_DATA_DIR", "")] + list(dirs)
    if sample:
        candidates = [os.path.join(SAMPLE_DIR, sample)]
    found = next((d for d in candidates if d and find_idx_files(d)), None)
    if found is None:
        raise ValueError(f"{name}: no IDX files found in {', '.join(c for c in candidates if c)}; "
                         "pass a folder holding train-images-idx3-ubyte(.gz) and the other three "
                         "files (CLI: --data-dir, app: the data folder option)")
    return found


def _idx_size(name, dirs, sample=None):
    def size(opts):
        files = find_idx_files(_idx_folder(name, dirs, sample, opts))
        n, *shape = read_idx_header(files["train_images"])
        return min(n, opts.get("limit") or n), int(np.prod(shape))
    return size


def _idx_images(name, dirs, classes, sample=None):
    def build(opts, rng):
        found = _idx_folder(name, dirs, sample, opts)
        Xtr, ytr, Xte, yte = _read_idx_folder(os.path.abspath(found))
        return _image_set(name, Xtr, ytr, Xte, yte, tuple(Xtr.shape[1:]), classes, opts, rng, 255.0,
                          [f"read from {found}", f"{min(len(Xtr), opts.get('limit') or len(Xtr))} "
                           f"training / {len(Xte)} test images"])
    return build


CSV_MAX_BYTES = 200 * 2**20      # a CSV dataset is read whole: bound it
CSV_MAX_CLASSES = 1000


def _read_csv_rows(path):
    """The non-blank rows of the CSV file at ``path``, within ``CSV_MAX_BYTES``."""
    try:
        if not os.path.exists(path):
            raise ValueError(f"csv: cannot read {path}: no such file")
        if not os.path.isfile(path):
            raise ValueError(f"csv: {path} is not a file")
        if os.path.getsize(path) > CSV_MAX_BYTES:
            raise ValueError(f"csv: {path} is larger than {CSV_MAX_BYTES // 2**20} MB")
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read(CSV_MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"csv: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"csv: {path} is not UTF-8 text (byte {exc.start}): is it a CSV file?") from None
    if len(text) > CSV_MAX_BYTES:
        raise ValueError(f"csv: {path} is larger than {CSV_MAX_BYTES // 2**20} MB")
    try:
        return [r for r in csv.reader(io.StringIO(text)) if any(v.strip() for v in r)]
    except csv.Error as exc:
        raise ValueError(f"csv: {path} is not a readable CSV file ({exc})") from None


def _csv_table(opts, rng):
    path = opts.get("path")
    if not path:
        raise ValueError("csv: give the path of a CSV file of numeric columns and a label column")
    rows = _read_csv_rows(path)
    header = bool(rows) and not _is_number(rows[0][0])
    if header:
        rows = rows[1:]
    if len(rows) < 2:
        raise ValueError(f"csv: {path} has fewer than 2 data rows")
    width = len(rows[0])
    if width < 2:
        raise ValueError(f"csv: {path} needs at least one numeric column besides the label column")
    col = opts["label_column"]
    if not -width <= col < width:
        raise ValueError(f"csv: label column {col} is outside the file's {width} columns")
    col %= width
    column = lambda j: j + (j >= col) + 1       # the file's column of feature j, from 1
    X = np.empty((len(rows), width - 1))
    for n, r in enumerate(rows, start=1 + header):
        if len(r) != width:
            raise ValueError(f"csv: {path}: line {n} has {len(r)} columns, the first row {width}")
        for j, v in enumerate(r[:col] + r[col + 1:]):
            try:
                X[n - 1 - header, j] = float(v)
            except ValueError:
                raise ValueError(f"csv: {path}: line {n}, column {column(j)} is not a "
                                 "number (every column but the label column must be)") from None
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"csv: {path}: line {i + 1 + header}, column {column(j)} is "
                         f"{X[i, j]} (every value must be a finite number)")
    labels_raw = [r[col].strip() for r in rows]
    names = sorted(set(labels_raw))
    most = CSV_MAX_CLASSES if len(rows) < 20 else min(CSV_MAX_CLASSES, len(rows) // 2)
    if len(names) > most:
        raise ValueError(f"csv: {path}: {len(names):,} different labels in {len(rows):,} rows "
                         f"(at most {most:,}): is column {col + 1} the label column, or does it "
                         "hold measurements?")
    if len(names) < 2:
        raise ValueError(f"csv: {path}: column {col + 1} holds only one label ({names[0][:40]!r}): "
                         "a classifier needs at least 2 classes (is it the label column?)")
    index = {v: i for i, v in enumerate(names)}
    y = np.array([index[v] for v in labels_raw])
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
    Xtr, ytr, Xte, yte = _split(X, y, opts["test_fraction"], rng)
    k = len(names)
    return Dataset("csv", Xtr, one_hot(ytr, k), Xte, one_hot(yte, k), "table", "classes",
                   names, notes=[f"{path}: {X.shape[1]} standardised feature columns, {k} classes"])


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


_NOISE = lambda d: Option(d, "noise (std. dev.)", 0.0, 1.0)
_N_SAMPLES = Option(400, "number of points", 20, 5000)
_TEST = lambda d: Option(d, "held-out fraction", 0.0, 0.9)
_CLASSES = lambda d, hi: Option(d, "classes", 2, hi)
_LIMIT = Option(0, "training images to use (0 = all)", 0, 1_000_000)
_BINARIZE = Option(False, "binarise pixels (> 127 becomes 1)")
_SHIFT = Option(0, "random shift per epoch, in pixels (augmentation)", 0, 4)
_DIR = Option("", "folder of IDX files (raw or .gz)")
_FEATURES = Option(",".join(PLAIN_FEATURES), "input features", choices=tuple(FEATURES))

DATASETS = {
    "xor": Spec(_xor, "XOR, 2 inputs (tutorial 4's table)", "logic", {"features": _FEATURES},
               _table_size(4)),
    **{g: Spec(_gate(g), f"logic gate {g.upper()}", "logic", {"features": _FEATURES}, _table_size(4))
       for g in GATES},
    "xor3": Spec(_xor3, "x XOR y with a constant third input (tutorial 2)", "logic", {},
                 lambda opts: (4, 3)),
    "modified_xor": Spec(_modified_xor, "3 inputs, 2 outputs: [(x^y)^z, x^y] (tutorial 3)", "logic", {},
                         lambda opts: (8, 3)),
    "circles": Spec(_circles, "two concentric rings", "points",
                    {"n_samples": _N_SAMPLES, "noise": _NOISE(0.1), "test_fraction": _TEST(0.3),
                     "features": _FEATURES}, _points_size),
    "spiral": Spec(_spiral, "interleaved spiral arms", "points",
                   {"n_samples": _N_SAMPLES, "noise": _NOISE(0.05), "classes": _CLASSES(2, 6), "test_fraction": _TEST(0.3),
                    "features": _FEATURES}, _points_size),
    "blobs": Spec(_blobs, "gaussian blobs, one per class", "points",
                  {"n_samples": _N_SAMPLES, "noise": _NOISE(0.25), "classes": _CLASSES(3, 8), "test_fraction": _TEST(0.3),
                   "features": _FEATURES}, _points_size),
    "moons": Spec(_moons, "two interleaving half circles", "points",
                  {"n_samples": _N_SAMPLES, "noise": _NOISE(0.15), "test_fraction": _TEST(0.3),
                   "features": _FEATURES}, _points_size),
    "digits": Spec(_csv_images("digits", "digits_8x8.csv.gz", (8, 8), 16.0, DIGITS,
                               "8x8 handwritten digits (UCI)"), "8x8 digits, 1,797 images", "image",
                   {"test_fraction": _TEST(0.2), "binarize": _BINARIZE, "limit": _LIMIT},
                   _csv_size("digits_8x8.csv.gz")),
    "mnist_sample": Spec(_csv_images("mnist_sample", "mnist_5k.csv.gz", (28, 28), 255.0, DIGITS,
                                     "5,000 MNIST digits"), "MNIST sample, 5,000 digits", "image",
                         {"test_fraction": _TEST(0.2), "binarize": _BINARIZE, "augment_shift": _SHIFT,
                          "limit": _LIMIT}, _csv_size("mnist_5k.csv.gz")),
    "fashion_sample": Spec(_idx_images("fashion_sample", (), FASHION_CLASSES, "fashion-mnist-sample"),
                           "Fashion-MNIST sample, 5,000 + 1,000 images", "image",
                           {"binarize": _BINARIZE, "augment_shift": _SHIFT, "limit": _LIMIT},
                           _idx_size("fashion_sample", (), "fashion-mnist-sample")),
    "mnist": Spec(_idx_images("mnist", MNIST_DIRS, DIGITS), "full MNIST from IDX files", "image",
                  {"data_dir": _DIR, "binarize": _BINARIZE, "augment_shift": _SHIFT, "limit": _LIMIT},
                  _idx_size("mnist", MNIST_DIRS)),
    "fashion_mnist": Spec(_idx_images("fashion_mnist", FASHION_DIRS, FASHION_CLASSES),
                          "full Fashion-MNIST from IDX files", "image",
                          {"data_dir": _DIR, "binarize": _BINARIZE, "augment_shift": _SHIFT, "limit": _LIMIT},
                          _idx_size("fashion_mnist", FASHION_DIRS)),
    "csv": Spec(_csv_table, "your CSV: numeric columns and a label column", "table",
                {"path": Option("", "path of the CSV file"),
                 "label_column": Option(-1, "index of the label column (-1 = last)", -1000, 1000),
                 "test_fraction": _TEST(0.2)}),
}


def get_spec(name) -> Spec:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    return DATASETS[name]


def data_size(name, options=None):
    """(training samples, inputs) that ``load_dataset(name, options)`` would build, found
    without building it (IDX headers, option values), or None where only building tells
    (a CSV file). Raises ValueError as ``load_dataset`` would for bad options or files."""
    size = get_spec(name).size
    if size is None:
        return None
    n, n_in = size(resolve_options(name, options))
    return int(n), int(n_in)


def resolve_options(name, options=None) -> dict:
    """Defaults merged with ``options``; unknown keys and out-of-range values raise."""
    spec, options = get_spec(name), dict(options or {})
    out = {}
    for key, opt in spec.options.items():
        value = options.pop(key, opt.default)
        if isinstance(opt.default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{name}: option {key} must be true or false, got {value!r}")
        elif isinstance(opt.default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise ValueError(f"{name}: option {key} must be a number, got {value!r}")
            if isinstance(opt.default, int):
                if value != int(value):
                    raise ValueError(f"{name}: option {key} must be a whole number, got {value!r}")
                value = int(value)
            if (opt.lo is not None and value < opt.lo) or (opt.hi is not None and value > opt.hi):
                raise ValueError(f"{name}: option {key} must be between {opt.lo} and {opt.hi}, got {value}")
        elif not isinstance(value, str):
            raise ValueError(f"{name}: option {key} must be text, got {value!r}")
        elif opt.choices:
            value = ",".join(parse_choices(value, opt.choices, f"{name}: option {key}"))
        out[key] = value
    if options:
        valid = ", ".join(spec.options) or "none"
        raise ValueError(f"{name}: unknown option(s) {', '.join(map(str, options))}; valid: {valid}")
    return out


def load_dataset(name, options=None, seed=0, dtype="float32") -> Dataset:
    """Build dataset ``name`` with ``options``; ``seed`` (int or Generator) drives it."""
    opts = resolve_options(name, options)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    data = get_spec(name).build(opts, rng)
    return data.astype(dtype)
