"""Fuzzing the training-state loader: whatever the bytes, only SnapshotError escapes.

Mutated valid documents (compact and readable: a field deleted, replaced by random JSON,
a number nudged, a list cut short or grown), byte-level damage (flips, cuts, insertions,
gzip), and random bytes. A mutation may leave a loadable file (e.g. a changed metric):
then the loaded run must be a real Trainer.
"""
import copy
import gzip
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nncore import Trainer, snapshot
from nncore.presets import default_config
from nncore.snapshot import SnapshotError

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _run():
    cfg = default_config("xor", hidden=[3], optimizer="adam", epochs=10)
    tr = Trainer(cfg)
    tr.fit(3)
    return tr


TRAINER = _run()
DOCS = {
    "compact": json.loads(snapshot.dumps(TRAINER)),
    "readable": json.loads(snapshot.dumps(TRAINER, readable=True)),
    "every2": json.loads(snapshot.dumps(TRAINER, epochs=2)),
}
RAW = snapshot.dumps(TRAINER)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
    | st.text(max_size=12) | st.sampled_from(["float32", "float64", "PCG64", "zlib", "shuffle",
                                              "xor-previous", "AAAA", "sha256:" + "0" * 64]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


def _paths(node, prefix=()):
    """Every (container, key) path in a JSON tree."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(prefix + (i,))
            out += _paths(v, prefix + (i,))
    return out


PATHS = {name: _paths(doc) for name, doc in DOCS.items()}


def _load(raw):
    """Load; return the Trainer or None for a SnapshotError. Anything else fails the test."""
    try:
        tr = snapshot.loads(raw).to_trainer()
    except SnapshotError as exc:
        assert str(exc)
        return None
    assert isinstance(tr, Trainer) and np.all(np.isfinite(tr.network.params))
    return tr


@st.composite
def mutated_docs(draw):
    name = draw(st.sampled_from(sorted(DOCS)))
    doc = copy.deepcopy(DOCS[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        op = draw(st.sampled_from(["delete", "replace", "nudge", "shrink", "grow", "dup"]))
        value = parent[key]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(json_values)
        elif op == "nudge" and isinstance(value, (int, float)) and not isinstance(value, bool):
            parent[key] = value + draw(st.sampled_from([-1, 1, 0.5, 1e30, -1e30]))
        elif op == "shrink" and isinstance(value, (list, str)):
            parent[key] = value[: draw(st.integers(0, max(len(value) - 1, 0)))]
        elif op == "grow" and isinstance(value, (list, str)):
            parent[key] = value + value[:1] if isinstance(value, list) else value + "A="
        elif op == "dup" and isinstance(value, list) and value:
            parent[key] = [copy.deepcopy(value[0])] + value
        else:
            parent[key] = draw(json_values)
    return doc


@SETTINGS
@given(mutated_docs())
def test_mutated_documents_load_or_raise_snapshot_error(doc):
    _load(json.dumps(doc, allow_nan=True).encode())


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(RAW) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.booleans())
def test_byte_flips(flips, compress):
    raw = bytearray(RAW)
    for pos, byte in flips:
        raw[pos] = byte
    raw = bytes(raw)
    _load(gzip.compress(raw) if compress else raw)


@SETTINGS
@given(st.integers(0, len(RAW)), st.binary(max_size=40), st.integers(0, len(RAW)))
def test_cuts_and_insertions(at, insert, cut):
    _load(RAW[:at] + insert + RAW[at:cut] if cut > at else RAW[:at] + insert)


@SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes(raw):
    assert _load(raw) is None
    assert _load(b"\x1f\x8b" + raw) is None


@SETTINGS
@given(st.text(alphabet='[]{}",:0123456789.e-\\ntruefalsn ', max_size=300))
def test_random_json_like_text(text):
    _load(text.encode())


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_single_deletion_is_caught_or_harmless(name):
    """Deleting any one field either still loads (optional fields) or names a field."""
    for path in PATHS[name]:
        doc = copy.deepcopy(DOCS[name])
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        del parent[path[-1]]
        _load(json.dumps(doc).encode())
