"""The array codec: readable nested lists or compact base64 with filters, both ways."""
from __future__ import annotations

import base64
import binascii
import re
import secrets
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..config import _is_int
from ..network import DTYPES
from .format import _UINT, FILTERS, SMALL, SnapshotError, _get, _kind, _opt, _short


class _Encoder:
    """Turns arrays into their JSON form; compact arrays are compressed in parallel at
    :meth:`finish`, readable ones (``raw``) become placeholders for :meth:`substitute`."""

    def __init__(self, readable, raw, pack=True):
        self.readable, self.raw, self.pack = readable, raw, pack
        self.jobs, self.fragments, self.prev = [], {}, {}
        self.plain = {}                   # placeholder -> base64 text of an unpacked array
        self.token = secrets.token_hex(6)

    def array(self, a, delta_key=None, compact=False, finite=True):
        a = np.ascontiguousarray(a)
        if self.readable and not compact:
            if not self.raw:
                return _nested(a)
            key = f"@@{self.token}:{len(self.fragments)}@@"
            self.fragments[key] = a
            return key
        out = {"dtype": a.dtype.name, "shape": list(a.shape)}
        prev = self.prev.get(delta_key) if delta_key is not None else None
        if delta_key is not None:
            self.prev[delta_key] = a
        if a.size < SMALL or not self.pack:
            text = base64.b64encode(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()).decode("ascii")
            if self.raw and a.size >= SMALL:      # spliced in after json.dumps (no scan of it)
                key = f"@@{self.token}:b{len(self.plain)}@@"
                self.plain[key] = text
                text = key
            out["base64"] = text
            return out
        out["filters"] = (["xor-previous"] if prev is not None else []) + ["shuffle", "zlib"]
        self.jobs.append((out, a, prev))
        return out

    def finish(self):
        if len(self.jobs) > 4:
            with ThreadPoolExecutor(2) as pool:
                encoded = list(pool.map(_compact_bytes, self.jobs))
        else:
            encoded = [_compact_bytes(j) for j in self.jobs]
        for (out, _, _), text in zip(self.jobs, encoded):
            out["base64"] = text
        self.jobs = []

    def splice(self, text):
        """Put the plain base64 texts in place of their placeholders (compact, unpacked)."""
        if not self.plain:
            return text
        pattern = re.compile(r"@@" + self.token + r":b\d+@@")
        return pattern.sub(lambda m: self.plain[m.group(0)], text)

    def substitute(self, text):
        """Replace each placeholder string by its array's text, indented like its line."""
        def repl(m):
            indent = " " * (len(m.group(1)) + 1)
            return m.group(1) + m.group(2) + _readable_text(self.fragments[m.group(3)], indent)
        pattern = re.compile(r'(?m)^( *)(.*?)"(@@' + self.token + r':\d+@@)"')
        return pattern.sub(repl, text)


_SHORT_LIST = re.compile(r"\[\n *([^\[\]{}\n]*(?:\n *[^\[\]{}\n]*)*)\n *\]")


def _inline(m):
    """Put a short list of scalars on one line."""
    one = "[" + " ".join(part.strip() for part in m.group(1).split("\n")) + "]"
    return one if len(one) <= 100 else m.group(0)


def _compact_bytes(job):
    _, a, prev = job
    u = a.view(_UINT[a.itemsize])
    if prev is not None:
        u = u ^ prev.view(_UINT[a.itemsize])
    u = u.astype(u.dtype.newbyteorder("<"), copy=False)
    planes = np.ascontiguousarray(u.reshape(-1).view(np.uint8).reshape(-1, a.itemsize).T)
    c = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    return base64.b64encode(c.compress(planes) + c.flush()).decode("ascii")


def _nested(a):
    if np.all(np.isfinite(a)):
        return a.tolist()
    obj = a.astype(object)
    obj[~np.isfinite(a)] = None
    return obj.tolist()


def _numbers_text(a):
    s = a.astype(str)
    bad = ~np.isfinite(a)
    if bad.any():
        s[bad] = "null"
    return s


def _readable_text(a, indent):
    """JSON text of ``a``: shortest float repr, one matrix row per line."""
    s = _numbers_text(a)
    if a.ndim == 1:
        return "[" + ", ".join(s.tolist()) + "]"
    if a.ndim > 2:      # conv weights (out, in, kh, kw): nested, one kernel row per line
        parts = [_readable_text(part, indent + " ") for part in a]
        return "[\n" + indent + (",\n" + indent).join(parts) + "\n" + indent[:-1] + "]"
    rows = ["[" + ", ".join(r) + "]" for r in s.reshape(a.shape[0], -1).tolist()]
    return "[\n" + indent + (",\n" + indent).join(rows) + "\n" + indent[:-1] + "]"


def _payload(d, path, shape):
    """Check a compact array's keys and undo its ``zlib`` and ``shuffle`` filters (the
    part that needs no other array, so it can run in parallel).
    Returns (dtype name, filters, little-endian bytes still XOR-ed if so filtered)."""
    unknown = sorted(set(d) - {"dtype", "shape", "base64", "filters"})
    if unknown:
        raise SnapshotError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))} in a compact array "
                            "(expected dtype, shape, base64, filters)")
    dtype = _get(d, "dtype", path, str)
    if dtype not in DTYPES:
        raise SnapshotError(f"{path}.dtype: expected 'float32' or 'float64', got {dtype[:40]!r}")
    got = _get(d, "shape", path, list)
    if not all(_is_int(s) and s >= 0 for s in got) or got != list(shape):
        raise SnapshotError(f"{path}: expected shape {list(shape)}, got {_short(got)}")
    filters = _opt(d, "filters", path, list, [])
    if not all(isinstance(f, str) for f in filters) or filters != [f for f in FILTERS if f in filters]:
        raise SnapshotError(f"{path}.filters: expected some of {list(FILTERS)}, in that order, "
                            f"got {_short(filters)}")
    text = _get(d, "base64", path, str)
    try:
        buf = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SnapshotError(f"{path}.base64: not valid base64") from None
    itemsize = np.dtype(dtype).itemsize
    n = int(np.prod(shape, dtype=np.int64))
    nbytes = n * itemsize
    if "zlib" in filters:
        try:
            z = zlib.decompressobj()
            out = z.decompress(buf, nbytes + 1)
        except zlib.error as exc:
            raise SnapshotError(f"{path}.base64: the zlib data is corrupt ({exc})") from None
        if len(out) != nbytes or not z.eof:
            raise SnapshotError(f"{path}.base64: the zlib data does not hold exactly {nbytes} bytes "
                                f"(shape {list(shape)} {dtype})")
        buf = out
    _need(buf, nbytes, path, shape, dtype)
    if "shuffle" in filters:
        buf = np.frombuffer(buf, np.uint8).reshape(itemsize, n).T.tobytes()
    return dtype, filters, buf


def _compact(d, path, shape, prev, payload=None):
    """Decode a compact array; ``prev`` is the same array of the previous training state
    (for ``xor-previous``), ``payload`` a precomputed :func:`_payload` result."""
    dtype, filters, buf = payload if payload is not None else _payload(d, path, shape)
    dt = np.dtype(dtype).newbyteorder("<")
    if "xor-previous" in filters:
        if prev is None:
            raise SnapshotError(f"{path}.filters: 'xor-previous' needs the same array in the previous "
                                "training state, and there is none")
        if prev.dtype != np.dtype(dtype) or prev.shape != tuple(shape):
            raise SnapshotError(f"{path}.filters: 'xor-previous' needs the previous state's array to be "
                                f"{dtype} of shape {list(shape)}")
        u = np.frombuffer(buf, np.dtype(_UINT[dt.itemsize]).newbyteorder("<"))
        buf = (u ^ np.ascontiguousarray(prev).view(_UINT[dt.itemsize]).reshape(-1)).tobytes()
    return np.frombuffer(buf, dt).astype(np.dtype(dtype)).reshape(shape)


def _need(buf, nbytes, path, shape, dtype):
    if len(buf) != nbytes:
        raise SnapshotError(f"{path}: {len(buf)} bytes of data for shape {list(shape)} {dtype} "
                            f"(needs {nbytes})")


def _readable(value, path, shape):
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        raise SnapshotError(f"{path}: not a rectangular array of numbers (rows of different lengths?)") from None
    if arr.dtype.kind in "US":
        raise SnapshotError(f"{path}: expected numbers, found text")
    if arr.dtype.kind == "b" or (arr.dtype.kind in "fi" and _holds_bool(value)):
        raise SnapshotError(f"{path}: expected numbers, found true/false")
    if arr.shape != tuple(shape) and arr.dtype.kind != "O":
        raise SnapshotError(f"{path}: expected shape {list(shape)}, got {list(arr.shape)}")
    if arr.dtype.kind == "O":
        if arr.shape != tuple(shape):
            raise SnapshotError(f"{path}: expected shape {list(shape)}, got {_list_shape(value)}")
        for x in arr.reshape(-1):
            if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float))):
                raise SnapshotError(f"{path}: expected numbers, found {_kind(x)}")
        try:
            arr = np.array([np.nan if x is None else float(x) for x in arr.reshape(-1)]).reshape(shape)
        except OverflowError:
            raise SnapshotError(f"{path}: a number is out of range") from None
    return arr.astype(np.float64)


def _holds_bool(value):
    """True if nested lists ``value`` hold a true/false among numbers (NumPy reads it as
    1 or 0 without a word)."""
    if not isinstance(value, list):
        return isinstance(value, bool)
    if value and isinstance(value[0], list):
        return any(_holds_bool(v) for v in value)
    return any(v is True or v is False for v in value)


def _list_shape(v):
    out = []
    while isinstance(v, list):
        out.append(len(v))
        v = v[0] if v else None
    return out


