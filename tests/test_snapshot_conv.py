"""Training-state format v2: networks with conv and pool layers, in and out, exactly."""
import json
import subprocess
import sys

import numpy as np
import pytest

from nncore import RunConfig, Trainer, predict, snapshot

CONV = ["conv 4@3x3", "pool 2", 16]


def conv_run(epochs=2, **kw):
    cfg = RunConfig(dataset="digits", hidden=CONV, epochs=6, lr=0.01, **kw)
    tr = Trainer(cfg)
    tr.fit(epochs)
    return tr


@pytest.mark.parametrize("kw", [{}, {"readable": True}, {"compress": True}, {"epochs": "latest"}])
def test_export_import_and_resume_bit_for_bit(kw):
    tr = conv_run(dtype="float64" if kw.get("readable") else "float32")
    raw = snapshot.dumps(tr, **kw)
    snap = snapshot.loads(raw)
    assert snap.version == 2 and snap.sizes == ["1x8x8", *CONV, 10]
    assert (snap.n_in, snap.n_out) == (64, 10)
    back = snap.to_trainer()
    np.testing.assert_array_equal(back.network.params, tr.network.params)
    for e in snap.history():
        np.testing.assert_array_equal(back.history.weights[e], tr.history.weights[e])
    tr.fit(2)
    back.fit(2)
    np.testing.assert_array_equal(back.network.params, tr.network.params)
    assert [r.train_loss for r in back.records] == [r.train_loss for r in tr.records]


def test_the_document_spells_out_layers_in_pytorch_layout():
    tr = conv_run()
    doc = json.loads(snapshot.dumps(tr, readable=True))
    assert doc["version"] == 2
    assert doc["network"]["sizes"] == ["1x8x8", "conv 4@3x3", "pool 2", 16, 10]
    kinds = [(t["kind"], t["in_shape"], t["out_shape"], t.get("weights_shape"))
             for t in doc["network"]["layers"]]
    assert kinds == [("conv", [1, 8, 8], [4, 6, 6], [4, 1, 3, 3]), ("pool", [4, 6, 6], [4, 3, 3], None),
                     ("dense", [4, 3, 3], [16], [36, 16]), ("dense", [16], [10], [16, 10])]
    state = doc["training_states"][-1]
    assert np.array(state["layers"][0]["weights"]).shape == (4, 1, 3, 3)
    np.testing.assert_array_equal(np.array(state["layers"][0]["weights"], np.float32),
                                  tr.network.layers[0].weights)
    assert [len(p["activation"]) for p in state["probe"]] == [144, 36, 16, 10]
    maps = tr.network.feature_maps(tr.data.X_test[:1])
    np.testing.assert_allclose(state["probe"][1]["activation"], maps[1][1].ravel(), rtol=1e-6)
    assert len(doc["records"][-1]["weight_norms"]) == 3


def test_dense_runs_are_still_written_as_version_1():
    tr = Trainer(RunConfig(dataset="xor", epochs=2))
    tr.fit()
    doc = json.loads(snapshot.dumps(tr))
    assert doc["version"] == 1 and "layers" not in doc["network"]
    assert snapshot.loads(snapshot.dumps(tr)).version == 1


def test_v2_schema_describes_exports_and_v1_schema_refuses_them():
    jsonschema = pytest.importorskip("jsonschema")
    v2 = snapshot.schema(2)
    jsonschema.Draft202012Validator.check_schema(v2)
    tr = conv_run()
    for kw in ({}, {"readable": True}, {"epochs": "latest"}):
        jsonschema.validate(json.loads(snapshot.dumps(tr, **kw)), v2)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(snapshot.dumps(tr)), snapshot.schema(1))
    with pytest.raises(ValueError, match="versions"):
        snapshot.schema(3)


def _broken(change):
    doc = json.loads(snapshot.dumps(conv_run(), readable=True))
    change(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("change,needle", [
    (lambda d: d["network"].update(sizes=["1x8x8", "conv 4@9x9", "pool 2", 16, 10]),
     "network.sizes: 'conv 4@9x9' does not fit its input 1x8x8"),
    (lambda d: d["network"].update(sizes=["1x8x8", "conv 4@3x3", "pool 2", 16, "pool 2"]),
     "network.sizes: the output layer must be a dense layer"),
    (lambda d: d["network"].update(sizes=["1x8x8", "conv 4@3x3", "pool 3", 16, 10]),
     "network.sizes: hidden layers"),
    (lambda d: d["network"]["layers"][0].update(weights_shape=[4, 1, 9]), "network.layers: expected"),
    (lambda d: d["training_states"][0]["layers"][0].update(weights=[[0.0] * 9] * 4),
     r"training_states\[0\].layers\[0\].weights: expected shape \[4, 1, 3, 3\]"),
    (lambda d: d["training_states"][0]["probe"].pop(), r"training_states\[0\].probe: expected 4 layers"),
    (lambda d: d.update(version=3), "reads versions 1, 2, got 3"),
    (lambda d: d.update(version=1), "network.sizes: expected at least 2 positive whole numbers"),
])
def test_a_bad_v2_document_names_the_field(change, needle):
    with pytest.raises(snapshot.SnapshotError, match=needle):
        snapshot.loads(_broken(change))


def test_validate_and_predict_read_v2_files(tmp_path):
    tr = conv_run()
    path = tmp_path / "run.json"
    snapshot.save(tr, path)
    r = subprocess.run([sys.executable, "-m", "nncore", "validate", str(path)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "training state v2" in r.stdout and "conv 4@3x3" in r.stdout, r.stderr
    snap = snapshot.load(path)
    net = predict.network_from_snapshot(snap)
    np.testing.assert_array_equal(net.predict(tr.data.X_test[:5]), tr.network.predict(tr.data.X_test[:5]))
    spec = predict.image_input_of_snapshot(snap)
    assert spec.shape == (8, 8)
