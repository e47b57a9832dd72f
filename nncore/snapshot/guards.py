"""Parsing guards: size, gzip members, nesting depth and value counts, before and while parsing."""
from __future__ import annotations

import collections
import json
import zlib

import numpy as np

from ..text import size_text
from .format import DEFAULT_MAX_BYTES, MAX_CONTAINERS, MAX_DEPTH, SnapshotError, _kind, _short

# -- parsing, with guards ------------------------------------------------------------------
GZIP_MAX_MEMBERS = 64


def _gunzip(raw, max_bytes):
    """Decompress gzip data (one or more members, at most ``GZIP_MAX_MEMBERS``), stopping
    past ``max_bytes``."""
    out, total, rest = [], 0, raw
    try:
        while True:
            if len(out) == GZIP_MAX_MEMBERS:
                raise SnapshotError(f"the file is made of more than {GZIP_MAX_MEMBERS} gzip "
                                    "members; a training-state file has one")
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = d.decompress(rest, max_bytes + 1 - total)
            total += len(chunk)
            out.append(chunk)
            if total > max_bytes or d.unconsumed_tail:
                raise SnapshotError(f"the file decompresses to more than the limit of {size_text(max_bytes)}")
            if not d.eof:
                raise SnapshotError("the file is not valid gzip: it ends early (truncated)")
            rest = d.unused_data
            if not rest.strip(b"\x00"):
                break
    except zlib.error as exc:
        raise SnapshotError(f"the file is not valid gzip: {exc}") from None
    return b"".join(out)


_STRUCT = np.zeros(256, np.int8)        # 1: [ {   2: ] }   3: "   4: backslash
_STRUCT[[ord("["), ord("{")]] = 1
_STRUCT[[ord("]"), ord("}")]] = 2
_STRUCT[ord('"')] = 3
_STRUCT[ord("\\")] = 4


def check_structure(raw: bytes, max_depth=MAX_DEPTH, max_containers=MAX_CONTAINERS, max_values=None):
    """Reject JSON text nested deeper than ``max_depth``, with more than ``max_containers``
    arrays/objects or (roughly) ``max_values`` values, before parsing it: one vectorised
    pass over the bytes, brackets inside strings skipped."""
    b = np.frombuffer(raw, np.uint8)
    if max_values is not None and raw.count(b",") > max_values:
        raise SnapshotError(f"the document has more than {max_values:,} values; the limit is "
                            f"{max_values:,} (an array too large?)")
    pos = np.flatnonzero(_STRUCT[b])
    kind = _STRUCT[b[pos]]
    if np.count_nonzero(kind <= 2) > max_containers:
        raise SnapshotError(f"the document has more than {max_containers:,} arrays and objects "
                            "(arrays too large or too many)")
    quotes = pos[kind == 3]
    slashes = pos[kind == 4]
    if slashes.size and quotes.size:
        # a quote is escaped when the run of backslashes right before it is odd
        starts = np.ones(slashes.size, bool)
        starts[1:] = np.diff(slashes) != 1
        run_start = slashes[np.maximum.accumulate(np.where(starts, np.arange(slashes.size), 0))]
        k = np.searchsorted(slashes, quotes) - 1
        kk = np.maximum(k, 0)
        ends_before = (k >= 0) & (slashes[kk] == quotes - 1)
        run = np.where(ends_before, quotes - run_start[kk], 0)
        quotes = quotes[run % 2 == 0]
    brackets = pos[kind <= 2]
    if quotes.size:
        brackets = brackets[np.searchsorted(quotes, brackets) % 2 == 0]
    if brackets.size:
        step = np.where(_STRUCT[b[brackets]] == 1, 1, -1).astype(np.int32)
        deepest = int(np.cumsum(step).max())
        if deepest > max_depth:
            raise SnapshotError(f"the document is nested {deepest} levels deep; the limit is {max_depth}")


def parse_json(raw: bytes, max_bytes=DEFAULT_MAX_BYTES, max_depth=MAX_DEPTH) -> dict:
    """Guarded ``json.loads`` of UTF-8 bytes: SnapshotError for anything that is not a
    JSON object within the limits: depth, and per ``max_bytes`` one value per 12 bytes and
    one array or object per 50 bytes (these bound the memory the parsed document takes; a
    readable file's numbers take 12 bytes or more each). A key repeated in one object is
    refused (it would be read as its last value)."""
    check_structure(raw, max_depth, max_containers=max(max_bytes // 50, 10_000),
                    max_values=max(max_bytes // 12, 10_000))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"not a JSON file: it is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise SnapshotError("not a JSON file: it is empty")
    try:
        doc = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        cut = exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated string")
        hint = "; the file looks truncated" if cut else ""
        raise SnapshotError(f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}){hint}") from None
    except RecursionError:
        raise SnapshotError("not valid JSON here: nested too deeply") from None
    except ValueError as exc:   # e.g. an integer with too many digits
        raise SnapshotError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise SnapshotError(f"the document must be a JSON object, got {_kind(doc)}")
    return doc


def _unique_keys(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        key = next(k for k, n in collections.Counter(k for k, _ in pairs).items() if n > 1)
        raise ValueError(f"the key {_short(key, 40)} appears twice in one object")
    return d


