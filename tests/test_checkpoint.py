"""Crash-safe checkpoints: exact resume, atomic writes, one file per session, the offer."""
import os
import time

import numpy as np
import pytest

from dashboard import checkpoint, limits
from nncore import Trainer
from nncore.presets import default_config
from nncore.snapshot import SnapshotError


def moons(**kw):
    base = dict(dataset_options={"n_samples": 120}, hidden=[16, 8], epochs=100, seed=5)
    return default_config("moons", **{**base, **kw})


def trained(cfg, epochs):
    tr = Trainer(cfg)
    for _ in range(epochs):
        tr.run_epoch()
    return tr


TIMING = ("seconds", "samples_per_s")


def metrics(tr, timing):
    return [{k: v for k, v in r.to_dict().items() if timing or k not in TIMING} for r in tr.records]


def assert_same(a, b, timing=False):
    """Bit for bit: epoch, parameters, gradients, optimiser state, generator state, curves
    (with the epoch times too if ``timing``)."""
    assert (a.epoch, a.iterations, a.stop_reason) == (b.epoch, b.iterations, b.stop_reason)
    assert a.network.params.dtype == b.network.params.dtype
    assert np.array_equal(a.network.params, b.network.params)
    assert np.array_equal(a.network.grads, b.network.grads)
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa.keys() == sb.keys() and sa["t"] == sb["t"]
    for k in sa:
        if k != "t":
            assert np.array_equal(sa[k], sb[k]), k
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert metrics(a, timing) == metrics(b, timing)


CASES = [dict(optimizer="adam", batch="mini", batch_size=16, dropout=0.2, lr=0.01),
         dict(optimizer="momentum", batch="online", lr=0.02, l2=1e-4),
         dict(optimizer="nesterov", batch="full", lr=0.1),
         dict(optimizer="perturb", batch="mini", batch_size=32, lr=0.05),
         dict(optimizer="sgd", batch="mini", batch_size=8, lr=0.05, dtype="float64")]


@pytest.mark.parametrize("settings", CASES, ids=lambda s: f"{s['optimizer']}-{s['batch']}")
def test_resumed_run_equals_checkpointed_and_uninterrupted(tmp_path, settings):
    cfg = moons(**settings)
    run = trained(cfg, 3)
    path = checkpoint.path_for("session-a", str(tmp_path))
    checkpoint.save(run, path)
    resumed = checkpoint.load(path, limits.LOCAL)
    assert resumed is not run
    assert_same(resumed, run, timing=True)        # the checkpoint holds the whole state
    straight = trained(cfg, 6)
    for _ in range(3):
        resumed.run_epoch()
    assert_same(resumed, straight)                # and carries on as if never interrupted


def test_images_with_augmentation_resume_exactly(tmp_path):
    cfg = default_config("mnist_sample", hidden=[24], seed=2, dropout=0.1)
    cfg = cfg.replace(dataset_options={**cfg.dataset_options, "limit": 300, "augment_shift": 2})
    run = trained(cfg, 2)
    path = checkpoint.path_for("s", str(tmp_path))
    checkpoint.save(run, path)
    resumed = checkpoint.load(path, limits.LOCAL)
    straight = trained(cfg, 4)
    resumed.run_epoch()
    resumed.run_epoch()
    assert_same(resumed, straight)


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = checkpoint.path_for("s", str(tmp_path))
    first = trained(moons(), 1)
    checkpoint.save(first, path)
    before = open(path, "rb").read()
    second = trained(moons(), 2)

    def crash(src, dst):
        raise OSError("disk went away")
    monkeypatch.setattr(checkpoint.os, "replace", crash)
    with pytest.raises(OSError):
        checkpoint.save(second, path)
    monkeypatch.undo()
    assert open(path, "rb").read() == before       # the previous checkpoint is intact
    assert os.listdir(tmp_path) == [os.path.basename(path)]
    assert checkpoint.load(path, limits.LOCAL).epoch == 1


def test_sessions_write_their_own_files_and_the_newest_old_one_is_offered(tmp_path):
    folder = str(tmp_path)
    a, b = trained(moons(seed=1), 2), trained(moons(hidden=[4], seed=2), 3)
    pa, pb = checkpoint.path_for("aaaa-1", folder), checkpoint.path_for("bbbb-2", folder)
    assert pa != pb
    checkpoint.save(a, pa)
    checkpoint.save(b, pb)
    now = time.time()
    os.utime(pa, (now - 20, now - 20))
    os.utime(pb, (now - 10, now - 10))
    # both written by an earlier server: offered newest first, each its own run
    found = checkpoint.orphans(folder, before=now - 1)
    assert [c.session for c in found] == ["bbbb-2", "aaaa-1"]
    assert checkpoint.load(found[0].path, limits.LOCAL).network.sizes == [2, 4, 2]
    assert checkpoint.load(found[1].path, limits.LOCAL).epoch == 2
    # a checkpoint of this server's own sessions is not offered
    assert checkpoint.orphans(folder, before=now - 15) == found[1:]


def test_adopting_a_checkpoint_moves_it_to_the_new_session(tmp_path):
    folder = str(tmp_path)
    run = trained(moons(), 2)
    old = checkpoint.path_for("old-session", folder)
    checkpoint.save(run, old)
    resumed = checkpoint.load(old, limits.LOCAL)
    new = checkpoint.path_for("new-session", folder)
    checkpoint.adopt(old, new, resumed)
    assert [c.session for c in checkpoint.list_checkpoints(folder)] == ["new-session"]
    assert checkpoint.orphans(folder, before=time.time() - 60) == []   # nothing left to offer
    assert_same(checkpoint.load(new, limits.LOCAL), run, timing=True)


def test_session_ids_cannot_escape_the_runs_folder(tmp_path):
    for sid in ("../../etc/passwd", "a/b", "", "..", "x" * 500):
        p = checkpoint.path_for(sid, str(tmp_path))
        assert os.path.dirname(p) == str(tmp_path)
        assert os.path.basename(p).endswith(".json") and len(os.path.basename(p)) <= 85


def test_prune_keeps_the_newest_and_drops_stale_temporary_files(tmp_path):
    folder = str(tmp_path)
    run = trained(moons(), 1)
    now = time.time()
    for i in range(5):
        p = checkpoint.path_for(f"s{i}", folder)
        checkpoint.save(run, p)
        os.utime(p, (now - 100 + i, now - 100 + i))
    stale = os.path.join(folder, "s9.json.1234abcd.tmp")
    open(stale, "wb").write(b'{"format": "nncore.tra')         # a write cut short by kill -9
    os.utime(stale, (now - 50, now - 50))
    assert [c.session for c in checkpoint.list_checkpoints(folder)][0] == "s4"
    checkpoint.prune(folder, keep=2, before=now - 10)
    assert sorted(os.listdir(folder)) == ["s3.json", "s4.json"]


def test_a_damaged_checkpoint_is_refused_with_a_clear_error(tmp_path):
    path = checkpoint.path_for("s", str(tmp_path))
    checkpoint.save(trained(moons(), 1), path)
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[: len(raw) // 2])
    with pytest.raises(SnapshotError):
        checkpoint.load(path, limits.LOCAL)


def test_load_applies_the_limits(tmp_path):
    path = checkpoint.path_for("s", str(tmp_path))
    checkpoint.save(trained(moons(hidden=[64, 64]), 1), path)
    tight = limits.replace(limits.LOCAL, max_params=1000)
    with pytest.raises(ValueError, match="at most 1,000"):
        checkpoint.load(path, tight)
    resumed = checkpoint.load(path, limits.replace(limits.LOCAL, history_bytes=12345))
    assert resumed.history.budget_bytes == 12345


def test_runs_dir_follows_the_environment(tmp_path):
    assert checkpoint.runs_dir({"NNCORE_RUNS_DIR": str(tmp_path)}) == str(tmp_path)
    assert checkpoint.runs_dir({}) == os.path.join(checkpoint.ROOT, "runs")
