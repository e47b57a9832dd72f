"""Export: a Trainer as a training-state document, its bytes, or a file."""
from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import json
import math
import os
import re
import secrets

import numpy as np

from ..datasets import Dataset
from ..trainer import EpochRecord
from .codec import _SHORT_LIST, _Encoder, _inline
from .format import FORMAT, RECORD_FLOATS, VERSION, VERSION_CONV
from .layers import layer_table


# =========================================================================================
# Export
# =========================================================================================
def data_fingerprint(data) -> str:
    """``sha256:<hex>`` of a Dataset's four arrays (dtype, shape and bytes). Computed once
    for a read-only Dataset (its arrays cannot change), every time otherwise."""
    arrays = [getattr(data, name) for name in Dataset.ARRAYS]
    frozen = not any(a.flags.writeable for a in arrays)
    cached = getattr(data, "_fingerprint", None) if frozen else None
    if cached is not None and cached[0] == [id(a) for a in arrays]:
        return cached[1]
    h = hashlib.sha256()
    for name, a in zip(Dataset.ARRAYS, arrays):
        a = np.ascontiguousarray(a)
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.reshape(-1).view(np.uint8).data if a.size else b"")
    fp = "sha256:" + h.hexdigest()
    if frozen and hasattr(data, "__dict__"):
        data._fingerprint = ([id(a) for a in arrays], fp)
    return fp


def select_epochs(stored, latest, epochs="all"):
    """The stored epochs an export keeps: ``"all"``, ``"latest"`` or every ``k``-th
    (``k`` int >= 1; epoch 0 and the latest epoch are always kept)."""
    stored = sorted(stored)
    if epochs == "all" or epochs == 1:
        return stored
    if epochs == "latest":
        return [latest]
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be 'all', 'latest' or a whole number >= 1, got {epochs!r}")
    return [e for e in stored if e % int(epochs) == 0 or e == latest]


def default_filename(trainer, readable=False, compress=False) -> str:
    """A descriptive file name, e.g. ``moons-2-16-8-2-epoch50.json.gz``."""
    sizes = "-".join(str(s) for s in trainer.network.sizes)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", trainer.config.dataset)
    kind = "-readable" if readable else ""
    return f"{name}-{sizes}-epoch{trainer.epoch}{kind}.json" + (".gz" if compress else "")


def to_document(trainer, epochs="all", readable=False) -> dict:
    """The run as a JSON-native dict (format v1; v2 for a network with conv layers).
    ``epochs``: see :func:`select_epochs`;
    ``readable`` writes nested lists instead of compact base64 arrays."""
    enc = _Encoder(readable, raw=False)
    doc = _build(trainer, epochs, enc)
    enc.finish()
    return doc


def dumps(trainer, epochs="all", readable=False, compress=False, pack=True) -> bytes:
    """The run as the bytes of a ``.json`` file (``compress``: of a ``.json.gz`` file).

    Readable files put one matrix row per line with each float32 in its shortest form;
    the resume block stays compact (base64) in both kinds, so both resume exactly.
    ``pack=False`` writes compact arrays as plain base64, without the ``xor-previous``,
    ``shuffle`` and ``zlib`` filters: about a tenth larger for weights, many times faster
    to write (the run store saves a run after every click).
    """
    enc = _Encoder(readable, raw=True, pack=pack)
    doc = _build(trainer, epochs, enc)
    enc.finish()
    if readable:
        text = json.dumps(doc, indent=1, allow_nan=False)
        text = enc.splice(enc.substitute(_SHORT_LIST.sub(_inline, text)))
    else:
        text = enc.splice(json.dumps(doc, separators=(",", ":"), allow_nan=False))
    out = text.encode("utf-8")
    if compress:
        out = gzip.compress(out, compresslevel=1 if not readable else 6, mtime=0)
    return out


def save(trainer, path, epochs="all", readable=False, compress=None) -> int:
    """Write the run to ``path`` atomically (a temporary file flushed to disk, then a
    rename: a crash leaves the old file or the new one, never half of one).
    ``compress=None`` gzips when the name ends in ``.gz``. Returns the bytes written."""
    path = os.fspath(path)
    if compress is None:
        compress = path.endswith(".gz")
    data = dumps(trainer, epochs, readable, compress)
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return len(data)


def _build(trainer, epochs, enc) -> dict:
    net, data, cfg = trainer.network, trainer.data, trainer.config
    state = trainer.state_dict()
    latest = state["epoch"]
    chosen = select_epochs(trainer.history.epochs, latest, epochs)
    if latest not in chosen:   # the history always keeps the latest epoch; be safe anyway
        chosen.append(latest)
    history = dict(trainer.history.weights)   # the arrays are never modified, only replaced
    scratch = net.clone()
    px, py, source = _probe(data)
    records = [_record_json(r) for r in state["records"]]
    states = []
    for e in chosen:
        flat = state["params"] if e == latest else history[e]
        scratch.params[...] = flat
        layers, probe = [], []
        # one entry per layer with weights (conv ones (out, in, kh, kw)); the probe passes
        # every layer, pools included (their sum is their output)
        for i, ((W, b), use_bias) in enumerate(zip(net.unflatten(flat), net.use_biases)):
            layers.append({"weights": enc.array(W, ("weights", i)),
                           "biases": enc.array(b, ("biases", i)) if use_bias else None})
        for z, a in scratch.layer_outputs(px):
            probe.append({"sum": enc.array(z[0], finite=False), "activation": enc.array(a[0], finite=False)})
        states.append({"epoch": int(e), "metrics": records[e],
                       "layers": layers, "probe": probe})
    opt = state["optimizer"]
    rng = state["rng"]
    mode = "all" if epochs in ("all", 1) else "latest" if epochs == "latest" else "every"
    return {
        "format": FORMAT,
        "version": VERSION_CONV if net.spatial else VERSION,
        "encoding": "readable" if enc.readable else "compact",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "generator": "nncore " + _version(),
        "config": cfg.to_dict(),
        "network": {"sizes": list(net.sizes), "activations": list(net.activations),
                    "biases": list(net.use_biases), "n_params": int(net.n_params),
                    "dtype": net.dtype.name,
                    **({"layers": layer_table(net.sizes, net.activations, net.use_biases)}
                       if net.spatial else {})},
        "input_neurons": {"size": int(net.n_in), "kind": data.kind,
                          "image_shape": list(data.image_shape) if data.image_shape else None},
        "output_neurons": {"size": int(net.n_out), "target": data.target,
                           "names": [str(c) for c in data.class_names]},
        "data": {"name": data.name, "fingerprint": data_fingerprint(data),
                 "n_train": int(data.X_train.shape[0]), "n_test": int(data.X_test.shape[0])},
        "probe": {"source": source, "input": enc.array(px[0]), "target": enc.array(py[0])},
        "export": {"epochs": mode, "every": int(epochs) if mode == "every" else None,
                   "history_thinned": int(trainer.history.thinned)},
        "training_states": states,
        "records": records,
        "resume": {
            "epoch": int(latest), "iterations": int(state["iterations"]),
            "stop_reason": state["stop_reason"],
            "params": enc.array(state["params"], compact=True),
            "grads": enc.array(state["grads"], compact=True, finite=False),
            "optimizer": {"name": cfg.optimizer, "t": int(opt["t"]),
                          "state": {k: enc.array(v, compact=True) for k, v in opt.items() if k != "t"}},
            "rng": {"bit_generator": rng["bit_generator"],
                    "state": {k: str(int(v)) for k, v in rng["state"].items()},
                    "has_uint32": int(rng["has_uint32"]), "uinteger": str(int(rng["uinteger"]))},
        },
    }


def _probe(data):
    if data.X_test.shape[0]:
        return data.X_test[:1], data.Y_test[:1], "test[0]"
    return data.X_train[:1], data.Y_train[:1], "train[0]"


def _record_json(rec) -> dict:
    d = rec.to_dict() if isinstance(rec, EpochRecord) else dict(rec)
    for k in RECORD_FLOATS:
        d[k] = _num(d[k])
    for k in ("weight_norms", "grad_norms"):
        d[k] = [_num(v) for v in d[k]]
    d["epoch"], d["iterations"] = int(d["epoch"]), int(d["iterations"])
    return d


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None


def _version():
    from .. import __version__
    return __version__


