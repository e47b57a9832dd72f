"""The training-state format's constants, its error, and the small field checks the reader uses."""
from __future__ import annotations

import json
import math
import os
import re

import numpy as np

from ..config import _is_int
from ..text import without_controls

FORMAT = "nncore.training-state"
VERSION = 1              # dense networks
VERSION_CONV = 2         # networks with conv and pool layers
VERSIONS = (VERSION, VERSION_CONV)
DEFAULT_MAX_BYTES = 200 * 2**20
MAX_DEPTH = 32
MAX_CONTAINERS = DEFAULT_MAX_BYTES // 50
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema",
                           "training-state.v1.schema.json")
SCHEMA_V2_PATH = os.path.join(os.path.dirname(SCHEMA_PATH), "training-state.v2.schema.json")
FILTERS = ("xor-previous", "shuffle", "zlib")
SMALL = 256                      # arrays smaller than this are written without filters
# RunConfig's fields in format v1: a v1 file must carry all of them (fields added to
# RunConfig later are optional and take their defaults).
V1_CONFIG_FIELDS = ("dataset", "dataset_options", "hidden", "activations", "biases", "init", "loss",
                    "optimizer", "lr", "momentum", "beta1", "beta2", "eps", "batch", "batch_size",
                    "shuffle", "l2", "dropout", "epochs", "passes_per_epoch", "target_loss", "seed",
                    "dtype")
RECORD_FLOATS = ("train_loss", "test_loss", "train_acc", "test_acc", "seconds", "samples_per_s", "lr")
_UINT = {4: np.uint32, 8: np.uint64}




class SnapshotError(ValueError):
    """A training-state document that cannot be loaded; the message names the field."""

    def __init__(self, message):
        message = without_controls(message)      # it may quote the file: no escapes
        super().__init__(message if len(message) <= 400 else message[:397] + "...")

# -- small validators -----------------------------------------------------------------------
_TYPE_NAMES = {str: "text", int: "a whole number", float: "a number", bool: "true/false",
               list: "an array", dict: "an object", type(None): "null"}


def _kind(v):
    if isinstance(v, bool):
        return "true/false"
    return {str: "text", int: "a number", float: "a number", list: "an array", dict: "an object",
            type(None): "null"}.get(type(v), type(v).__name__)


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def _obj(v, path):
    if not isinstance(v, dict):
        raise SnapshotError(f"{path}: expected an object, got {_kind(v)}")
    return v


def _check_type(v, kinds, path):
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    ok = isinstance(v, kinds) and not (isinstance(v, bool) and bool not in kinds)
    if not ok and float in kinds and _is_int(v):
        ok = True
    if not ok:
        want = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise SnapshotError(f"{path}: expected {want}, got {_kind(v)}")
    return v


def _get(d, key, path, kinds):
    p = _join(path, key)
    if key not in d:
        raise SnapshotError(f"{p}: missing")
    return _check_type(d[key], kinds, p)


def _opt(d, key, path, kinds, default):
    if key not in d:
        return default
    return _check_type(d[key], kinds, _join(path, key))


def _count(v, path, hi=2**53):
    if not 0 <= v <= hi:
        raise SnapshotError(f"{path}: expected a whole number from 0 to {hi}, got {v}")
    return v


def _metric(d, key, path):
    p = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
    v = d[key] if isinstance(d, list) else (d[key] if key in d else _missing(p))
    if v is None:
        return float("nan")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SnapshotError(f"{p}: expected a number or null, got {_kind(v)}")
    v = float(v)
    if not math.isfinite(v):
        raise SnapshotError(f"{p}: NaN and infinity are not allowed (null means no value)")
    return v


def _missing(path):
    raise SnapshotError(f"{path}: missing")


def _big(text, path, bits):
    if not re.fullmatch(r"[0-9]{1,40}", text) or int(text) >= 2**bits:
        raise SnapshotError(f"{path}: expected a decimal string of a whole number below 2^{bits}, "
                            f"got {text[:60]!r}")
    return int(text)


def _text(s, path):
    """``s`` as safe text: valid UTF-8, control characters (terminal escapes) as spaces."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise SnapshotError(f"{path}: not valid text") from None
    return without_controls(s)


def _short(v, limit=80):
    text = json.dumps(v, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _fmt(v):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}"


def _epoch_list(epochs):
    if len(epochs) <= 8:
        return ", ".join(map(str, epochs))
    return ", ".join(map(str, epochs[:3])) + ", ..., " + ", ".join(map(str, epochs[-2:]))
