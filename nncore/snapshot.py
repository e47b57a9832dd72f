"""Training-state snapshots: a whole run as one JSON document, and back again.

Format ``nncore.training-state`` version 1 (described by
``nncore/schema/training-state.v1.schema.json`` and in the README):

- ``config``: the run's :class:`RunConfig` (dataset and options, layers, activations, loss,
  optimiser and settings, batch, seed, dtype); ``network``: sizes, activations, biases;
  ``input_neurons`` / ``output_neurons``: sizes, image shape, class names;
- ``data``: a SHA-256 fingerprint of the arrays the run trained on (the data are rebuilt from
  the config on load, and must match);
- ``probe``: one fixed input (the first test sample) and its target;
- ``training_states``: one entry per stored epoch: its metrics, every layer's weights
  (n_in, n_out) and biases (n_out,), and the probe's weighted sum and activation per layer;
- ``records``: the metrics of every epoch (the curves), epoch 0 first;
- ``resume``: the exact state to continue from: flat parameters and last-batch gradients,
  the optimiser's arrays and step count, and the PCG64 generator state (integers written as
  decimal strings so JavaScript readers keep every digit).

Arrays are either readable nested lists of numbers or compact objects
``{"dtype": "float32", "shape": [...], "base64": "...", "filters": [...]}``: little-endian
bytes, optionally transformed before base64 by ``filters`` in order: ``xor-previous`` (the
bit pattern XOR-ed with the same array of the previous training state), ``shuffle`` (byte
planes: byte 0 of every element, then byte 1, ...) and ``zlib`` (RFC 1950). Readers undo
them in reverse order. Loading never half-loads: :meth:`Snapshot.to_trainer` builds a new
:class:`Trainer`, and every problem raises :class:`SnapshotError` naming the field.
"""
from __future__ import annotations

import base64
import binascii
import collections
import datetime as _dt
import gzip
import hashlib
import json
import math
import os
import re
import secrets
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields

import numpy as np

from .config import RunConfig, _is_int
from .datasets import Dataset, get_spec
from .network import DTYPES, count_params
from .optimizers import make_optimizer
from .trainer import EpochRecord, Trainer, load_run_data

FORMAT = "nncore.training-state"
VERSION = 1
DEFAULT_MAX_BYTES = 200 * 2**20
MAX_DEPTH = 32
MAX_CONTAINERS = DEFAULT_MAX_BYTES // 50
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema",
                           "training-state.v1.schema.json")
FILTERS = ("xor-previous", "shuffle", "zlib")
SMALL = 256                      # arrays smaller than this are written without filters
# RunConfig's fields in format v1: a v1 file must carry all of them (fields added to
# RunConfig later are optional and take their defaults).
V1_CONFIG_FIELDS = ("dataset", "dataset_options", "hidden", "activations", "biases", "init", "loss",
                    "optimizer", "lr", "momentum", "beta1", "beta2", "eps", "batch", "batch_size",
                    "shuffle", "l2", "dropout", "epochs", "passes_per_epoch", "target_loss", "seed",
                    "dtype")
RECORD_FLOATS = ("train_loss", "test_loss", "train_acc", "test_acc", "seconds", "samples_per_s", "lr")
PATH_OPTIONS = ("path", "data_dir")   # dataset options that point into the file system
_UINT = {4: np.uint32, 8: np.uint64}


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")   # terminal escapes and the like


class SnapshotError(ValueError):
    """A training-state document that cannot be loaded; the message names the field."""

    def __init__(self, message):
        message = _CONTROL.sub(" ", str(message))      # it may quote the file: no escapes
        super().__init__(message if len(message) <= 400 else message[:397] + "...")


# =========================================================================================
# Export
# =========================================================================================
def data_fingerprint(data) -> str:
    """``sha256:<hex>`` of a Dataset's four arrays (dtype, shape and bytes)."""
    h = hashlib.sha256()
    for name in Dataset.ARRAYS:
        a = np.ascontiguousarray(getattr(data, name))
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.reshape(-1).view(np.uint8).data if a.size else b"")
    return "sha256:" + h.hexdigest()


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
    """The run as a JSON-native dict (format v1). ``epochs``: see :func:`select_epochs`;
    ``readable`` writes nested lists instead of compact base64 arrays."""
    enc = _Encoder(readable, raw=False)
    doc = _build(trainer, epochs, enc)
    enc.finish()
    return doc


def dumps(trainer, epochs="all", readable=False, compress=False) -> bytes:
    """The run as the bytes of a ``.json`` file (``compress``: of a ``.json.gz`` file).

    Readable files put one matrix row per line with each float32 in its shortest form;
    the resume block stays compact (base64) in both kinds, so both resume exactly.
    """
    enc = _Encoder(readable, raw=True)
    doc = _build(trainer, epochs, enc)
    enc.finish()
    if readable:
        text = json.dumps(doc, indent=1, allow_nan=False)
        text = enc.substitute(_SHORT_LIST.sub(_inline, text))
    else:
        text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
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
        pairs = zip(net.unflatten(flat), net.use_biases, scratch.layer_outputs(px))
        for i, ((W, b), use_bias, (z, a)) in enumerate(pairs):
            layers.append({"weights": enc.array(W, ("weights", i)),
                           "biases": enc.array(b, ("biases", i)) if use_bias else None})
            probe.append({"sum": enc.array(z[0], finite=False), "activation": enc.array(a[0], finite=False)})
        states.append({"epoch": int(e), "metrics": records[e],
                       "layers": layers, "probe": probe})
    opt = state["optimizer"]
    rng = state["rng"]
    mode = "all" if epochs in ("all", 1) else "latest" if epochs == "latest" else "every"
    return {
        "format": FORMAT,
        "version": VERSION,
        "encoding": "readable" if enc.readable else "compact",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "generator": "nncore " + _version(),
        "config": cfg.to_dict(),
        "network": {"sizes": list(net.sizes), "activations": list(net.activations),
                    "biases": list(net.use_biases), "n_params": int(net.n_params),
                    "dtype": net.dtype.name},
        "input_neurons": {"size": int(net.sizes[0]), "kind": data.kind,
                          "image_shape": list(data.image_shape) if data.image_shape else None},
        "output_neurons": {"size": int(net.sizes[-1]), "target": data.target,
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
    from . import __version__
    return __version__


class _Encoder:
    """Turns arrays into their JSON form; compact arrays are compressed in parallel at
    :meth:`finish`, readable ones (``raw``) become placeholders for :meth:`substitute`."""

    def __init__(self, readable, raw):
        self.readable, self.raw = readable, raw
        self.jobs, self.fragments, self.prev = [], {}, {}
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
        if a.size < SMALL:
            out["base64"] = base64.b64encode(a.astype(a.dtype.newbyteorder("<")).tobytes()).decode("ascii")
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
    rows = ["[" + ", ".join(r) + "]" for r in s.reshape(a.shape[0], -1).tolist()]
    return "[\n" + indent + (",\n" + indent).join(rows) + "\n" + indent[:-1] + "]"


# =========================================================================================
# Import
# =========================================================================================
@dataclass
class Snapshot:
    """A validated, decoded training-state document (the data are not rebuilt yet).

    ``states`` holds one dict per stored epoch: ``epoch``, ``record`` (EpochRecord),
    ``params`` (flat, the run's dtype), ``probe`` ([(sum, activation)] per layer).
    """

    config: RunConfig
    sizes: list
    activations: list
    biases: list
    input_neurons: dict
    output_neurons: dict
    data_name: str
    fingerprint: str
    n_train: int
    n_test: int
    probe_input: np.ndarray
    probe_target: np.ndarray
    probe_source: str
    states: list
    records: list
    resume: dict
    encoding: str = "compact"
    created: str | None = None
    export: dict = field(default_factory=dict)
    file_bytes: int | None = None
    compressed: bool = False

    @property
    def epoch(self) -> int:
        return self.resume["epoch"]

    @property
    def n_params(self) -> int:
        return int(self.resume["params"].size)

    def history(self) -> dict:
        """{epoch: flat params} of the stored epochs."""
        return {s["epoch"]: s["params"] for s in self.states}

    def summary(self) -> dict:
        cfg, last = self.config, self.records[-1]
        return {
            "dataset": cfg.dataset, "sizes": list(self.sizes), "activations": list(self.activations),
            "loss": cfg.loss, "optimizer": cfg.optimizer, "lr": cfg.lr,
            "lr_schedule": cfg.lr_schedule, "batch": cfg.batch,
            "batch_size": cfg.batch_size, "seed": cfg.seed, "dtype": cfg.dtype,
            "n_params": self.n_params, "epochs_trained": self.epoch,
            "stored_epochs": [s["epoch"] for s in self.states], "encoding": self.encoding,
            "compressed": self.compressed, "file_bytes": self.file_bytes, "created": self.created,
            "stop_reason": self.resume["stop_reason"],
            "train_loss": last.train_loss, "test_loss": last.test_loss,
            "train_acc": last.train_acc, "test_acc": last.test_acc,
        }

    def describe(self) -> str:
        """A few lines for people: the run, what is stored, the last epoch's metrics."""
        s, cfg = self.summary(), self.config
        stored = s["stored_epochs"]
        kind = f"{self.encoding}{', gzip' if self.compressed else ''}"
        size = f", {size_text(self.file_bytes)}" if self.file_bytes is not None else ""
        batch = f"{cfg.batch} {cfg.batch_size}" if cfg.batch == "mini" else cfg.batch
        lines = [
            f"training state v{VERSION} ({kind}{size})",
            f"run: {cfg.dataset} {'-'.join(map(str, self.sizes))} ({', '.join(self.activations)}), "
            f"{cfg.loss}, {cfg.optimizer} {cfg.lr_text()}, batch {batch}, seed {cfg.seed}, {cfg.dtype}, "
            f"{self.n_params:,} parameters",
            f"epochs trained: {self.epoch}; weights stored for {len(stored)} epoch(s)"
            + (f" ({_epoch_list(stored)})" if len(stored) < self.epoch + 1 else " (every epoch)"),
            f"epoch {self.epoch}: train loss {_fmt(s['train_loss'])} acc {_fmt(s['train_acc'])}, "
            f"test loss {_fmt(s['test_loss'])} acc {_fmt(s['test_acc'])}",
        ]
        if s["stop_reason"]:
            lines.append(f"stopped: {s['stop_reason']}")
        return "\n".join(lines)

    # -- data and trainer -------------------------------------------------------------
    def run_config(self, data_dir=None, allow_paths=True) -> RunConfig:
        """The config to rebuild with: ``data_dir`` replaces the IDX folder option;
        ``allow_paths=False`` refuses configs that read local files (hosted apps)."""
        cfg, opts = self.config, dict(self.config.dataset_options)
        if data_dir:
            if "data_dir" not in get_spec(cfg.dataset).options:
                raise SnapshotError(f"config.dataset: {cfg.dataset!r} does not read a data folder, "
                                    "so a data folder cannot be given for it")
            opts["data_dir"] = os.fspath(data_dir)
            cfg = cfg.replace(dataset_options=opts)
        if not allow_paths:
            for key in PATH_OPTIONS:
                if opts.get(key):
                    raise SnapshotError(f"config.dataset_options.{key}: this run reads local files "
                                        f"({cfg.dataset}); load it with the command line instead")
        return cfg

    def build_data(self, data=None, data_dir=None, allow_paths=True):
        """The run's dataset: ``data`` if it is the same (fingerprint), else rebuilt from
        the config with the run's seed. Raises SnapshotError if it differs."""
        cfg = self.run_config(data_dir, allow_paths)
        fp = (data_fingerprint(data) if data is not None
              and data.X_train.dtype == np.dtype(cfg.dtype) else None)
        if fp != self.fingerprint:
            try:
                data, fp = load_run_data(cfg), None
            except (ValueError, OSError) as exc:
                raise SnapshotError(f"config.dataset: cannot rebuild {cfg.dataset!r} on this machine "
                                    f"({exc}); the run needs the data it was trained on") from None
        if data.n_in != self.sizes[0]:
            raise SnapshotError(f"input_neurons.size: the file's network takes {self.sizes[0]} inputs "
                                f"but the dataset {cfg.dataset!r} has {data.n_in}")
        if data.n_out != self.sizes[-1]:
            raise SnapshotError(f"output_neurons.size: the file's network has {self.sizes[-1]} outputs "
                                f"but the dataset {cfg.dataset!r} has {data.n_out}")
        fp = fp or data_fingerprint(data)
        if fp != self.fingerprint:
            shapes = f"{data.X_train.shape[0]} training / {data.X_test.shape[0]} test samples"
            raise SnapshotError(
                f"data.fingerprint: the dataset {cfg.dataset!r} rebuilt here ({shapes}) is not the data "
                f"this run was trained on ({self.n_train} / {self.n_test}); a different data file or "
                f"folder? (file {self.fingerprint[:19]}..., here {fp[:19]}...)")
        return data

    def to_trainer(self, data=None, data_dir=None, history_budget=256 * 2**20,
                   allow_paths=True) -> Trainer:
        """A new Trainer continuing this run exactly (nothing else is touched)."""
        cfg = self.run_config(data_dir, allow_paths)
        data = self.build_data(data, data_dir, allow_paths)
        try:
            trainer = Trainer(cfg, data, history_budget=history_budget)
        except ValueError as exc:
            raise SnapshotError(f"config: cannot build the network: {exc}") from None
        net = trainer.network
        if net.sizes != list(self.sizes) or net.n_params != self.n_params:
            raise SnapshotError(f"network.sizes: the config builds {net.sizes} "
                                f"({net.n_params} parameters), the file has {self.sizes}")
        opt_keys = set(trainer.optimizer.state_dict()) - {"t"}
        if opt_keys != set(self.resume["optimizer"]) - {"t"}:
            raise SnapshotError(f"resume.optimizer.state: {cfg.optimizer} keeps "
                                f"{sorted(opt_keys)}, the file has {sorted(set(self.resume['optimizer']) - {'t'})}")
        return trainer.load_state_dict(self.resume, self.history())


def schema() -> dict:
    """The JSON Schema of format v1 (read from the package folder)."""
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)


def loads(raw, max_bytes=DEFAULT_MAX_BYTES) -> Snapshot:
    """Parse and validate the bytes of a ``.json`` or ``.json.gz`` file (gzip is detected
    by its magic bytes). Raises :class:`SnapshotError` naming the problem."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise SnapshotError(f"expected the bytes of a file, got {type(raw).__name__}")
    raw = bytes(raw)
    size = len(raw)
    if size > max_bytes:
        raise SnapshotError(f"the file is {size_text(size)}; the limit is {size_text(max_bytes)}")
    compressed = raw[:2] == b"\x1f\x8b"
    if compressed:
        raw = _gunzip(raw, max_bytes)
    if len(raw) > 2**20 and FORMAT.encode() not in raw:     # before parsing a large junk file
        raise SnapshotError(f"not a training-state file: it never says \"format\": \"{FORMAT}\"")
    doc = parse_json(raw, max_bytes)
    snap = from_document(doc, max_bytes)
    snap.file_bytes, snap.compressed = size, compressed
    return snap


def load(source, max_bytes=DEFAULT_MAX_BYTES) -> Snapshot:
    """:func:`loads` on a path or a binary file object (read up to the limit only)."""
    if hasattr(source, "read"):
        raw = source.read(max_bytes + 1)
    else:
        try:
            with open(source, "rb") as f:
                raw = f.read(max_bytes + 1)
        except OSError as exc:
            raise SnapshotError(f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise SnapshotError(f"the file is larger than the limit of {size_text(max_bytes)}")
    return loads(raw, max_bytes)


def load_trainer(source, max_bytes=DEFAULT_MAX_BYTES, **kw) -> Trainer:
    """Load a file (path, file object or bytes) into a new :class:`Trainer`."""
    snap = loads(source, max_bytes) if isinstance(source, (bytes, bytearray)) else load(source, max_bytes)
    return snap.to_trainer(**kw)


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


# -- validation -----------------------------------------------------------------------------
def from_document(doc, max_bytes=DEFAULT_MAX_BYTES) -> Snapshot:
    """Validate a parsed document and decode its arrays; never partially."""
    try:
        return _Reader(doc, max_bytes).read()
    except SnapshotError:
        raise
    except RecursionError:
        raise SnapshotError("the document is nested too deeply") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise SnapshotError(f"invalid training state: {exc}") from None


class _Reader:
    def __init__(self, doc, max_bytes):
        self.doc, self.max_bytes = doc, max_bytes

    def read(self) -> Snapshot:
        doc = _obj(self.doc, "document")
        if "format" not in doc:
            keys = ", ".join(_short(k, 24) for k in list(doc)[:6]) or "none"
            raise SnapshotError(f"not a training-state file: it has no \"format\": \"{FORMAT}\" "
                                f"(its top-level keys: {keys}{', ...' if len(doc) > 6 else ''})")
        fmt = _get(doc, "format", "", str)
        if fmt != FORMAT:
            raise SnapshotError(f"format: expected {FORMAT!r}, got {fmt!r}")
        version = _get(doc, "version", "", int)
        if version != VERSION:
            newer = " (written by a newer nncore?)" if isinstance(version, int) and version > VERSION else ""
            raise SnapshotError(f"version: this nncore reads version {VERSION}, got {version!r}{newer}")
        encoding = _opt(doc, "encoding", "", str, "compact")
        created = _opt(doc, "created", "", str, None)
        cfg = self._config(_get(doc, "config", "", dict))
        out_doc = doc.get("output_neurons")
        target = out_doc.get("target") if isinstance(out_doc, dict) else None
        sizes, acts, biases = self._network(_get(doc, "network", "", dict), cfg, target)
        self.dtype = np.dtype(cfg.dtype)
        self.layout = _layout(sizes, biases)
        self.n_params = self.layout[-1][1].stop if self.layout[-1][1] else self.layout[-1][0].stop
        inp = _get(doc, "input_neurons", "", dict)
        out = _get(doc, "output_neurons", "", dict)
        self._neurons(inp, out, sizes)
        dmeta = _get(doc, "data", "", dict)
        fp = _get(dmeta, "fingerprint", "data", str)
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", fp):
            raise SnapshotError(f"data.fingerprint: expected 'sha256:' and 64 hex digits, got {fp[:80]!r}")
        n_train = _count(_get(dmeta, "n_train", "data", int), "data.n_train")
        n_test = _count(_get(dmeta, "n_test", "data", int), "data.n_test")
        data_name = _opt(dmeta, "name", "data", str, cfg.dataset)
        export = _opt(doc, "export", "", dict, {})

        resume_doc = _get(doc, "resume", "", dict)
        epoch = _count(_get(resume_doc, "epoch", "resume", int), "resume.epoch")
        records = self._records(_get(doc, "records", "", list), epoch, len(sizes) - 1)
        states_doc = _get(doc, "training_states", "", list)
        if not states_doc:
            raise SnapshotError("training_states: needs at least one entry (the latest epoch)")
        if len(states_doc) > epoch + 1:
            raise SnapshotError(f"training_states: {len(states_doc)} entries for epochs 0..{epoch}")
        opt_doc = _get(resume_doc, "optimizer", "resume", dict)
        opt_state_doc = _get(opt_doc, "state", "resume.optimizer", dict)
        n_arrays = len(states_doc) + 2 + len(opt_state_doc)
        need = n_arrays * self.n_params * self.dtype.itemsize
        if need > self.max_bytes:
            raise SnapshotError(f"training_states: {len(states_doc)} states of {self.n_params:,} parameters "
                                f"need {size_text(need)} in memory; the limit is {size_text(self.max_bytes)}")

        self.payloads = self._predecode(states_doc, resume_doc, opt_state_doc, sizes, biases)
        probe_doc = _get(doc, "probe", "", dict)
        probe_in = self._array(_get(probe_doc, "input", "probe", (list, dict)), "probe.input",
                               (sizes[0],), finite=False)
        probe_t = self._array(_get(probe_doc, "target", "probe", (list, dict)), "probe.target",
                              (sizes[-1],), finite=False)
        probe_src = _opt(probe_doc, "source", "probe", str, "")
        states = self._states(states_doc, sizes, biases, records, epoch)
        resume = self._resume(resume_doc, opt_doc, opt_state_doc, cfg, epoch, records)
        return Snapshot(cfg, sizes, acts, biases, inp, out, data_name, fp, n_train, n_test,
                        probe_in, probe_t, _text(probe_src, "probe.source"), states, records, resume,
                        _text(encoding, "encoding"), created and _text(created, "created"), export)

    # -- parts ----------------------------------------------------------------------------
    def _config(self, d):
        missing = [k for k in V1_CONFIG_FIELDS if k not in d]
        if missing:
            raise SnapshotError(f"config.{missing[0]}: missing" + (
                f" (and {', '.join(missing[1:])})" if len(missing) > 1 else ""))
        for key in ("dataset", "init", "loss", "optimizer", "batch", "dtype"):
            _check_type(d[key], str, f"config.{key}")
        _check_type(d["dataset_options"], dict, "config.dataset_options")
        acts = _check_type(d["activations"], (list, type(None)), "config.activations")
        for i, a in enumerate(acts or []):
            _check_type(a, str, f"config.activations[{i}]")
        try:
            return RunConfig.from_dict(dict(d))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SnapshotError(f"config: {exc}") from None

    def _network(self, d, cfg, target=None):
        sizes = _get(d, "sizes", "network", list)
        if len(sizes) < 2 or not all(_is_int(s) and 0 < s <= 10_000_000 for s in sizes):
            raise SnapshotError(f"network.sizes: expected at least 2 positive whole numbers, got {_short(sizes)}")
        if sizes[1:-1] != cfg.hidden:
            raise SnapshotError(f"network.sizes: hidden layers {sizes[1:-1]} differ from config.hidden {cfg.hidden}")
        acts = _get(d, "activations", "network", list)
        want = cfg.layer_activations(sizes[-1], target)
        if acts != want:
            raise SnapshotError(f"network.activations: expected {want} (from the config), got {_short(acts)}")
        biases = _get(d, "biases", "network", list)
        if biases != [cfg.biases] * (len(sizes) - 1):
            raise SnapshotError(f"network.biases: expected {[cfg.biases] * (len(sizes) - 1)} "
                                f"(from config.biases), got {_short(biases)}")
        dtype = _opt(d, "dtype", "network", str, cfg.dtype)
        if dtype != cfg.dtype:
            raise SnapshotError(f"network.dtype: {dtype!r} differs from config.dtype {cfg.dtype!r}")
        n = count_params(sizes, biases)
        if "n_params" in d and d["n_params"] != n:
            raise SnapshotError(f"network.n_params: the sizes give {n}, got {_short(d['n_params'])}")
        return sizes, acts, biases

    def _neurons(self, inp, out, sizes):
        if _get(inp, "size", "input_neurons", int) != sizes[0]:
            raise SnapshotError(f"input_neurons.size: expected {sizes[0]} (network.sizes[0]), got {inp['size']}")
        if _get(out, "size", "output_neurons", int) != sizes[-1]:
            raise SnapshotError(f"output_neurons.size: expected {sizes[-1]} (network.sizes[-1]), got {out['size']}")
        names = _opt(out, "names", "output_neurons", list, [])
        if names and (len(names) != sizes[-1] or not all(isinstance(n, str) for n in names)):
            raise SnapshotError(f"output_neurons.names: expected {sizes[-1]} names, got {_short(names)}")
        out["names"] = [_text(n, f"output_neurons.names[{i}]") for i, n in enumerate(names)]
        shape = _opt(inp, "image_shape", "input_neurons", (list, type(None)), None)
        if shape is not None and (len(shape) != 2 or not all(_is_int(s) and s > 0 for s in shape)
                                  or shape[0] * shape[1] != sizes[0]):
            raise SnapshotError(f"input_neurons.image_shape: expected [height, width] with "
                                f"height x width = {sizes[0]}, got {_short(shape)}")

    def _records(self, recs, epoch, n_layers):
        if len(recs) != epoch + 1:
            raise SnapshotError(f"records: expected {epoch + 1} entries (epochs 0..{epoch}), got {len(recs)}")
        return [self._record(r, f"records[{i}]", i, n_layers) for i, r in enumerate(recs)]

    def _record(self, r, path, epoch, n_layers):
        r = _obj(r, path)
        e = _get(r, "epoch", path, int)
        if e != epoch:
            raise SnapshotError(f"{path}.epoch: expected {epoch}, got {e}")
        out = {"epoch": e, "iterations": _count(_get(r, "iterations", path, int), f"{path}.iterations")}
        for k in RECORD_FLOATS:
            out[k] = _metric(r, k, path)
        for k in ("weight_norms", "grad_norms"):
            vals = _get(r, k, path, list)
            if len(vals) != n_layers:
                raise SnapshotError(f"{path}.{k}: expected {n_layers} values (one per layer), got {len(vals)}")
            out[k] = [_metric(vals, i, f"{path}.{k}") for i in range(n_layers)]
        names = {f.name for f in fields(EpochRecord)}
        return EpochRecord(**{k: v for k, v in out.items() if k in names})

    def _states(self, states_doc, sizes, biases, records, epoch):
        out, prev, last = [], {}, -1
        for i, s in enumerate(states_doc):
            path = f"training_states[{i}]"
            s = _obj(s, path)
            e = _get(s, "epoch", path, int)
            if not last < e <= epoch:
                raise SnapshotError(f"{path}.epoch: expected epochs in increasing order within 0..{epoch}, "
                                    f"got {e} after {last}")
            last = e
            metrics = _get(s, "metrics", path, dict)
            self._record(metrics, f"{path}.metrics", e, len(sizes) - 1)
            layers = _get(s, "layers", path, list)
            if len(layers) != len(sizes) - 1:
                raise SnapshotError(f"{path}.layers: expected {len(sizes) - 1} layers, got {len(layers)}")
            flat = np.empty(self.n_params, self.dtype)
            cur = {}
            for j, (layer, (ws, bs)) in enumerate(zip(layers, self.layout)):
                lp = f"{path}.layers[{j}]"
                layer = _obj(layer, lp)
                W = self._array(_get(layer, "weights", lp, (list, dict)), f"{lp}.weights",
                                (sizes[j], sizes[j + 1]), prev.get(("weights", j)), cur, ("weights", j))
                flat[ws] = W.reshape(-1)
                if biases[j]:
                    b = self._array(_get(layer, "biases", lp, (list, dict)), f"{lp}.biases",
                                    (sizes[j + 1],), prev.get(("biases", j)), cur, ("biases", j))
                    flat[bs] = b
                elif layer.get("biases") is not None:
                    raise SnapshotError(f"{lp}.biases: this layer has no biases (config.biases is false), "
                                        "expected null")
            prev = cur
            probe = []
            probe_doc = _get(s, "probe", path, list)
            if len(probe_doc) != len(sizes) - 1:
                raise SnapshotError(f"{path}.probe: expected {len(sizes) - 1} layers, got {len(probe_doc)}")
            for j, p in enumerate(probe_doc):
                pp = f"{path}.probe[{j}]"
                p = _obj(p, pp)
                probe.append(tuple(self._array(_get(p, k, pp, (list, dict)), f"{pp}.{k}", (sizes[j + 1],),
                                               finite=False) for k in ("sum", "activation")))
            out.append({"epoch": e, "record": records[e], "params": flat, "probe": probe})
        return out

    def _resume(self, d, opt_doc, state_doc, cfg, epoch, records):
        iterations = _count(_get(d, "iterations", "resume", int), "resume.iterations")
        stop = _opt(d, "stop_reason", "resume", (str, type(None)), None)
        if stop is not None:
            stop = _text(stop, "resume.stop_reason")[:2000]
        params = self._array(_get(d, "params", "resume", (list, dict)), "resume.params", (self.n_params,))
        grads = self._array(_opt(d, "grads", "resume", (list, dict), None), "resume.grads",
                            (self.n_params,), finite=False) if d.get("grads") is not None \
            else np.zeros(self.n_params, self.dtype)
        name = _get(opt_doc, "name", "resume.optimizer", str)
        if name != cfg.optimizer:
            raise SnapshotError(f"resume.optimizer.name: expected {cfg.optimizer!r} (config.optimizer), got {name!r}")
        t = _count(_get(opt_doc, "t", "resume.optimizer", int), "resume.optimizer.t")
        keys = sorted(set(make_optimizer(cfg.optimizer, 1, cfg.dtype).state_dict()) - {"t"})
        if sorted(state_doc) != keys:
            raise SnapshotError(f"resume.optimizer.state: {cfg.optimizer} keeps {keys or 'no arrays'}, "
                                f"got {sorted(state_doc) or 'none'}")
        opt = {"t": t}
        for k in keys:
            opt[k] = self._array(state_doc[k], f"resume.optimizer.state.{k}", (self.n_params,))
        rng = self._rng(_get(d, "rng", "resume", dict))
        return {"epoch": epoch, "iterations": iterations, "stop_reason": stop, "params": params,
                "grads": grads, "optimizer": opt, "rng": rng,
                "records": records}

    def _rng(self, d):
        name = _get(d, "bit_generator", "resume.rng", str)
        if name != "PCG64":
            raise SnapshotError(f"resume.rng.bit_generator: expected 'PCG64', got {name!r}")
        st = _get(d, "state", "resume.rng", dict)
        state = {k: _big(_get(st, k, "resume.rng.state", str), f"resume.rng.state.{k}", 128)
                 for k in ("state", "inc")}
        if state["inc"] % 2 == 0:
            raise SnapshotError(f"resume.rng.state.inc: a PCG64 increment is odd, got {state['inc']}")
        has = _get(d, "has_uint32", "resume.rng", int)
        if has not in (0, 1):
            raise SnapshotError(f"resume.rng.has_uint32: expected 0 or 1, got {has}")
        uint = _big(_get(d, "uinteger", "resume.rng", str), "resume.rng.uinteger", 32)
        return {"bit_generator": "PCG64", "state": state, "has_uint32": has, "uinteger": uint}

    # -- arrays ---------------------------------------------------------------------------
    def _predecode(self, states_doc, resume_doc, opt_state_doc, sizes, biases):
        """Inflate the large compact arrays on two threads (zlib and numpy release the
        GIL); {id(array object): payload or the SnapshotError it raised}. Anything
        malformed is left to the sequential pass, which names it in document order."""
        jobs = []
        def add(d, path, shape):
            if isinstance(d, dict) and "zlib" in (d.get("filters") or ()):
                jobs.append((d, path, shape))
        for i, s in enumerate(states_doc):
            layers = s.get("layers") if isinstance(s, dict) else None
            if not isinstance(layers, list) or len(layers) != len(sizes) - 1:
                continue
            for j, layer in enumerate(layers):
                if isinstance(layer, dict):
                    lp = f"training_states[{i}].layers[{j}]"
                    add(layer.get("weights"), f"{lp}.weights", (sizes[j], sizes[j + 1]))
                    if biases[j]:
                        add(layer.get("biases"), f"{lp}.biases", (sizes[j + 1],))
        for key in ("params", "grads"):
            add(resume_doc.get(key), f"resume.{key}", (self.n_params,))
        for key, d in opt_state_doc.items():
            add(d, f"resume.optimizer.state.{key}", (self.n_params,))
        if not jobs:
            return {}

        def run(job):
            try:
                return _payload(*job)
            except SnapshotError as exc:
                return exc
        if sum(self.n_params for _ in jobs) < 200_000:
            results = [run(j) for j in jobs]
        else:
            with ThreadPoolExecutor(2) as pool:
                results = list(pool.map(run, jobs))
        return {id(j[0]): r for j, r in zip(jobs, results)}

    def _array(self, value, path, shape, prev=None, cur=None, key=None, finite=True):
        """Decode one array (nested lists or a compact object) of exactly ``shape``."""
        if isinstance(value, dict):
            pre = self.payloads.pop(id(value), None)
            if isinstance(pre, SnapshotError):
                raise pre
            raw = _compact(value, path, shape, prev, pre)
            if cur is not None:
                cur[key] = raw
            arr = raw
        elif isinstance(value, list):
            arr = _readable(value, path, shape)
            if cur is not None:
                with np.errstate(over="ignore", invalid="ignore"):
                    cur[key] = arr.astype(self.dtype)
        else:
            raise SnapshotError(f"{path}: expected an array (nested lists or a compact object), got {_kind(value)}")
        with np.errstate(over="ignore", invalid="ignore"):
            arr = arr.astype(self.dtype)
        if finite and not np.all(np.isfinite(arr)):
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            raise SnapshotError(f"{path}: {bad} of {arr.size} values are NaN, infinite or out of "
                                f"{self.dtype.name} range")
        return arr


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
    if arr.dtype.kind == "b":
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


def _list_shape(v):
    out = []
    while isinstance(v, list):
        out.append(len(v))
        v = v[0] if v else None
    return out


def _layout(sizes, biases):
    out, off = [], 0
    for i, o, b in zip(sizes, sizes[1:], biases):
        ws = slice(off, off + i * o)
        bs = slice(ws.stop, ws.stop + o) if b else None
        out.append((ws, bs))
        off = bs.stop if b else ws.stop
    return out


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
    return _CONTROL.sub(" ", s)


def _short(v, limit=80):
    text = json.dumps(v, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _fmt(v):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4g}"


def size_text(n) -> str:
    """A byte count for people: '340 KB', '1.5 MB', '20 MB' (MB from a tenth of one up)."""
    v, unit = (n / 2**20, "MB") if n >= 0.1 * 2**20 else (n / 1024, "KB")
    return f"{v:,.1f}".removesuffix(".0") + " " + unit


def _epoch_list(epochs):
    if len(epochs) <= 8:
        return ", ".join(map(str, epochs))
    return ", ".join(map(str, epochs[:3])) + ", ..., " + ", ".join(map(str, epochs[-2:]))
