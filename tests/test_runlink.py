"""The link back to a run: ``?run=<token>`` reopens it (a copy), in AppTest."""
import os

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import autosave, runstore, state
from nncore import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "dashboard", "app.py")


@pytest.fixture(autouse=True)
def store_url(tmp_path, monkeypatch):
    url = "sqlite:///" + str(tmp_path / "runs.sqlite")
    monkeypatch.setenv("NNCORE_RUN_STORE", url)
    return url


def start(**query):
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    ok(at)
    return at


def ok(at):
    assert not at.exception, [e.value for e in at.exception]


def click(at, key):
    at.button(key=key).click().run()
    ok(at)
    return at


def run_of(at) -> Trainer:
    return at.session_state[state.TRAINER]


def link(at):
    return at.query_params.get("run")


def infos(at):
    return " ".join(i.value for i in at.info)


def assert_same(a, b):
    assert (a.epoch, a.iterations) == (b.epoch, b.iterations)
    assert np.array_equal(a.network.params, b.network.params)
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["t"] == sb["t"] and all(np.array_equal(sa[k], sb[k]) for k in sa if k != "t")
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert [r.train_loss for r in a.records] == [r.train_loss for r in b.records]


def trained_session(epochs=2, hidden="8, 4"):
    at = start()
    at.text_input(key="sb_hidden").input(hidden).run()
    ok(at)
    assert link(at) is None                       # nothing trained yet: no link
    for _ in range(epochs):
        click(at, "btn_train_1")
    return at


def test_the_address_carries_the_run_once_it_has_trained():
    at = trained_session(1)
    token = link(at)
    assert token == at.session_state[autosave.TOKEN] and runstore.valid_token(token)
    click(at, "btn_train_1")
    assert link(at) == token                      # one token per session


def test_the_link_reopens_the_run_with_its_setup_and_trains_on_exactly():
    at = trained_session(3)
    token, before = link(at), run_of(at)
    again = start(run=token)                      # a reload, a new server, another replica
    run = run_of(again)
    assert run is not before and run.epoch == 3
    assert_same(run, before)
    assert again.text_input(key="sb_hidden").value == "8, 4"
    assert "Reopened the run of this link at epoch 3" in infos(again)
    assert next(m.value for m in again.metric if m.label == "Epoch") == "3"
    # training on equals the uninterrupted run
    click(again, "btn_train_1")
    click(at, "btn_train_1")
    assert_same(run_of(again), run_of(at))


def test_an_opened_link_is_a_copy_under_a_new_token():
    at = trained_session(2)
    token = link(at)
    b, c = start(run=token), start(run=token)      # a second tab, another person
    tb, tc = link(b), link(c)
    assert len({token, tb, tc}) == 3
    assert tb == b.session_state[autosave.TOKEN] and tc == c.session_state[autosave.TOKEN]
    click(b, "btn_train_1")
    click(b, "btn_train_1")
    store = autosave.store()
    assert store.get(token).epoch == 2            # the original is never written by the others
    assert store.get(tb).epoch == 4 and store.get(tc).epoch == 2
    click(at, "btn_train_1")                      # and its own session still writes it
    assert store.get(token).epoch == 3 and store.get(tb).epoch == 4


@pytest.mark.parametrize("bad", ["nonsense", runstore.new_token(), "x" * 3000, "<b>hi</b>"])
def test_a_wrong_link_gives_a_notice_and_a_fresh_run(bad):
    at = start(run=bad)
    assert run_of(at).epoch == 0
    assert "cannot be opened" in infos(at) and "A new run starts here" in infos(at)
    assert bad not in infos(at) or bad == "nonsense"
    click(at, "btn_train_1")                      # the session's own run takes the key over
    assert link(at) == at.session_state[autosave.TOKEN] != bad


def test_an_expired_link_says_so(monkeypatch):
    at = trained_session(1)
    token = link(at)
    monkeypatch.setenv("NNCORE_RUN_TTL_HOURS", "0.0001")   # expired 0.36 s after its last epoch
    store = autosave.store()
    tr = run_of(at)
    store.save(token, runstore.dump_run(tr, 0), tr.epoch, "x")
    import time
    time.sleep(0.5)
    again = start(run=token)
    assert run_of(again).epoch == 0 and "expired" in infos(again)


def test_other_query_keys_are_kept():
    at = trained_session(1)
    token = link(at)
    again = start(run=token, title="XOR", note="hello")
    assert again.query_params.get("title") == "XOR" and again.query_params.get("note") == "hello"
    assert link(again) not in (None, token)
    bad = start(run="nonsense", note="hello")
    assert bad.query_params.get("note") == "hello"


def test_a_corrupt_stored_run_is_refused_like_a_file():
    at = trained_session(1)
    token = link(at)
    tr = run_of(at)
    body = runstore.dump_run(tr, 0)
    autosave.store().save(token, body[:-100], tr.epoch, "cut")
    again = start(run=token)
    assert run_of(again).epoch == 0 and "cannot be opened" in infos(again)
