"""Read MNIST-style IDX files (raw or gzipped): a big-endian header, then uint8 data."""
from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

MAX_ITEMS = 1_000_000


def _read(f, n, path):
    """Up to ``n`` bytes of ``f``; a broken file (e.g. bad gzip) is a ValueError naming it."""
    try:
        return f.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"cannot read IDX file {path}: {exc}") from None


def _read_exactly(f, n, path, what):
    data = _read(f, n, path)
    if len(data) < n:
        raise ValueError(f"IDX file {path} is truncated {what} ({len(data)} of {n} bytes)")
    return data


def _header(f, path):
    """The dimensions an open IDX file's header announces (checked plausible)."""
    magic = _read_exactly(f, 4, path, "inside its header")
    zero, dtype_code, ndim = struct.unpack(">HBB", magic)
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
        raise ValueError(f"IDX file {path} has a bad header (magic {magic.hex()}, "
                         "expected 00000801 for labels or 00000803 for images)")
    dims = struct.unpack(f">{ndim}I", _read_exactly(f, 4 * ndim, path, "inside its header"))
    if dims[0] > MAX_ITEMS or (ndim == 3 and not (1 <= dims[1] <= 1024 and 1 <= dims[2] <= 1024)):
        raise ValueError(f"IDX file {path} claims implausible dimensions {dims}")
    return dims


def _open(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        return opener(path, "rb")
    except OSError as exc:
        raise ValueError(f"cannot read IDX file {path}: {exc.strerror or exc}") from None


def read_idx_header(path) -> tuple:
    """The dimensions in an IDX file's header, e.g. ``(60000, 28, 28)``, reading only the
    header (a few bytes): the size of a dataset before it is built."""
    with _open(path) as f:
        return _header(f, path)


def read_idx(path) -> np.ndarray:
    """Return the uint8 array stored in an IDX file: labels (n,) or images (n, rows, cols).

    Reads the header, then exactly the data it announces (a gzip file is never inflated past
    that), so a file that claims or holds too much is refused without reading it whole.
    """
    with _open(path) as f:
        dims = _header(f, path)
        expected = int(np.prod(dims))
        data = _read(f, expected, path)
        if len(data) < expected:
            raise ValueError(f"IDX file {path}: header says {dims} ({expected} bytes of data) "
                             f"but the file holds {len(data)} (truncated)")
        if _read(f, 1, path):
            raise ValueError(f"IDX file {path}: header says {dims} ({expected} bytes of data) "
                             "but the file holds more")
    return np.frombuffer(data, np.uint8).reshape(dims)


_STEMS = {"train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
          "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
          "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
          "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte")}


def find_idx_files(folder) -> dict | None:
    """Paths of the four IDX files in ``folder`` (gz or raw), or None if any is missing."""
    found = {}
    for key, stems in _STEMS.items():
        for stem in stems:
            for name in (stem + ".gz", stem):
                if os.path.isfile(os.path.join(folder, name)):
                    found.setdefault(key, os.path.join(folder, name))
        if key not in found:
            return None
    return found


def load_idx_folder(folder):
    """Load (X_train, y_train, X_test, y_test) as uint8 arrays from a folder of IDX files."""
    files = find_idx_files(folder)
    if files is None:
        raise ValueError(f"no MNIST-style IDX files in {folder} (need train-images-idx3-ubyte, "
                         "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, "
                         "raw or .gz)")
    arrays = {k: read_idx(p) for k, p in files.items()}
    for part in ("train", "test"):
        xi, yi = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if xi.ndim != 3 or yi.ndim != 1 or len(xi) != len(yi):
            raise ValueError(f"IDX {part} images {xi.shape} and labels {yi.shape} do not match")
        if len(yi) == 0:
            raise ValueError(f"IDX {part} files in {folder} hold no images")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise ValueError(f"IDX files in {folder}: training images are "
                         f"{'x'.join(map(str, arrays['train_images'].shape[1:]))} but test images are "
                         f"{'x'.join(map(str, arrays['test_images'].shape[1:]))}")
    return arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"]
