"""Training-state snapshots: format, exact resume, export options, bad files, CLI."""
import base64
import copy
import gzip
import io
import json
import os
import zlib

import numpy as np
import pytest

from nncore import Trainer, snapshot
from nncore.cli import main
from nncore.presets import default_config
from nncore.snapshot import SnapshotError
from nncore.trainer import History


def moons(**kw):
    base = dict(dataset_options={"n_samples": 80}, hidden=[16, 8], epochs=100)
    return default_config("moons", **{**base, **kw})


def trained(cfg, epochs):
    tr = Trainer(cfg)
    tr.fit(epochs)
    assert tr.epoch == epochs
    return tr


def same_state(a, b):
    assert a.epoch == b.epoch and a.iterations == b.iterations
    assert a.network.params.dtype == b.network.params.dtype
    assert np.array_equal(a.network.params, b.network.params)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa.keys() == sb.keys() and sa["t"] == sb["t"]
    for k in sa:
        if k != "t":
            assert np.array_equal(sa[k], sb[k]), k


# -- exact resume -----------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "perturb"])
@pytest.mark.parametrize("batch", ["full", "mini", "online"])
def test_resume_equals_uninterrupted_run(optimizer, batch):
    cfg = moons(optimizer=optimizer, batch=batch, batch_size=16, dropout=0.2, l2=1e-4,
                lr=0.05 if optimizer != "adam" else 0.01, seed=3)
    straight = trained(cfg, 5)
    first = trained(cfg, 2)
    raw = snapshot.dumps(first)
    resumed = snapshot.loads(raw).to_trainer()
    assert resumed is not first
    resumed.fit(3)
    same_state(resumed, straight)
    assert [r.train_loss for r in resumed.records] == [r.train_loss for r in straight.records]


def test_resume_with_augmentation_and_dropout_on_images():
    cfg = default_config("mnist_sample", hidden=[12], dropout=0.25, batch_size=50,
                         dataset_options={"augment_shift": 2, "limit": 300, "test_fraction": 0.1})
    straight = trained(cfg, 3)
    first = trained(cfg, 1)
    resumed = snapshot.loads(snapshot.dumps(first, compress=True)).to_trainer()
    resumed.fit(2)
    same_state(resumed, straight)


def test_resume_float64_run_is_exact():
    cfg = moons(dtype="float64", optimizer="adam", seed=5)
    straight = trained(cfg, 4)
    first = trained(cfg, 2)
    doc = snapshot.to_document(first)
    assert doc["resume"]["params"]["dtype"] == "float64"
    assert doc["training_states"][-1]["layers"][0]["weights"]["dtype"] == "float64"
    resumed = snapshot.from_document(json.loads(json.dumps(doc))).to_trainer()
    resumed.fit(2)
    same_state(resumed, straight)


def test_loaded_run_replays_history_records_and_state():
    tr = trained(moons(), 6)
    back = snapshot.loads(snapshot.dumps(tr)).to_trainer()
    same_state(back, tr)
    assert back.history.epochs == tr.history.epochs == list(range(7))
    for e in tr.history.epochs:
        assert np.array_equal(back.history.weights[e], tr.history.weights[e])
    assert [r.to_dict() for r in back.records] == [r.to_dict() for r in tr.records]
    assert back.config == tr.config
    assert np.array_equal(back.history.grads[6], tr.network.grads)   # latest gradients kept
    assert 3 not in back.history.grads                                 # older ones are not stored
    (W, _b), kept = back.weights_at(3)[0][0], back.weights_at(3)[1]
    assert kept == 3 and np.array_equal(W, tr.weights_at(3)[0][0][0])


def test_readable_round_trip_within_float32_rounding_and_resumes_exactly():
    cfg = moons(seed=2)
    tr = trained(cfg, 3)
    raw = snapshot.dumps(tr, readable=True)
    doc = json.loads(raw)
    assert doc["encoding"] == "readable"
    W = doc["training_states"][1]["layers"][0]["weights"]
    assert isinstance(W, list) and len(W) == 2 and len(W[0]) == 16
    assert np.allclose(np.array(W, np.float32), tr.history.weights[1][:32].reshape(2, 16), rtol=6e-8, atol=0)
    back = snapshot.loads(raw).to_trainer()
    for e in tr.history.epochs:
        assert np.allclose(back.history.weights[e], tr.history.weights[e], rtol=6e-8, atol=1e-30)
    back.fit(2)
    same_state(back, trained(cfg, 5))
    # to_document(readable=True) gives plain nested lists too
    d2 = snapshot.to_document(tr, readable=True)
    assert isinstance(d2["probe"]["input"], list)
    assert snapshot.from_document(d2).epoch == 3


def test_trainer_state_dict_round_trip():
    tr = trained(moons(optimizer="momentum"), 2)
    state = tr.state_dict()
    assert set(state) >= {"epoch", "iterations", "params", "optimizer", "rng", "records", "stop_reason"}
    other = Trainer(tr.config).load_state_dict(copy.deepcopy(state), dict(tr.history.weights))
    same_state(other, tr)
    h = History()
    h.add(0, np.zeros(3))
    h.add(1, np.ones(3), np.ones(3))
    h.truncate(0)
    assert h.epochs == [0] and h.grads == {}


# -- the document ---------------------------------------------------------------------------------
def test_document_contents():
    tr = trained(moons(), 3)
    doc = json.loads(snapshot.dumps(tr))
    assert doc["format"] == "nncore.training-state" and doc["version"] == 1
    assert doc["config"] == tr.config.to_dict()
    assert doc["input_neurons"]["size"] == 2 and doc["output_neurons"]["size"] == 2
    assert doc["output_neurons"]["names"] == tr.data.class_names
    assert doc["network"]["sizes"] == [2, 16, 8, 2]
    assert doc["data"]["fingerprint"] == snapshot.data_fingerprint(tr.data)
    assert [s["epoch"] for s in doc["training_states"]] == [0, 1, 2, 3]
    assert [r["epoch"] for r in doc["records"]] == [0, 1, 2, 3]
    assert doc["training_states"][2]["metrics"] == doc["records"][2]
    rng = doc["resume"]["rng"]
    assert rng["bit_generator"] == "PCG64"
    assert int(rng["state"]["state"]) == tr.rng.bit_generator.state["state"]["state"]
    assert isinstance(rng["state"]["inc"], str) and isinstance(rng["uinteger"], str)
    assert doc["resume"]["optimizer"]["name"] == "adam"
    assert sorted(doc["resume"]["optimizer"]["state"]) == ["m", "v"]
    assert doc["resume"]["optimizer"]["t"] == tr.optimizer.t
    # the probe: the first test sample's weighted sums and activations, at that epoch
    snap = snapshot.loads(json.dumps(doc))
    assert np.array_equal(snap.probe_input, tr.data.X_test[0])
    net = Trainer(tr.config).network
    net.params[...] = tr.history.weights[2]
    for (z, a), (pz, pa) in zip(net.layer_outputs(tr.data.X_test[:1]), snap.states[2]["probe"]):
        assert np.array_equal(z[0], pz) and np.array_equal(a[0], pa)


def test_compact_arrays_are_filtered_base64_and_decode_by_the_documented_rules():
    tr = trained(default_config("digits", hidden=[32], epochs=5), 2)
    doc = json.loads(snapshot.dumps(tr))
    w1, w2 = (doc["training_states"][i]["layers"][0]["weights"] for i in (1, 2))
    assert w1["filters"] == ["xor-previous", "shuffle", "zlib"] and w1["shape"] == [64, 32]
    # decode by hand, as a reader in another language would
    def planes(d):
        raw = zlib.decompress(base64.b64decode(d["base64"]))
        return np.frombuffer(raw, np.uint8).reshape(4, -1).T.copy().view("<u4").reshape(d["shape"])
    w0 = doc["training_states"][0]["layers"][0]["weights"]
    assert w0["filters"] == ["shuffle", "zlib"]
    u0 = planes(w0)
    u1 = planes(w1) ^ u0
    u2 = planes(w2) ^ u1
    assert np.array_equal(u2.view("<f4"), tr.history.weights[2][:64 * 32].reshape(64, 32))
    small = doc["training_states"][1]["probe"][0]["sum"]
    assert "filters" not in small and len(base64.b64decode(small["base64"])) == 32 * 4


def test_schema_file_is_in_the_package_and_describes_exports():
    assert os.path.dirname(snapshot.SCHEMA_PATH) == os.path.join(os.path.dirname(snapshot.__file__), "schema")
    sch = snapshot.schema()
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(sch)
    tr = trained(moons(biases=False, optimizer="momentum"), 3)
    for kw in ({}, {"readable": True}, {"epochs": "latest"}, {"epochs": 2}):
        jsonschema.validate(json.loads(snapshot.dumps(tr, **kw)), sch)
    bad = json.loads(snapshot.dumps(tr))
    bad["resume"]["rng"]["state"]["state"] = 12
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, sch)


# -- export options ---------------------------------------------------------------------------------
def test_export_choices_all_every_latest(tmp_path):
    tr = trained(moons(), 7)
    epochs = lambda raw: [s["epoch"] for s in json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)["training_states"]]
    assert epochs(snapshot.dumps(tr)) == list(range(8))
    assert epochs(snapshot.dumps(tr, epochs=3)) == [0, 3, 6, 7]
    assert epochs(snapshot.dumps(tr, epochs="latest")) == [7]
    assert epochs(snapshot.dumps(tr, epochs="latest", readable=True, compress=True)) == [7]
    for bad in (0, -2, "some", 1.5):
        with pytest.raises(ValueError, match="epochs must be"):
            snapshot.dumps(tr, epochs=bad)
    # thinned exports still load, with all the curves; the epochs the file left out are
    # counted as such, not as thinned by the memory budget
    back = snapshot.loads(snapshot.dumps(tr, epochs=3)).to_trainer()
    assert back.history.epochs == [0, 3, 6, 7] and back.history.not_stored == 4
    assert back.history.thinned == 0
    assert len(back.records) == 8
    # gzip by file name, atomic write, loads from a path and a file object
    n = snapshot.save(tr, tmp_path / "run.json.gz")
    data = (tmp_path / "run.json.gz").read_bytes()
    assert n == len(data) and data[:2] == b"\x1f\x8b"
    assert len(data) < len(snapshot.dumps(tr))
    assert os.listdir(tmp_path) == ["run.json.gz"]
    assert snapshot.load(tmp_path / "run.json.gz").epoch == 7
    assert snapshot.load(io.BytesIO(data)).epoch == 7
    assert snapshot.load_trainer(str(tmp_path / "run.json.gz")).epoch == 7
    assert snapshot.default_filename(tr, compress=True) == "moons-2-16-8-2-epoch7.json.gz"


def test_export_of_a_history_thinned_by_its_budget():
    tr = Trainer(moons(), history_budget=202 * 4 * 2 * 5)   # room for about 5 epochs
    tr.fit(12)
    assert tr.history.thinned > 0
    snap = snapshot.loads(snapshot.dumps(tr))
    assert [s["epoch"] for s in snap.states] == tr.history.epochs
    assert snap.export["history_thinned"] == tr.history.thinned
    back = snap.to_trainer()
    assert back.history.epochs == tr.history.epochs and len(back.records) == 13


def test_nan_metrics_become_null_and_load_back():
    cfg = moons(dataset_options={"n_samples": 80, "test_fraction": 0.0})
    tr = trained(cfg, 2)
    assert np.isnan(tr.records[-1].test_loss)
    raw = snapshot.dumps(tr)
    assert b"NaN" not in raw
    doc = json.loads(raw)
    assert doc["records"][-1]["test_loss"] is None and doc["probe"]["source"] == "train[0]"
    back = snapshot.loads(raw).to_trainer()
    assert np.isnan(back.records[-1].test_loss)


def test_diverged_run_keeps_its_reason():
    cfg = moons(activations=["relu", "relu", "linear"], loss="mse", optimizer="sgd", lr=60.0)
    tr = Trainer(cfg)
    tr.fit(30)
    assert tr.stop_reason
    back = snapshot.loads(snapshot.dumps(tr)).to_trainer()
    assert back.stop_reason == tr.stop_reason and back.done
    same_state(back, tr)


def test_uses_given_data_only_when_it_matches():
    tr = trained(moons(), 2)
    raw = snapshot.dumps(tr)
    assert snapshot.loads(raw).to_trainer(data=tr.data).data is tr.data
    other = Trainer(moons(seed=9)).data
    back = snapshot.loads(raw).to_trainer(data=other)
    assert back.data is not other and snapshot.data_fingerprint(back.data) == snapshot.data_fingerprint(tr.data)
    f64 = Trainer(moons(dtype="float64")).data
    x_before = f64.X_train
    snapshot.loads(raw).to_trainer(data=f64)
    assert f64.X_train is x_before and f64.X_train.dtype == np.float64   # never converted in place


# -- bad files -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good():
    """A small valid run (no-bias last layer? no: all biases) and its compact document."""
    tr = trained(moons(optimizer="adam"), 3)
    return tr, json.loads(snapshot.dumps(tr))


def _raises(raw, *needles, **kw):
    with pytest.raises(SnapshotError) as info:
        snapshot.loads(raw, **kw).to_trainer()
    msg = str(info.value)
    for n in needles:
        assert n in msg, msg
    return msg


def _doc_bytes(doc):
    return json.dumps(doc).encode()


@pytest.mark.parametrize("raw,needle", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"hello", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2, 3]", "must be a JSON object, got an array"),
    (b'"text"', "must be a JSON object, got text"),
    (b"\x1f\x8b\x08\x00broken", "not valid gzip"),
    (b"[" * 100_000, "nested"),
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested"),
    (b'{"a": "' + b"]" * 3000 + b'", "b": ' + b"[" * 100 + b"]" * 100 + b"}", "nested 101 levels"),
])
def test_not_a_training_state(raw, needle):
    _raises(raw, needle)


def test_truncated_files(good):
    tr, doc = good
    raw = _doc_bytes(doc)
    _raises(raw[: len(raw) // 2], "not valid JSON", "truncated")
    _raises(raw[:-1], "not valid JSON", "truncated")
    gz = gzip.compress(raw)
    _raises(gz[: len(gz) // 2], "not valid gzip", "truncated")


def test_size_limits_and_gzip_bomb(good):
    tr, doc = good
    raw = _doc_bytes(doc)
    _raises(raw, "the file is", "the limit is", max_bytes=1000)
    bomb = gzip.compress(b" " * (8 * 2**20))
    assert len(bomb) < 20_000
    _raises(bomb, "decompresses to more than the limit of 2 MB", max_bytes=2 * 2**20)
    _raises(b"[" + b"0," * 400_000 + b"0]", "values", max_bytes=2 * 2**20)
    _raises(b'{"a": [' + b"[]" * 300_000 + b"]}", "arrays and objects", max_bytes=2 * 2**20)


def _mutated(doc, fn):
    d = copy.deepcopy(doc)
    fn(d)
    return _doc_bytes(d)


def _set(path, value):
    def fn(d):
        *head, last = path
        for k in head:
            d = d[k]
        d[last] = value
    return fn


def _del(path):
    def fn(d):
        *head, last = path
        for k in head:
            d = d[k]
        del d[last]
    return fn


def _compact(arr, filters=None):
    a = np.ascontiguousarray(arr, "<f4")
    out = {"dtype": "float32", "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode()}
    if filters is not None:
        out["filters"] = filters
    return out


W1 = ["training_states", 1, "layers", 0, "weights"]


@pytest.mark.parametrize("change,needles", [
    (_set(["format"], "something.else"), ["format: expected 'nncore.training-state'"]),
    (_set(["version"], 3), ["version: this nncore reads versions 1, 2, got 3", "newer"]),
    (_set(["version"], 2), ["network.layers: missing"]),
    (_set(["version"], "1"), ["version: expected a whole number, got text"]),
    (_del(["resume"]), ["resume: missing"]),
    (_del(["training_states"]), ["training_states: missing"]),
    (_del(["config", "lr"]), ["config.lr: missing"]),
    (_set(["config", "lr"], -1), ["config: lr must be"]),
    (_set(["config", "hidden"], "16,8"), ["config: hidden must be"]),
    (_set(["config", "activations"], [["relu"], "relu", "softmax"]), ["config"]),
    (_del(["training_states", 2, "layers"]), ["training_states[2].layers: missing"]),
    (_del(["resume", "optimizer", "state", "m"]), ["resume.optimizer.state: adam keeps ['m', 'v']"]),
    (_set(["resume", "optimizer", "name"], "sgd"), ["resume.optimizer.name: expected 'adam'"]),
    (_set(["resume", "optimizer", "t"], -3), ["resume.optimizer.t"]),
    (_set(W1, _compact(np.zeros((16, 2)))), ["training_states[1].layers[0].weights: expected shape [2, 16], got [16, 2]"]),
    (_set(W1, np.zeros((16, 2)).tolist()), ["training_states[1].layers[0].weights: expected shape [2, 16], got [16, 2]"]),
    (_set(W1, [[0.0] * 16, [0.0] * 15]), ["training_states[1].layers[0].weights: not a rectangular array"]),
    (_set(W1, [["a"] * 16, ["b"] * 16]), ["layers[0].weights: expected numbers, found text"]),
    (_set(W1, [[True] * 16, [False] * 16]), ["layers[0].weights: expected numbers, found true/false"]),
    (_set(W1, [[{}] * 16, [None] * 16]), ["layers[0].weights: expected numbers, found an object"]),
    (_set(W1, [[None] * 16, [0.5] * 16]), ["layers[0].weights: 16 of 32 values are NaN"]),
    (_set(W1, [[1e300] * 16, [0.5] * 16]), ["layers[0].weights: 16 of 32 values are NaN, infinite or out of float32 range"]),
    (_set(W1, [[10 ** 400] * 16, [0.5] * 16]), ["layers[0].weights"]),
    (_set(W1, _compact(np.full((2, 16), np.nan))), ["training_states[1].layers[0].weights: 32 of 32 values are NaN"]),
    (_set(W1, {**_compact(np.zeros((2, 16))), "dtype": "int8"}), ["layers[0].weights.dtype: expected 'float32' or 'float64', got 'int8'"]),
    (_set(W1, {**_compact(np.zeros((2, 16))), "dtype": "float16"}), ["weights.dtype"]),
    (_set(W1, {**_compact(np.zeros((2, 16))), "base64": "!!!"}), ["weights.base64: not valid base64"]),
    (_set(W1, {**_compact(np.zeros((2, 8))), "shape": [2, 16]}), ["weights: 64 bytes of data for shape [2, 16] float32 (needs 128)"]),
    (_set(W1, _compact(np.zeros((2, 16)), ["zlib"])), ["weights.base64: the zlib data is corrupt"]),
    (_set(W1, _compact(np.zeros((2, 16)), ["gzip"])), ["weights.filters"]),
    (_set(W1, _compact(np.zeros((2, 16)), ["zlib", "shuffle"])), ["in that order"]),
    (_set(W1, {**_compact(np.zeros((2, 16))), "extra": 1}), ["unknown key(s) 'extra'"]),
    (_set(W1, 5), ["training_states[1].layers[0].weights: expected an array or an object, got a number"]),
    (_set(["training_states", 0, "layers", 0, "weights"], _compact(np.zeros((2, 16)), ["xor-previous"])),
     ["training_states[0].layers[0].weights.filters: 'xor-previous' needs the same array in the previous"]),
    (_set(["training_states", 1, "layers", 2, "biases"], None), ["training_states[1].layers[2].biases: expected an array or an object, got null"]),
    (_set(["training_states", 1, "epoch"], 0), ["training_states[1].epoch: expected epochs in increasing order"]),
    (_set(["training_states", 1, "metrics", "epoch"], 2), ["training_states[1].metrics.epoch: expected 1, got 2"]),
    (_set(["training_states", 1, "metrics", "train_loss"], float("inf")), ["training_states[1].metrics.train_loss: NaN and infinity are not allowed"]),
    (_set(["records", 2, "test_acc"], "high"), ["records[2].test_acc: expected a number or null, got text"]),
    (_set(["records", 2, "weight_norms"], [1.0]), ["records[2].weight_norms: expected 3 values"]),
    (_del(["records", 3]), ["records: expected 4 entries"]),
    (_set(["resume", "epoch"], 5), ["records: expected 6 entries"]),
    (_set(["resume", "rng", "bit_generator"], "MT19937"), ["resume.rng.bit_generator: expected 'PCG64'"]),
    (_set(["resume", "rng", "state", "state"], "12x"), ["resume.rng.state.state: expected a decimal string"]),
    (_set(["resume", "rng", "state", "inc"], str(2 ** 130)), ["resume.rng.state.inc", "below 2^128"]),
    (_set(["resume", "rng", "has_uint32"], 7), ["resume.rng.has_uint32: expected 0 or 1"]),
    (_set(["resume", "params"], _compact(np.full(201, 0.5))), ["resume.params: expected shape [202], got [201]"]),
    (_set(["network", "sizes"], [2, 16, 8, 3]), ["network.n_params: the sizes give 211, got 202"]),
    (lambda d: (_set(["network", "sizes"], [2, 16, 8, 3])(d), _del(["network", "n_params"])(d)),
     ["output_neurons.size: expected 3 (network.sizes[-1]), got 2"]),
    (_set(["network", "sizes"], [2, 16, 9, 2]), ["network.sizes: hidden layers [16, 9] differ from config.hidden [16, 8]"]),
    (_set(["network", "activations"], ["relu", "tanh", "softmax"]), ["network.activations: expected ['relu', 'relu', 'softmax']"]),
    (_set(["network", "biases"], [True, False, True]), ["network.biases"]),
    (_set(["network", "n_params"], 5), ["network.n_params: the sizes give 202"]),
    (_set(["input_neurons", "size"], 3), ["input_neurons.size: expected 2"]),
    (_set(["input_neurons", "image_shape"], [2, 2]), ["input_neurons.image_shape"]),
    (_set(["output_neurons", "names"], ["a"]), ["output_neurons.names: expected 2 names"]),
    (_set(["data", "fingerprint"], "md5:abc"), ["data.fingerprint: expected 'sha256:'"]),
    (_set(["data", "fingerprint"], "sha256:" + "0" * 64), ["data.fingerprint: the dataset 'moons' rebuilt here", "is not the data"]),
    (_set(["config", "dataset_options", "noise"], 0.3), ["data.fingerprint"]),
    (_set(["probe", "input"], [1.0, 2.0, 3.0]), ["probe.input: expected shape [2], got [3]"]),
    (_set(["training_states"], []), ["training_states: needs at least one entry"]),
    (_set(["resume", "stop_reason"], 12), ["resume.stop_reason: expected text or null, got a number"]),
])
def test_bad_fields_name_the_field(good, change, needles):
    tr, doc = good
    before = tr.network.params.copy(), tr.rng.bit_generator.state, tr.epoch
    _raises(_mutated(doc, change), *needles)
    assert np.array_equal(tr.network.params, before[0]) and tr.rng.bit_generator.state == before[1]
    assert tr.epoch == before[2]


def test_layer_sizes_that_do_not_match_the_dataset():
    xor = trained(default_config("xor", epochs=10), 2)
    doc = json.loads(snapshot.dumps(xor))
    doc["config"]["dataset"] = "xor3"        # 3 inputs, 1 output: the file's network takes 2
    doc["config"]["dataset_options"] = {}
    _raises(_doc_bytes(doc), "input_neurons.size: the file's network takes 2 inputs but the dataset 'xor3' has 3")
    m = trained(moons(), 1)
    doc = json.loads(snapshot.dumps(m))
    doc["config"]["dataset"] = "blobs"        # 3 classes by default
    doc["config"]["dataset_options"] = {"n_samples": 80}
    _raises(_doc_bytes(doc), "output_neurons.size: the file's network has 2 outputs but the dataset 'blobs' has 3")


def test_missing_dataset_is_a_clear_error():
    tr = trained(moons(), 1)
    doc = json.loads(snapshot.dumps(tr))
    doc["config"]["dataset"] = "mnist"
    doc["config"]["dataset_options"] = {"data_dir": "/nonexistent/mnist"}
    msg = _raises(_doc_bytes(doc), "config.dataset: cannot rebuild 'mnist' on this machine", "no IDX files")
    assert "/nonexistent/mnist" in msg
    snap = snapshot.from_document(doc)
    with pytest.raises(SnapshotError, match="reads local files"):
        snap.to_trainer(allow_paths=False)
    with pytest.raises(SnapshotError, match="does not read a data folder"):
        snapshot.loads(snapshot.dumps(tr)).to_trainer(data_dir="/tmp")


def test_enormous_declared_network_is_refused_before_allocating(good):
    tr, doc = good
    d = copy.deepcopy(doc)
    d["config"]["hidden"] = [100_000, 100_000]
    d["network"]["sizes"] = [2, 100_000, 100_000, 2]
    d["network"].pop("n_params")
    _raises(_doc_bytes(d), "in memory; the limit is")


def test_no_bias_layers_need_null_biases():
    tr = trained(moons(biases=False), 2)
    doc = json.loads(snapshot.dumps(tr))
    assert doc["training_states"][0]["layers"][0]["biases"] is None
    snapshot.loads(_doc_bytes(doc)).to_trainer()
    doc["training_states"][1]["layers"][0]["biases"] = [0.0] * 16
    _raises(_doc_bytes(doc), "training_states[1].layers[0].biases: this layer has no biases")


def test_only_snapshot_errors_for_hostile_inputs(good):
    _, doc = good
    raw = snapshot.dumps(good[0])
    for cut in range(0, len(raw), max(1, len(raw) // 40)):
        _raises(raw[:cut])
    with pytest.raises(SnapshotError):
        snapshot.loads(12)
    with pytest.raises(SnapshotError, match="cannot read the file"):
        snapshot.load("/nonexistent/file.json")


# -- CLI ------------------------------------------------------------------------------------------------
def test_cli_export_resume_validate(tmp_path, capsys):
    a, b, c = (str(tmp_path / n) for n in ("a.json", "b.json.gz", "c.json"))
    common = ["--dataset", "moons", "--hidden", "8", "--option", "n_samples=60", "--seed", "4"]
    assert main(["train", *common, "--epochs", "3", "--export", a]) == 0
    assert "saved the training state at epoch 3" in capsys.readouterr().out
    assert main(["train", "--resume", a, "--epochs", "2", "--export", b, "--every", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(l)["epoch"] for l in out.splitlines()] == [4, 5]
    assert "saved the training state at epoch 5" in err
    assert main(["train", *common, "--epochs", "5", "--export", c]) == 0
    capsys.readouterr()
    resumed, straight = snapshot.load(b), snapshot.load(c)
    assert np.array_equal(resumed.resume["params"], straight.resume["params"])
    assert [s["epoch"] for s in resumed.states] == [0, 2, 4, 5]
    assert main(["validate", b]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK: {b}: training state v1 (compact, gzip")
    assert "epochs trained: 5" in out and "data: moons rebuilt from the config matches" in out


def test_cli_readable_latest_and_bad_files(tmp_path, capsys):
    r = str(tmp_path / "r.json")
    assert main(["train", "--dataset", "xor", "--epochs", "4", "--export", r, "--readable", "--latest"]) == 0
    doc = json.loads(open(r).read())
    assert doc["encoding"] == "readable" and [s["epoch"] for s in doc["training_states"]] == [4]
    capsys.readouterr()
    bad = tmp_path / "bad.json"
    doc["training_states"][0]["layers"][0]["weights"] = [[1.0, 2.0]]
    bad.write_text(json.dumps(doc))
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("invalid: ") and "training_states[0].layers[0].weights: expected shape [2, 4], got [1, 2]" in err
    assert main(["validate", str(tmp_path / "missing.json")]) == 1
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 3000)
    assert main(["validate", str(big), "--max-mb", "0.001"]) == 1
    assert "limit" in capsys.readouterr().err
    doc = json.loads(open(r).read())
    doc["config"]["dataset"], doc["config"]["dataset_options"] = "mnist", {"data_dir": "/nonexistent"}
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(doc))
    assert main(["validate", str(elsewhere), "--no-data"]) == 0
    assert "data: not checked" in capsys.readouterr().out
    assert main(["validate", str(elsewhere)]) == 1
    assert "cannot load here: config.dataset: cannot rebuild 'mnist'" in capsys.readouterr().err


@pytest.mark.parametrize("args,needle", [
    (["--hidden", "4"], "--hidden cannot change it"),
    (["--dataset", "moons"], "--dataset cannot change it"),
    ([], "say how many more with --epochs N"),
    (["--epochs", "0"], "--epochs must be"),
])
def test_cli_resume_refuses_changes_to_the_run(tmp_path, capsys, args, needle):
    a = str(tmp_path / "a.json")
    assert main(["train", "--dataset", "xor", "--epochs", "2", "--export", a]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", a, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_cli_resume_soft_settings_and_bad_file(tmp_path, capsys):
    a = str(tmp_path / "a.json")
    assert main(["train", "--dataset", "moons", "--epochs", "2", "--export", a]) == 0
    assert main(["train", "--resume", a, "--epochs", "1", "--lr", "0.002", "--batch-size", "8",
                 "--export", a]) == 0
    snap = snapshot.load(a)
    assert snap.epoch == 3 and snap.config.lr == 0.002 and snap.config.batch_size == 8
    assert snap.records[3].lr == 0.002
    assert main(["train", "--resume", a, "--epochs", "2", "--lr-schedule", "exponential",
                 "--lr-decay", "0.5", "--export", a]) == 0
    snap = snapshot.load(a)
    assert snap.config.lr_schedule == "exponential" and snap.config.lr_decay == 0.5
    assert [r.lr for r in snap.records[4:]] == pytest.approx([0.002 * 0.5 ** 3, 0.002 * 0.5 ** 4])
    open(a, "w").write("{}")
    capsys.readouterr()
    assert main(["train", "--resume", a, "--epochs", "1"]) == 2
    assert "not a training-state file" in capsys.readouterr().err
    assert main(["train", "--dataset", "xor", "--epochs", "1", "--latest"]) == 2
    assert "need --export" in capsys.readouterr().err


# -- the Snapshots page (AppTest; the browser test covers download bytes) -----------------------
APP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dashboard", "app.py")


def _snapshots_page():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/snapshots.py")
    at.run()
    assert not at.exception
    return at


def _upload(at, name, raw):
    [up] = [u for u in at.get("file_uploader") if u.label == "Load training state"]
    up.set_value((name, raw, "application/json"))
    at.run()
    assert not at.exception


def test_page_loads_a_file_into_the_session_and_syncs_the_sidebar():
    at = _snapshots_page()
    labels = [r.label for r in at.radio]
    assert {"Epochs to include", "Arrays", "File"} <= set(labels)
    at.radio(key="snap_keep").set_value("Every k-th epoch").run()
    assert not at.exception and at.number_input(key="snap_k").value == 2
    src = trained(default_config("circles", hidden=[5, 3], epochs=20, seed=7), 4)
    _upload(at, "circles.json.gz", snapshot.dumps(src, compress=True))
    tr = at.session_state["trainer"]
    same_state(tr, src)
    assert tr is not src and tr.history.epochs == [0, 1, 2, 3, 4]
    assert any("Loaded **circles.json.gz**" in s.value for s in at.success)
    assert at.selectbox(key="sb_dataset").value == "circles"
    assert at.text_input(key="sb_hidden").value == "5, 3"
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Epoch"] == "4" and metrics["Train loss"] == f"{src.records[-1].train_loss:.4g}"
    at.button(key="btn_train_1").click().run()          # the loaded run trains on, exactly
    src.fit(1)
    same_state(at.session_state["trainer"], src)


def test_page_rejects_bad_files_and_keeps_the_run():
    at = _snapshots_page()
    before = at.session_state["trainer"]
    params = before.network.params.copy()
    src = trained(moons(), 2)
    raw = snapshot.dumps(src)
    doc = json.loads(raw)
    doc["training_states"][1]["layers"][1]["weights"] = {"dtype": "float32", "shape": [8, 16], "base64": ""}
    for name, data, needle in [("cut.json", raw[:-40], "truncated"),
                               ("shape.json", json.dumps(doc).encode(),
                                "training_states[1].layers[1].weights: expected shape [16, 8], got [8, 16]"),
                               ("image.json", b"\x89PNG\r\n\x1a\n", "not UTF-8")]:
        _upload(at, name, data)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and f"Could not load {name}" in errors[0] and needle in errors[0], errors
        assert "unchanged" in errors[0]
        assert at.session_state["trainer"] is before
    assert np.array_equal(before.network.params, params)


@pytest.mark.parametrize("schedule", ["exponential", "cosine"])
def test_resume_follows_the_learning_rate_schedule(schedule):
    cfg = moons(optimizer="adam", lr=0.02, lr_schedule=schedule, lr_decay=0.7, epochs=6, seed=2)
    straight = trained(cfg, 5)
    resumed = snapshot.loads(snapshot.dumps(trained(cfg, 2))).to_trainer()
    assert resumed.config.lr_schedule == schedule and resumed.config.lr_decay == 0.7
    resumed.fit(3)
    same_state(resumed, straight)
    assert [r.lr for r in resumed.records] == [r.lr for r in straight.records]


def test_files_without_a_schedule_load_as_constant():
    doc = json.loads(snapshot.dumps(trained(moons(), 1)))
    for key in ("lr_schedule", "lr_decay"):
        del doc["config"][key]
    snap = snapshot.loads(json.dumps(doc))
    assert snap.config.lr_schedule == "constant"
    doc["config"]["lr_schedule"] = "warmup"
    with pytest.raises(SnapshotError, match="lr_schedule must be one of"):
        snapshot.loads(json.dumps(doc))
