"""The run store on both engines: exact round trips, tokens, expiry, budgets, bad rows.

SQLite always; PostgreSQL when ``NNCORE_TEST_POSTGRES`` is a URL (``.ci/run`` starts one),
and then required when ``NNCORE_REQUIRE_POSTGRES=1`` (a missing server fails, not skips).
"""
import logging
import os
import sqlite3
import uuid

import numpy as np
import pytest

from dashboard import limits, runstore
from nncore import Trainer
from nncore.presets import default_config
from nncore.snapshot import SnapshotError

PG_URL = os.environ.get("NNCORE_TEST_POSTGRES", "").strip()
REQUIRE_PG = os.environ.get("NNCORE_REQUIRE_POSTGRES") == "1"


def moons(**kw):
    base = dict(dataset_options={"n_samples": 120}, hidden=[16, 8], epochs=100, seed=5)
    return default_config("moons", **{**base, **kw})


def trained(cfg, epochs):
    tr = Trainer(cfg)
    for _ in range(epochs):
        tr.run_epoch()
    return tr


def assert_same(a, b):
    assert (a.epoch, a.iterations, a.stop_reason) == (b.epoch, b.iterations, b.stop_reason)
    assert np.array_equal(a.network.params, b.network.params)
    assert np.array_equal(a.network.grads, b.network.grads)
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa.keys() == sb.keys() and sa["t"] == sb["t"]
    assert all(np.array_equal(sa[k], sb[k]) for k in sa if k != "t")
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert [r.train_loss for r in a.records] == [r.train_loss for r in b.records]


def _pg_table_prefix(url):
    """A fresh PostgreSQL schema per test, dropped afterwards."""
    import psycopg
    schema = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    return schema, f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def make_store(request, tmp_path):
    """``make_store(**settings)`` -> a RunStore on the engine of the test's parameter."""
    made, cleanup = [], []
    if request.param == "sqlite":
        url = "sqlite:///" + str(tmp_path / "runs.sqlite")
    else:
        if not PG_URL:
            if REQUIRE_PG:
                pytest.fail("NNCORE_REQUIRE_POSTGRES=1 but NNCORE_TEST_POSTGRES is not set")
            pytest.skip("no PostgreSQL (set NNCORE_TEST_POSTGRES to a URL)")
        try:
            schema, url = _pg_table_prefix(PG_URL)
        except Exception as exc:
            if REQUIRE_PG:
                pytest.fail(f"PostgreSQL at NNCORE_TEST_POSTGRES cannot be used: {exc}")
            pytest.skip(f"PostgreSQL cannot be used: {exc}")
        cleanup.append(schema)

    def make(writer="proc-a", clock=None, **kw):
        base = dict(url=url, ttl_s=3600.0, total_bytes=64 * 2**20, history_bytes=2**20,
                    protect_interrupted=True)
        store = runstore.RunStore(runstore.Settings(**{**base, **kw}), writer=writer,
                                  **({"clock": clock} if clock else {}))
        made.append(store)
        return store

    make.kind = request.param
    yield make
    for s in made:
        s.close()
    if cleanup:
        import psycopg
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {cleanup[0]} CASCADE")


def put(store, tr, token=None):
    token = token or runstore.new_token()
    store.save(token, runstore.dump_run(tr, store.cfg.history_bytes), tr.epoch,
               runstore.summary_line(tr))
    return token


def test_engine_kind(make_store):
    assert make_store().kind == make_store.kind


def test_a_stored_run_resumes_bit_for_bit(make_store):
    store = make_store()
    cfg = moons(optimizer="adam", batch="mini", batch_size=16, dropout=0.2, lr=0.01)
    run = trained(cfg, 3)
    token = put(store, run)
    got = store.get(token)
    assert got.epoch == 3 and got.summary.startswith("moons 2-16-8-2")
    resumed = runstore.read_trainer(got.body, limits.LOCAL)
    assert resumed is not run
    assert_same(resumed, run)
    for _ in range(3):
        resumed.run_epoch()
    assert_same(resumed, trained(cfg, 6))          # as if never interrupted


def test_a_conv_run_is_stored_and_resumes_bit_for_bit(make_store):
    store = make_store()
    cfg = default_config("digits").replace(hidden=["conv 4@3x3", "pool 2", 8], activations=None,
                                           epochs=4)
    run = trained(cfg, 2)
    got = store.get(put(store, run))
    resumed = runstore.read_trainer(got.body, limits.LOCAL)
    assert_same(resumed, run)
    resumed.run_epoch()
    assert_same(resumed, trained(cfg, 3))


def test_a_stored_run_is_a_valid_training_state_file(make_store, tmp_path):
    from nncore import snapshot
    store = make_store()
    token = put(store, trained(moons(), 4))
    body = store.get(token).body
    snap = snapshot.loads(body)
    assert snap.epoch == 4 and snap.encoding == "compact"
    assert [s["epoch"] for s in snap.states] == [0, 1, 2, 3, 4]   # within the history budget


def test_older_epochs_are_thinned_to_the_per_run_budget():
    run = trained(moons(hidden=[64, 64]), 30)               # 4,482 parameters, 18 KB an epoch
    from nncore import snapshot
    per_epoch = run.network.n_params * 4 * 4 / 3
    snap = snapshot.loads(runstore.dump_run(run, int(per_epoch * 6)))
    kept = [s["epoch"] for s in snap.states]
    assert 0 in kept and 30 in kept and 3 <= len(kept) <= 8, kept
    assert len(snap.records) == 31                           # every epoch's curve stays
    assert [s["epoch"] for s in snapshot.loads(runstore.dump_run(run, 0)).states] == [30]


def test_a_long_run_stores_a_bounded_number_of_epochs():
    run = trained(moons(hidden=[4]), 300)                    # tiny: the byte budget never binds
    snap = runstore.snapshot.loads(runstore.dump_run(run, 2**30))
    kept = [s["epoch"] for s in snap.states]
    assert len(kept) <= runstore.MAX_STORED_EPOCHS + 1 and kept[0] == 0 and kept[-1] == 300
    assert len(snap.records) == 301


def test_tokens_are_long_random_and_only_their_hash_is_stored(make_store, tmp_path):
    tokens = {runstore.new_token() for _ in range(50)}
    assert len(tokens) == 50
    for t in tokens:
        assert len(t) >= 32 and runstore.valid_token(t)     # 192 bits, URL-safe
        assert all(c.isalnum() or c in "-_" for c in t)
    store = make_store()
    token = put(store, trained(moons(), 1))
    if make_store.kind == "sqlite":
        rows = sqlite3.connect(str(tmp_path / "runs.sqlite")).execute(
            f"SELECT key FROM {runstore.TABLE}").fetchall()
        assert rows == [(runstore.key_of(token),)] and token not in rows[0][0]


def test_wrong_and_malformed_tokens_find_nothing(make_store):
    store = make_store()
    put(store, trained(moons(), 1))
    for bad in (runstore.new_token(), "", "short", "../../etc/passwd", "x" * 5000, "a b" * 20):
        with pytest.raises(runstore.RunGone):
            store.get(bad)


def test_runs_expire_after_their_last_write(make_store):
    now = [1000.0]
    store = make_store(ttl_s=100.0, clock=lambda: now[0])
    token = put(store, trained(moons(), 1))
    now[0] += 99
    assert store.get(token).epoch == 1
    now[0] += 2
    with pytest.raises(runstore.RunGone, match="expired"):
        store.get(token)
    put(store, trained(moons(), 2))                 # any write clears expired rows
    with pytest.raises(runstore.RunGone, match="no run"):
        store.get(token)


def test_the_oldest_runs_make_room_and_their_owner_is_told(make_store):
    now = [0.0]
    size = len(runstore.dump_run(trained(moons(), 1), 2**20))
    store = make_store(total_bytes=int(size * 3.5), clock=lambda: now[0])
    tokens = []
    for _ in range(5):
        now[0] += 1
        tokens.append(put(store, trained(moons(), 1)))
    assert store.usage()["runs"] == 3
    for t in tokens[:2]:                                   # the two written first went
        with pytest.raises(runstore.RunGone, match="make room"):
            store.get(t)
    assert all(store.get(t).epoch == 1 for t in tokens[2:])
    # the owner writing again gets its run back, and hears that it had been dropped
    now[0] += 1
    tr = trained(moons(), 2)
    saved = store.save(tokens[0], runstore.dump_run(tr, 2**20), tr.epoch, "again")
    assert saved.was_gone and saved.evicted == 1
    assert store.get(tokens[0]).epoch == 2


def test_a_run_larger_than_the_store_is_refused(make_store):
    store = make_store(total_bytes=1000)
    with pytest.raises(runstore.StoreFull, match="larger than the whole run store"):
        put(store, trained(moons(), 1))


def test_interrupted_runs_are_offered_and_go_last(make_store):
    """Issue: fresh sessions must not prune a run an earlier server left until it is
    resumed or dismissed."""
    now = [0.0]
    clock = lambda: now[0]                                           # noqa: E731
    size = len(runstore.dump_run(trained(moons(), 1), 2**20))
    old = make_store(writer="before-crash", total_bytes=int(size * 3.5), clock=clock)
    now[0] += 1
    lost = put(old, trained(moons(hidden=[4]), 3))
    new = make_store(writer="after-restart", total_bytes=int(size * 3.5), clock=clock)
    offered = new.interrupted()
    assert [o.key for o in offered] == [runstore.key_of(lost)] and offered[0].epoch == 3
    assert old.interrupted() == []                    # a process's own runs are not offered
    for _ in range(11):                               # eleven fresh tabs, one epoch each
        now[0] += 1
        put(new, trained(moons(), 1))
    assert new.get(lost).epoch == 3
    new.dismiss(runstore.key_of(lost))
    assert new.interrupted() == []
    now[0] += 1
    put(new, trained(moons(), 1))                     # dismissed: it may now make room
    with pytest.raises(runstore.RunGone):
        new.get(lost)


def test_a_corrupt_stored_run_is_refused_like_a_corrupt_file(make_store):
    store = make_store()
    run = trained(moons(), 2)
    token = runstore.new_token()
    body = runstore.dump_run(run, 2**20)
    store.save(token, body[: len(body) // 2], 2, "cut")
    with pytest.raises(SnapshotError):
        runstore.read_trainer(store.get(token).body, limits.LOCAL)
    forged = body.replace(b'"lr":0.01', b'"lr":-1', 1)
    store.save(token, forged, 2, "forged")
    with pytest.raises(ValueError):
        runstore.read_trainer(store.get(token).body, limits.LOCAL)


def test_loading_applies_the_app_limits(make_store):
    store = make_store()
    token = put(store, trained(moons(hidden=[64, 64]), 1))
    body = store.get(token).body
    with pytest.raises(ValueError, match="at most 1,000"):
        runstore.read_trainer(body, limits.replace(limits.LOCAL, max_params=1000))
    with pytest.raises(ValueError, match="training samples"):
        runstore.read_trainer(body, limits.replace(limits.LOCAL, max_train_samples=10))
    tr = runstore.read_trainer(body, limits.replace(limits.LOCAL, history_bytes=12345))
    assert tr.history.budget_bytes == 12345


def test_saving_replaces_and_delete_removes(make_store):
    store = make_store()
    token = put(store, trained(moons(), 1))
    put(store, trained(moons(), 3), token)
    assert store.get(token).epoch == 3 and store.usage()["runs"] == 1
    store.delete(runstore.key_of(token))
    with pytest.raises(runstore.RunGone):
        store.get(token)


def test_tokens_are_never_logged(make_store, caplog):
    caplog.set_level(logging.DEBUG)
    now = [0.0]
    size = len(runstore.dump_run(trained(moons(), 1), 2**20))
    store = make_store(total_bytes=int(size * 1.5), clock=lambda: now[0])
    tokens = []
    for _ in range(3):
        now[0] += 1
        tokens.append(put(store, trained(moons(), 1)))
    assert "dropped to make room" in caplog.text            # the eviction was logged ...
    assert runstore.short_hash(tokens[-1]) in caplog.text   # ... by a short hash
    assert not any(t in caplog.text for t in tokens)


def test_an_unreachable_store_says_so():
    cfg = runstore.Settings(url="postgresql://nobody@127.0.0.1:9/none?password=hunter2",
                            ttl_s=60, total_bytes=2**20, history_bytes=0, protect_interrupted=False)
    store = runstore.RunStore(cfg)
    with pytest.raises(runstore.StoreError) as err:
        put(store, trained(moons(), 1))
    text = str(err.value)
    assert "run store" in text and "PostgreSQL (127.0.0.1:9/none)" in text
    assert "hunter2" not in text
    bad = runstore.Settings(url="sqlite:////proc/forbidden/runs.sqlite", ttl_s=60,
                            total_bytes=2**20, history_bytes=0, protect_interrupted=False)
    with pytest.raises(runstore.StoreError, match="run store"):
        put(runstore.RunStore(bad), trained(moons(), 1))
    with pytest.raises(runstore.StoreError, match="must start with"):
        runstore.RunStore(cfg.__class__(**{**cfg.__dict__, "url": "mysql://x"}))


def test_settings_follow_the_environment(tmp_path):
    loc = runstore.settings({}, hosted=False)
    assert loc.url == "sqlite:///" + runstore.DEFAULT_PATH and loc.ttl_s == 7 * 24 * 3600
    assert loc.protect_interrupted
    host = runstore.settings({}, hosted=True)
    assert host.ttl_s == 24 * 3600 and not host.protect_interrupted
    env = {"NNCORE_RUN_STORE": "sqlite:////" + str(tmp_path).lstrip("/") + "/x.sqlite",
           "NNCORE_RUN_TTL_HOURS": "2", "NNCORE_RUN_STORE_MB": "10", "NNCORE_RUN_HISTORY_MB": "bad"}
    s = runstore.settings(env, hosted=False)
    assert s.url == env["NNCORE_RUN_STORE"] and s.ttl_s == 7200 and s.total_bytes == 10 * 2**20
    assert s.history_bytes == loc.history_bytes
    assert runstore._sqlite_path(s.url) == str(tmp_path / "x.sqlite")
    assert runstore.describe_url("postgresql://u:secret@db.example:5432/runs") == \
        "PostgreSQL (db.example:5432/runs)"


def test_sqlite_uses_wal(tmp_path):
    store = runstore.RunStore(runstore.Settings(
        url="sqlite:///" + str(tmp_path / "w.sqlite"), ttl_s=60, total_bytes=2**24,
        history_bytes=0, protect_interrupted=False))
    put(store, trained(moons(), 1))
    mode = sqlite3.connect(str(tmp_path / "w.sqlite")).execute("PRAGMA journal_mode").fetchone()
    assert mode == ("wal",)


@pytest.mark.parametrize("readable", [False, True])
def test_unpacked_arrays_are_the_same_format(readable):
    """The store writes compact arrays without filters (fast); they load like packed ones."""
    from nncore import snapshot
    run = trained(moons(hidden=[32, 16]), 3)                 # arrays above the size for filters
    plain = snapshot.dumps(run, epochs="all", readable=readable, pack=False)
    packed = snapshot.dumps(run, epochs="all", readable=readable)
    assert b'"filters"' in packed and b'"filters"' not in plain and b"@@" not in plain
    a, b = snapshot.loads(plain), snapshot.loads(packed)
    for sa, sb in zip(a.states, b.states):
        assert np.array_equal(sa["params"], sb["params"])
    assert_same(a.to_trainer(), run)
    assert_same(b.to_trainer(), run)


def test_a_shared_datasets_fingerprint_is_computed_once(monkeypatch):
    from nncore.snapshot import export
    from nncore.trainer import load_run_data
    data = load_run_data(moons()).read_only()
    first = export.data_fingerprint(data)
    monkeypatch.setattr(export.hashlib, "sha256", None)     # a second hash would fail
    assert export.data_fingerprint(data) == first
    monkeypatch.undo()
    writable = load_run_data(moons())
    assert export.data_fingerprint(writable) == first
    writable.X_train[0, 0] += 1                              # a writable one is hashed again
    assert export.data_fingerprint(writable) != first
