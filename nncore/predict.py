"""What a trained network answers: class probabilities, top guesses, the confusion matrix,
per-class accuracy, and predictions on image files (through :mod:`nncore.images`, the
preprocessing the app and the CLI share). No UI here.

Shapes: ``n`` samples, ``k`` classes. Labels are integers in ``0 .. k-1``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .images import IMAGE_FORMATS, Preprocessed, load_image_batch
from .network import Network

# (height, width) of a dataset's images -> the preprocessing format that makes them.
SHAPE_FORMATS = {tuple(shape): name for name, shape in IMAGE_FORMATS.items()}
SORTS = ("index", "most", "least")   # sample order: as in the data, most / least confident first
MAX_IMAGE_BYTES = 20_000_000         # largest image file read (preprocess_image's own limit)


# -- networks of any stored epoch -------------------------------------------------------------
def network_at(trainer, epoch):
    """The run's network with the weights of ``epoch`` (the stored epoch at or before it).

    Returns ``(network, kept_epoch)``; the network is a copy, so training goes on untouched.
    """
    kept = trainer.history.nearest(int(epoch))
    return trainer.network.clone(trainer.history.weights[kept]), kept


# -- probabilities and top guesses ------------------------------------------------------------
def class_probabilities(out, output_activation):
    """Turn network outputs into one probability per class.

    Parameters
    ----------
    out : ndarray, shape (n, k_out)
        Output activations (``Network.predict``).
    output_activation : str
        The output layer's activation.

    Returns
    -------
    probs : ndarray of float32, shape (n, k)
        Rows sum to 1. A single sigmoid output becomes two classes ``[1 - p, p]``.
    exact : bool
        True when the outputs already are probabilities (softmax, or one sigmoid unit);
        otherwise (e.g. several sigmoid units trained with squared error) the outputs were
        clipped at 0 and divided by their sum: shares of the output, not calibrated
        probabilities (a row with no positive output goes to its largest output, shared
        when tied, so the most probable class is always the largest output).
    """
    out = np.asarray(out, np.float64)
    if out.ndim != 2 or out.shape[1] < 1:
        raise ValueError(f"outputs must have shape (n, k), got {out.shape}")
    if out.shape[1] == 1:
        p = np.clip(out[:, 0], 0, 1)
        return np.c_[1 - p, p].astype(np.float32), output_activation == "sigmoid"
    if output_activation == "softmax":
        total = out.sum(axis=1, keepdims=True)
        return (out / np.where(total > 0, total, 1)).astype(np.float32), True
    pos = np.clip(np.nan_to_num(out, nan=0.0), 0, None)
    total = pos.sum(axis=1, keepdims=True)
    raw = np.nan_to_num(out, nan=-np.inf)
    top = raw == raw.max(axis=1, keepdims=True)          # the largest output(s): shared if tied
    top = top / top.sum(axis=1, keepdims=True)
    probs = np.where(total > 0, pos / np.where(total > 0, total, 1), top)
    return probs.astype(np.float32), False


def network_probabilities(network, X):
    """:func:`class_probabilities` of ``network``'s outputs for inputs ``X``."""
    return class_probabilities(network.predict(X), network.activations[-1])[0]


def top_k(probs, k=3):
    """The ``k`` most probable classes per row, best first.

    Returns ``(classes, values)``, both shape (n, min(k, n_classes)); ties keep the lower
    class first.
    """
    probs = np.asarray(probs)
    k = max(1, min(int(k), probs.shape[1]))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(probs, order, axis=1)


def confusion_matrix(labels, guesses, n_classes):
    """Counts (k, k): row = true class, column = guessed class."""
    labels, guesses = np.asarray(labels, np.int64), np.asarray(guesses, np.int64)
    if labels.shape != guesses.shape:
        raise ValueError(f"labels and guesses differ in shape: {labels.shape} vs {guesses.shape}")
    k = int(n_classes)
    bad = (labels < 0) | (labels >= k) | (guesses < 0) | (guesses >= k)
    if bad.any():
        raise ValueError(f"labels and guesses must be in 0..{k - 1}")
    return np.bincount(labels * k + guesses, minlength=k * k).reshape(k, k)


def per_class_accuracy(cm):
    """Share of each true class guessed right (diagonal / row sum); NaN for absent classes."""
    cm = np.asarray(cm, np.float64)
    rows = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, np.diag(cm) / np.where(rows > 0, rows, 1), np.nan)


@dataclass
class Evaluation:
    """A network's answers on a labelled set (classification).

    Attributes
    ----------
    probs : ndarray (n, k) float32
        Class probabilities (see :func:`class_probabilities`).
    labels : ndarray (n,) int
        True classes.
    class_names : list of str
    exact : bool
        Whether ``probs`` are the network's own probabilities.
    """

    probs: np.ndarray
    labels: np.ndarray
    class_names: list
    exact: bool = True
    top: np.ndarray = field(init=False, repr=False)
    top_p: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.top, self.top_p = top_k(self.probs, 3)

    @property
    def n(self):
        return len(self.labels)

    @property
    def k(self):
        return self.probs.shape[1]

    @property
    def guesses(self):
        return self.top[:, 0]

    @property
    def confidence(self):
        """Probability of the top guess, (n,)."""
        return self.top_p[:, 0]

    @property
    def correct(self):
        return self.guesses == self.labels

    @property
    def accuracy(self):
        return float(self.correct.mean()) if self.n else float("nan")

    def confusion(self):
        return confusion_matrix(self.labels, self.guesses, self.k)

    def per_class(self):
        return per_class_accuracy(self.confusion())

    def select(self, mistakes_only=False, sort="index", true_class=None, guess_class=None):
        """Indices of the samples to show, in order.

        ``sort``: "index" (data order), "most" (most confident first) or "least";
        ``true_class`` / ``guess_class`` keep one cell of the confusion matrix (None: any).
        """
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}; valid: {', '.join(SORTS)}")
        keep = np.ones(self.n, bool)
        if mistakes_only:
            keep &= ~self.correct
        if true_class is not None:
            keep &= self.labels == int(true_class)
        if guess_class is not None:
            keep &= self.guesses == int(guess_class)
        idx = np.flatnonzero(keep)
        if sort != "index" and len(idx):
            c = self.confidence[idx]
            idx = idx[np.argsort(-c if sort == "most" else c, kind="stable")]
        return idx


def labels_of(Y, target="classes"):
    """Integer classes of targets ``Y`` (n, k): argmax of one-hot rows, or the 0/1 value
    of a single binary output."""
    Y = np.asarray(Y)
    if target == "classes" or Y.shape[1] > 1:
        return Y.argmax(axis=1)
    return np.round(Y[:, 0]).astype(np.int64)


def class_names_of(data):
    """One name per class of ``data`` (two for a single binary output)."""
    return _class_names(data.target, data.n_out, data.class_names)


def _class_names(target, n_out, names):
    if target == "binary" and n_out == 1:
        return ["0", "1"]
    return [str(c) for c in names or []] or [str(i) for i in range(n_out)]


def held_out(data):
    """The samples to judge a network by: the test set, else (a logic table, a set with no
    test part) the training set. Returns X, Y, the plane points (2-D data, else None) and
    the part's name, "test" or "training"."""
    plane = data.on_plane
    if len(data.X_test):
        return data.X_test, data.Y_test, data.P_test if plane else None, "test"
    return data.X_train, data.Y_train, data.P_train if plane else None, "training"


def can_evaluate(data) -> bool:
    """True if ``data`` is single-label classification (one-hot classes or one 0/1 output)."""
    return data.target == "classes" or data.n_out == 1


def evaluate(network: Network, X, Y, data) -> Evaluation:
    """Run ``network`` on ``X`` and compare with ``Y`` (targets of ``data``'s kind)."""
    if not can_evaluate(data):
        raise ValueError(f"{data.name} has {data.n_out} separate 0/1 outputs, not one class per "
                         "sample: read its truth table instead")
    probs, exact = class_probabilities(network.predict(X), network.activations[-1])
    return Evaluation(probs, labels_of(Y, data.target), class_names_of(data), exact)


def page_of(indices, page, per_page=20):
    """The ``page``-th slice (1-based, clamped) of ``indices``: (slice, page, n_pages)."""
    n_pages = max(1, -(-len(indices) // per_page))
    page = min(max(1, int(page)), n_pages)
    return indices[(page - 1) * per_page: page * per_page], page, n_pages


# -- images -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageInput:
    """How an image-trained network wants its input.

    ``fmt`` is the :data:`nncore.images.IMAGE_FORMATS` key that reproduces the training
    images; ``binarize`` repeats the dataset's pixel binarisation (value > 127/255 -> 1).
    """

    fmt: str
    shape: tuple
    binarize: bool
    class_names: tuple
    dataset: str = ""

    def prepare(self, array):
        """The network's input row (h*w,) float32 from a preprocessed (h, w) array."""
        a = np.asarray(array, np.float32).reshape(-1)
        return (a > 127 / 255).astype(np.float32) if self.binarize else a


def format_for_shape(image_shape) -> str:
    """``"mnist"`` for 28×28 images, ``"digits8"`` for 8×8; anything else raises ValueError."""
    if image_shape is None:
        raise ValueError("the network was not trained on images")
    key = tuple(int(s) for s in image_shape)
    if key not in SHAPE_FORMATS:
        valid = ", ".join(f"{h}×{w} ({name})" for name, (h, w) in IMAGE_FORMATS.items())
        raise ValueError(f"images of {key[0]}×{key[1]} pixels cannot be made from uploads; "
                         f"supported: {valid}")
    return SHAPE_FORMATS[key]


def image_input(kind, image_shape, n_in, class_names, dataset="", options=None) -> ImageInput:
    """Check that a network takes images and say how to make its input.

    Raises ValueError naming what is missing (not an image network, an unsupported size,
    or an input layer that does not match the images).
    """
    name = f"{dataset} " if dataset else ""
    if kind != "image" or image_shape is None:
        raise ValueError(f"the network was trained on {name}{kind or 'non-image'} data, not on "
                         "images: it cannot read pictures")
    fmt = format_for_shape(image_shape)
    h, w = IMAGE_FORMATS[fmt]
    if int(n_in) != h * w:
        raise ValueError(f"the network takes {n_in} inputs, but {h}×{w} images give {h * w}")
    binarize = bool((options or {}).get("binarize", False))
    return ImageInput(fmt, (h, w), binarize, tuple(str(c) for c in class_names), dataset)


def image_input_of(trainer) -> ImageInput:
    """:func:`image_input` for a :class:`~nncore.Trainer`'s run."""
    d = trainer.data
    return image_input(d.kind, d.image_shape, trainer.network.n_in, class_names_of(d),
                       d.name, trainer.config.dataset_options)


@dataclass
class ImagePrediction:
    """One file's result: ``probs`` (k,) and ``pre`` if it was read, else ``error``."""

    name: str
    pre: Preprocessed | None = None
    probs: np.ndarray | None = None
    error: str | None = None
    input: np.ndarray | None = None      # the row the network saw, (h*w,)

    @property
    def ok(self):
        return self.error is None

    def top(self, k=3):
        classes, values = top_k(self.probs[None, :], k)
        return list(zip(classes[0].tolist(), values[0].tolist()))


def preprocess_files(files, spec: ImageInput, **limits):
    """[(name, bytes)] -> [(name, Preprocessed or ImageError)]; never raises per file.

    ``limits``: ``max_pixels`` and ``max_bytes`` for :func:`nncore.images.preprocess_image`.
    """
    return load_image_batch(files, spec.fmt, **limits)


def predict_arrays(network: Network, arrays, spec: ImageInput):
    """Class probabilities (n, k) of preprocessed (h, w) ``arrays``, in one pass."""
    rows = np.stack([spec.prepare(a) for a in arrays])
    return class_probabilities(network.predict(rows), network.activations[-1])[0]


def predict_preprocessed(network: Network, items, spec: ImageInput):
    """Predict every good item of ``items`` ([(name, Preprocessed or Exception)]) in one
    pass; returns one :class:`ImagePrediction` per item, in order."""
    results = [ImagePrediction(name, error=str(p)) if isinstance(p, Exception)
               else ImagePrediction(name, pre=p, input=spec.prepare(p.array))
               for name, p in items]
    good = [r for r in results if r.ok]
    if good:
        for r, p in zip(good, predict_arrays(network, [r.pre.array for r in good], spec)):
            r.probs = p
    return results


def predict_images(network: Network, files, spec: ImageInput, **limits):
    """Preprocess and predict [(name, bytes)]; bad files get their own error message."""
    return predict_preprocessed(network, preprocess_files(files, spec, **limits), spec)


# -- networks from snapshots (the CLI: no dataset needed) ----------------------------------------
def network_from_snapshot(snap) -> Network:
    """The snapshot's network at its latest epoch (the data are not rebuilt)."""
    dtype = snap.config.dtype
    net = Network(list(snap.sizes), list(snap.activations), list(snap.biases), "auto", 0, dtype)
    net.params[...] = snap.resume["params"]
    return net


def image_input_of_snapshot(snap) -> ImageInput:
    """:func:`image_input` from a snapshot's ``input_neurons`` / ``output_neurons``."""
    from .datasets import get_spec
    inp, out = snap.input_neurons, snap.output_neurons
    names = _class_names(out.get("target"), snap.n_out, out.get("names"))
    kind = inp.get("kind")
    if not kind:
        try:
            kind = get_spec(snap.config.dataset).kind
        except ValueError:
            kind = None
    shape = inp.get("image_shape")
    return image_input(kind, tuple(shape) if shape else None, snap.n_in, names,
                       snap.config.dataset, snap.config.dataset_options)


# -- the input plane of 2-D data ----------------------------------------------------------
def grid_points(X, n=100, pad=0.1, bounds=None):
    """A regular ``n x n`` grid over the data's 2-D range (plus ``pad`` of it).

    Returns ``xs`` (n,), ``ys`` (n,) and the points (n*n, 2), row-major in y.
    """
    if bounds is None:
        lo, hi = X.min(axis=0), X.max(axis=0)
        span = np.maximum(hi - lo, 1e-6)
        lo, hi = lo - pad * span, hi + pad * span
    else:
        lo, hi = np.array(bounds[0], float), np.array(bounds[1], float)
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.c_[gx.ravel(), gy.ravel()]


LOGIC_BOUNDS = ([-0.25, -0.25], [1.25, 1.25])   # a logic table's plane: its 0/1 corners


def data_plane(data, n):
    """``grid_points`` over the plane of a 2-D dataset (``data.on_plane``): around all its
    points (train and test), or the unit square with a margin for a logic table.
    Returns ``xs``, ``ys`` and the network's inputs at the grid points (the points
    themselves, or the features the data's inputs are made of)."""
    if data.kind == "logic":
        xs, ys, points = grid_points(data.P_train, n, bounds=LOGIC_BOUNDS)
    else:
        xs, ys, points = grid_points(np.r_[data.P_train, data.P_test], n)
    return xs, ys, data.plane_inputs(points)


def plane_answers(data, network, n):
    """``xs``, ``ys`` of :func:`data_plane` and ``network``'s class probabilities on that
    grid (what :func:`boundary_field` draws)."""
    xs, ys, points = data_plane(data, n)
    return xs, ys, network_probabilities(network, points)
