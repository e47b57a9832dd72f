"""The reader: a parsed document validated and decoded into a :class:`Snapshot`."""
from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields

import numpy as np

from ..config import RunConfig, _is_int
from ..conv import shape_text
from ..datasets import PATH_OPTIONS, get_spec
from ..network import count_params, parse_spec
from ..optimizers import make_optimizer
from ..text import size_text
from ..trainer import EpochRecord, Trainer, load_run_data
from . import consistency
from .codec import _compact, _payload, _readable
from .export import data_fingerprint
from .format import (
    DEFAULT_MAX_BYTES,
    FORMAT,
    RECORD_FLOATS,
    SCHEMA_PATH,
    SCHEMA_V2_PATH,
    V1_CONFIG_FIELDS,
    VERSION,
    VERSIONS,
    SnapshotError,
    _big,
    _check_type,
    _count,
    _epoch_list,
    _fmt,
    _get,
    _kind,
    _metric,
    _obj,
    _opt,
    _short,
    _text,
)
from .guards import _gunzip, parse_json
from .layers import input_size, layer_table, layout, output_sizes


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
    version: int = VERSION

    @property
    def epoch(self) -> int:
        return self.resume["epoch"]

    @property
    def n_in(self) -> int:
        """Input values per sample (``network.sizes[0]``, or C·H·W of an image input)."""
        return int(self.input_neurons["size"])

    @property
    def n_out(self) -> int:
        return int(self.output_neurons["size"])

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
            f"training state v{self.version} ({kind}{size})",
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
        if data.n_in != self.n_in:
            raise SnapshotError(f"input_neurons.size: the file's network takes {self.n_in} inputs "
                                f"but the dataset {cfg.dataset!r} has {data.n_in}")
        if data.n_out != self.n_out:
            raise SnapshotError(f"output_neurons.size: the file's network has {self.n_out} outputs "
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


def schema(version=VERSION) -> dict:
    """The JSON Schema of format ``version`` (1: dense networks, 2: with conv layers), read
    from the package folder."""
    if version not in VERSIONS:
        raise ValueError(f"no schema for version {version!r}; versions: {VERSIONS}")
    with open(SCHEMA_PATH if version == 1 else SCHEMA_V2_PATH, encoding="utf-8") as f:
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
        if version not in VERSIONS:
            newer = " (written by a newer nncore?)" if isinstance(version, int) and version > VERSIONS[-1] else ""
            raise SnapshotError(f"version: this nncore reads versions {', '.join(map(str, VERSIONS))}, "
                                f"got {version!r}{newer}")
        self.version = version
        encoding = _opt(doc, "encoding", "", str, "compact")
        created = _opt(doc, "created", "", str, None)
        cfg = self._config(_get(doc, "config", "", dict))
        out_doc = doc.get("output_neurons")
        target = out_doc.get("target") if isinstance(out_doc, dict) else None
        sizes, acts, biases = self._network(_get(doc, "network", "", dict), cfg, target)
        self.dtype = np.dtype(cfg.dtype)
        self.layout = _layout(sizes, biases) if version == 1 else layout(sizes, biases)
        self.out_sizes = sizes[1:] if version == 1 else output_sizes(sizes)
        self.n_in = sizes[0] if version == 1 else input_size(sizes)
        self.n_params = self.layout[-1][1].stop if self.layout[-1][1] else self.layout[-1][0].stop
        inp = _get(doc, "input_neurons", "", dict)
        out = _get(doc, "output_neurons", "", dict)
        self._neurons(inp, out, [self.n_in, *self.out_sizes])
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
        records = self._records(_get(doc, "records", "", list), epoch, len(self.layout))
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
                               (self.n_in,), finite=False)
        probe_t = self._array(_get(probe_doc, "target", "probe", (list, dict)), "probe.target",
                              (sizes[-1],), finite=False)
        probe_src = _opt(probe_doc, "source", "probe", str, "")
        states = self._states(states_doc, sizes, biases, records, epoch)
        resume = self._resume(resume_doc, opt_doc, opt_state_doc, cfg, epoch, records)
        consistency.check_latest_state(states, resume)
        consistency.check_optimizer_state(resume, cfg.optimizer)
        return Snapshot(cfg, sizes, acts, biases, inp, out, data_name, fp, n_train, n_test,
                        probe_in, probe_t, _text(probe_src, "probe.source"), states, records, resume,
                        _text(encoding, "encoding"), created and _text(created, "created"), export,
                        version=version)

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
        if self.version > 1:
            sizes = _conv_sizes(sizes)
        elif len(sizes) < 2 or not all(_is_int(s) and 0 < s <= 10_000_000 for s in sizes):
            raise SnapshotError(f"network.sizes: expected at least 2 positive whole numbers, got {_short(sizes)}")
        if sizes[1:-1] != cfg.hidden:
            raise SnapshotError(f"network.sizes: hidden layers {sizes[1:-1]} differ from config.hidden {cfg.hidden}")
        acts = _get(d, "activations", "network", list)
        want = cfg.layer_activations(sizes[-1], target)
        if acts != want:
            raise SnapshotError(f"network.activations: expected {want} (from the config), got {_short(acts)}")
        biases = _get(d, "biases", "network", list)
        n_weighted = len(want)
        if biases != [cfg.biases] * n_weighted:
            raise SnapshotError(f"network.biases: expected {[cfg.biases] * n_weighted} "
                                f"(from config.biases), got {_short(biases)}")
        dtype = _opt(d, "dtype", "network", str, cfg.dtype)
        if dtype != cfg.dtype:
            raise SnapshotError(f"network.dtype: {dtype!r} differs from config.dtype {cfg.dtype!r}")
        n = count_params(sizes, biases)
        if "n_params" in d and d["n_params"] != n:
            raise SnapshotError(f"network.n_params: the sizes give {n}, got {_short(d['n_params'])}")
        if self.version > 1 and _get(d, "layers", "network", list) != layer_table(sizes, acts, biases):
            raise SnapshotError(f"network.layers: expected {_short(layer_table(sizes, acts, biases))} "
                                f"(from network.sizes), got {_short(d['layers'])}")
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
        consistency.check_record_values(out, path)
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
            consistency.check_state_metrics(self._record(metrics, f"{path}.metrics", e, len(self.layout)),
                                            records[e], path, f"records[{e}]")
            layers = _get(s, "layers", path, list)
            if len(layers) != len(self.layout):
                raise SnapshotError(f"{path}.layers: expected {len(self.layout)} layers, got {len(layers)}")
            flat = np.empty(self.n_params, self.dtype)
            cur = {}
            for j, (layer, (ws, bs, wshape, bshape)) in enumerate(zip(layers, self.layout)):
                lp = f"{path}.layers[{j}]"
                layer = _obj(layer, lp)
                W = self._array(_get(layer, "weights", lp, (list, dict)), f"{lp}.weights",
                                wshape, prev.get(("weights", j)), cur, ("weights", j))
                flat[ws] = W.reshape(-1)
                if biases[j]:
                    b = self._array(_get(layer, "biases", lp, (list, dict)), f"{lp}.biases",
                                    bshape, prev.get(("biases", j)), cur, ("biases", j))
                    flat[bs] = b
                elif layer.get("biases") is not None:
                    raise SnapshotError(f"{lp}.biases: this layer has no biases (config.biases is false), "
                                        "expected null")
            prev = cur
            probe = []
            probe_doc = _get(s, "probe", path, list)
            if len(probe_doc) != len(self.out_sizes):
                raise SnapshotError(f"{path}.probe: expected {len(self.out_sizes)} layers, got {len(probe_doc)}")
            for j, p in enumerate(probe_doc):
                pp = f"{path}.probe[{j}]"
                p = _obj(p, pp)
                probe.append(tuple(self._array(_get(p, k, pp, (list, dict)), f"{pp}.{k}", (self.out_sizes[j],),
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
            if not isinstance(layers, list) or len(layers) != len(self.layout):
                continue
            for j, (layer, (_, _, wshape, bshape)) in enumerate(zip(layers, self.layout)):
                if isinstance(layer, dict):
                    lp = f"training_states[{i}].layers[{j}]"
                    add(layer.get("weights"), f"{lp}.weights", wshape)
                    if biases[j]:
                        add(layer.get("biases"), f"{lp}.biases", bshape)
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


def _layout(sizes, biases):
    out, off = [], 0
    for i, o, b in zip(sizes, sizes[1:], biases):
        ws = slice(off, off + i * o)
        bs = slice(ws.stop, ws.stop + o) if b else None
        out.append((ws, bs, (i, o), (o,)))
        off = bs.stop if b else ws.stop
    return out


def _conv_sizes(sizes):
    """``network.sizes`` of a v2 document in canonical form; SnapshotError naming the problem."""
    if len(sizes) < 2 or not all(isinstance(s, str) or _is_int(s) for s in sizes):
        raise SnapshotError(f"network.sizes: expected an input shape 'CxHxW', layers (whole numbers, "
                            f"'conv K@RxR', 'pool P') and an output size, got {_short(sizes)}")
    try:
        n_in, shape, layers = parse_spec(sizes)
    except ValueError as exc:
        raise SnapshotError(f"network.sizes: {exc}") from None
    return [shape_text(shape) if shape is not None else n_in, *layers]


