"""Crash-safe runs through the run store: exact resume, atomic writes, one run per session,
and the offer to resume what an earlier server left (AppTest)."""
import os

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import autosave, limits, resume, runstore, state
from nncore import Trainer
from nncore.presets import default_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "dashboard", "app.py")


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


@pytest.fixture
def store_url(tmp_path, monkeypatch):
    """A fresh SQLite run store for the test's app sessions (local mode)."""
    url = "sqlite:///" + str(tmp_path / "runs.sqlite")
    monkeypatch.setenv("NNCORE_RUN_STORE", url)
    return url


def other_process(url, **kw):
    """The store as an earlier server process (another writer) saw it."""
    cfg = runstore.settings(os.environ, hosted=False)
    return runstore.RunStore(runstore.Settings(**{**cfg.__dict__, "url": url, **kw}),
                             writer="earlier-process")


def put(store, tr, token=None):
    token = token or runstore.new_token()
    store.save(token, runstore.dump_run(tr, store.cfg.history_bytes), tr.epoch,
               runstore.summary_line(tr))
    return token


CASES = [dict(optimizer="adam", batch="mini", batch_size=16, dropout=0.2, lr=0.01),
         dict(optimizer="momentum", batch="online", lr=0.02, l2=1e-4),
         dict(optimizer="nesterov", batch="full", lr=0.1),
         dict(optimizer="perturb", batch="mini", batch_size=32, lr=0.05),
         dict(optimizer="sgd", batch="mini", batch_size=8, lr=0.05, dtype="float64")]


@pytest.mark.parametrize("settings", CASES, ids=lambda s: f"{s['optimizer']}-{s['batch']}")
def test_resumed_run_equals_stored_and_uninterrupted(store_url, settings):
    cfg = moons(**settings)
    run = trained(cfg, 3)
    store = other_process(store_url)
    token = put(store, run)
    resumed = runstore.read_trainer(store.get(token).body, limits.LOCAL)
    assert resumed is not run
    assert_same(resumed, run, timing=True)        # the stored run holds the whole state
    straight = trained(cfg, 6)
    for _ in range(3):
        resumed.run_epoch()
    assert_same(resumed, straight)                # and carries on as if never interrupted


def test_images_with_augmentation_resume_exactly(store_url):
    cfg = default_config("mnist_sample", hidden=[24], seed=2, dropout=0.1)
    cfg = cfg.replace(dataset_options={**cfg.dataset_options, "limit": 300, "augment_shift": 2})
    run = trained(cfg, 2)
    store = other_process(store_url)
    resumed = runstore.read_trainer(store.get(put(store, run)).body, limits.LOCAL)
    straight = trained(cfg, 4)
    resumed.run_epoch()
    resumed.run_epoch()
    assert_same(resumed, straight)


def test_write_is_atomic(store_url, monkeypatch):
    store = other_process(store_url)
    token = put(store, trained(moons(), 1))
    before = store.get(token).body

    real = runstore._Cursor.execute

    def crash(self, sql, params=()):
        if sql.lstrip().startswith("INSERT"):
            raise OSError("disk went away")
        return real(self, sql, params)
    monkeypatch.setattr(runstore._Cursor, "execute", crash)
    with pytest.raises(runstore.StoreError, match="disk went away"):
        put(store, trained(moons(), 2), token)
    monkeypatch.undo()
    assert store.get(token).body == before         # the previous run is intact
    assert runstore.read_trainer(before, limits.LOCAL).epoch == 1
    assert store.usage()["runs"] == 1


# -- the app ---------------------------------------------------------------------------------
def start():
    at = AppTest.from_file(APP, default_timeout=60).run()
    ok(at)
    return at


def ok(at):
    assert not at.exception, [e.value for e in at.exception]


def click(at, key):
    at.button(key=key).click().run()
    ok(at)
    return at


def banner(at):
    return [t.value for t in at.text if "saved" in t.value]


def test_each_session_saves_its_own_run_after_its_epochs(store_url):
    a, b = start(), start()
    click(a, "btn_train_1")
    click(a, "btn_train_1")
    click(b, "btn_train_1")
    ta, tb = a.session_state[autosave.TOKEN], b.session_state[autosave.TOKEN]
    assert ta != tb and runstore.valid_token(ta)
    store = other_process(store_url)
    assert store.get(ta).epoch == 2 and store.get(tb).epoch == 1
    assert_same(runstore.read_trainer(store.get(ta).body, limits.LOCAL),
                a.session_state[state.TRAINER], timing=True)
    assert store.usage()["runs"] == 2


def test_the_newest_interrupted_run_is_offered_and_resumed(store_url):
    earlier = other_process(store_url)
    put(earlier, trained(moons(seed=1), 2))
    lost = trained(moons(hidden=[4], seed=2), 3)
    key = runstore.key_of(put(earlier, lost))
    at = start()
    assert banner(at) and "moons 2-4-2" in banner(at)[0] and "epoch 3" in banner(at)[0]
    click(at, "btn_resume")
    assert not banner(at)
    run = at.session_state[state.TRAINER]
    assert_same(run, lost, timing=True)
    assert at.text_input(key="sb_hidden").value == "4"
    # moved to this session: the old row is gone, the new one is this session's
    store = other_process(store_url)
    with pytest.raises(runstore.RunGone):
        store.get_key(key)
    assert store.get(at.session_state[autosave.TOKEN]).epoch == 3
    click(at, "btn_train_1")
    lost.run_epoch()
    assert_same(at.session_state[state.TRAINER], lost)
    # the other interrupted run is offered to the next session, not the one resumed
    assert "moons 2-16-8-2" in banner(start())[0]


def test_dismiss_keeps_the_run_and_offers_it_to_nobody(store_url):
    earlier = other_process(store_url)
    token = put(earlier, trained(moons(), 2))
    at = start()
    assert banner(at)
    click(at, "btn_dismiss")
    assert not banner(at) and at.session_state[state.TRAINER].epoch == 0
    assert earlier.get(token).epoch == 2            # kept in the store
    assert not banner(start())                      # but offered to nobody else


@pytest.mark.slow
def test_an_interrupted_run_outlives_eleven_fresh_sessions(store_url, monkeypatch):
    """Kill -9, restart, open 11 fresh tabs and train one epoch in each: the interrupted run
    is kept until it is resumed or dismissed, even when the store has to make room."""
    one = len(runstore.dump_run(trained(moons(), 1), 2**20))
    monkeypatch.setenv("NNCORE_RUN_STORE_MB", str(one * 4 / 2**20))    # room for about 4 runs
    lost = trained(moons(hidden=[4]), 3)
    token = put(other_process(store_url), lost)
    for _ in range(11):
        at = start()
        click(at, "btn_train_1")
        ok(at)
    store = other_process(store_url)
    assert store.get(token).epoch == 3
    assert store.usage()["runs"] <= 4 and store.usage()["dropped"] >= 7
    at = start()
    assert "moons 2-4-2" in banner(at)[0]
    click(at, "btn_resume")
    assert_same(at.session_state[state.TRAINER], lost, timing=True)


def test_a_damaged_interrupted_run_is_not_offered(store_url):
    earlier = other_process(store_url)
    body = runstore.dump_run(trained(moons(), 2), 2**20)
    earlier.save(runstore.new_token(), body[: len(body) // 2], 2, "moons 2-16-8-2, epoch 2")
    at = start()
    assert not banner(at)


def test_no_offer_when_hosted(store_url, monkeypatch):
    put(other_process(store_url), trained(moons(), 2))
    at = start()
    assert banner(at)
    monkeypatch.setattr(state, "LIMITS", limits.HOSTED)
    at = start()
    assert not banner(at)
    ok(at)
    assert resume.OFFER not in at.session_state or not at.session_state[resume.OFFER]


def test_an_unreachable_store_is_said_and_training_goes_on(monkeypatch):
    monkeypatch.setenv("NNCORE_RUN_STORE", "postgresql://nobody:hunter2@127.0.0.1:9/none")
    at = start()
    click(at, "btn_train_1")
    click(at, "btn_train_1")
    assert at.session_state[state.TRAINER].epoch == 2
    warn = [w.value for w in at.warning if "not being saved" in w.value]
    assert warn and "goes on in memory" in warn[0] and "hunter2" not in warn[0]


def test_a_full_store_is_said_and_training_goes_on(store_url, monkeypatch):
    monkeypatch.setenv("NNCORE_RUN_STORE_MB", "0.001")
    at = start()
    click(at, "btn_train_1")
    assert at.session_state[state.TRAINER].epoch == 1
    warn = [w.value for w in at.warning if "not being saved" in w.value]
    assert warn and "larger than the whole run store" in warn[0]
