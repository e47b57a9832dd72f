"""Setups in the address bar: query parameters <-> RunConfig, and the app following them."""
from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import address, state
from nncore import RunConfig
from nncore.datasets import DATASETS
from nncore.presets import PRESETS, default_config, preset_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "dashboard", "app.py")


def explicit(cfg: RunConfig) -> dict:
    d = cfg.to_dict()
    d["activations"] = address._guess_out(cfg)
    return d


def round_trip(cfg, preset=None):
    params = address.setup_params(cfg, preset)
    link = address.read(params)
    assert link.problems == [], (params, link.problems)
    return params, link


# -- address <-> config ------------------------------------------------------------------------
def test_the_example_link_reads_as_written():
    link = address.read({"dataset": "spiral", "hidden": "8,8", "lr": "0.03", "seed": "7"})
    cfg = link.config
    assert (cfg.dataset, cfg.hidden, cfg.lr, cfg.seed) == ("spiral", [8, 8], 0.03, 7)
    assert link.problems == []
    assert address.setup_params(cfg) == {"dataset": "spiral", "hidden": "8,8", "lr": "0.03",
                                         "seed": "7"}


def test_defaults_give_an_empty_address():
    assert address.setup_params(default_config("moons")) == {}
    assert address.setup_params(default_config("digits")) == {"dataset": "digits"}
    assert address.setup_params(preset_config("xor_9line"), "xor_9line") == {"preset": "xor_9line"}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_with_changes(name):
    cfg = preset_config(name)
    changed = cfg.replace(lr=cfg.lr * 3, seed=12345678901, epochs=7,
                          hidden=[*cfg.hidden, 5], activations=[*(cfg.activations or
                                                                 address._guess_out(cfg))[:-1],
                                                               "tanh",
                                                               address._guess_out(cfg)[-1]])
    for c in (cfg, changed):
        params, link = round_trip(c, name)
        assert params["preset"] == name
        assert explicit(link.config) == explicit(c)


@pytest.mark.parametrize("dataset", [d for d in DATASETS if d != "csv"])
def test_every_dataset_round_trips_with_its_options(dataset):
    cfg = default_config(dataset)
    opts = dict(cfg.dataset_options)
    for key, opt in DATASETS[dataset].options.items():
        if key in ("data_dir", "path"):
            continue
        if isinstance(opt.default, bool):
            opts[key] = not opt.default
        elif isinstance(opt.default, (int, float)) and opt.hi is not None:
            opts[key] = type(opt.default)(opt.hi)
        elif opt.choices:
            opts[key] = ",".join(opt.choices[:3])
    changed = cfg.replace(dataset_options=opts, hidden=[3], activations=["sigmoid", "softmax"]
                          if DATASETS[dataset].kind != "logic" else ["sigmoid", "sigmoid"],
                          l2=1e-05, dropout=0.25, batch="online", shuffle=False, dtype="float64",
                          target_loss=0.125, lr_schedule="cosine", init="randn", biases=False)
    for c in (cfg, changed):
        params, link = round_trip(c)
        assert explicit(link.config) == explicit(c), params


def test_no_hidden_layer_and_mixed_activations():
    cfg = default_config("circles", hidden=[], dataset_options={"features": "x1,x2,x1^2,x2^2"})
    params, link = round_trip(cfg)
    assert params == {"dataset": "circles", "hidden": "none", "features": "x1,x2,x1^2,x2^2"}
    assert link.config.hidden == []
    cfg = default_config("moons", hidden=[4, 4], activations=["tanh", "relu", "softmax"])
    params, link = round_trip(cfg)
    assert params["activation"] == "tanh,relu"
    assert link.config.activations == ["tanh", "relu", "softmax"]


def test_query_string_is_short_and_readable():
    assert address.query_string({"dataset": "spiral", "hidden": "8,8"}) == "dataset=spiral&hidden=8,8"
    assert address.query_string({"features": "x1,x1^2"}) == "features=x1,x1%5E2"
    assert address.query_string({"title": "a & b"}) == "title=a%20%26%20b"


def test_run_and_streamlit_keys_are_known_and_kept():
    link = address.read({"run": "tok", "embed": "true", "dataset": "spiral"})
    assert link.problems == [] and link.run == "tok"


# -- the app -----------------------------------------------------------------------------------
def open_app(params=None, page=None):
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page:
        at.switch_page(page).run()
        assert not at.exception
    return at


def trainer(at):
    return at.session_state[state.TRAINER]


def train_one(at):
    at.button(key="btn_train_1").click().run()
    assert not at.exception
    return trainer(at).records[-1].train_loss


def test_a_link_opens_its_setup_and_two_openers_get_the_same_run():
    params = {"dataset": "spiral", "hidden": "8,8", "lr": "0.03", "seed": "7"}
    a, b = open_app(params), open_app(params)
    for at in (a, b):
        cfg = trainer(at).config
        assert (cfg.dataset, cfg.hidden, cfg.lr, cfg.seed) == ("spiral", [8, 8], 0.03, 7)
        assert at.sidebar.selectbox(key="sb_dataset").value == "spiral"
        assert at.sidebar.text_input(key="sb_hidden").value == "8, 8"
        assert dict(at.query_params) == params
        assert not at.warning
    ta, tb = trainer(a), trainer(b)
    assert (ta.network.params == tb.network.params).all()          # same starting weights
    assert (ta.data.X_train == tb.data.X_train).all()
    assert train_one(a) == train_one(b)                           # same loss after one epoch


def test_the_address_follows_the_sidebar():
    at = open_app()
    assert dict(at.query_params) == {}
    at.sidebar.selectbox(key="sb_dataset").set_value("spiral").run()
    at.sidebar.text_input(key="sb_hidden").input("8, 8").run()
    at.sidebar.number_input(key="sb_lr").set_value(0.03).run()
    assert dict(at.query_params) == {"dataset": "spiral", "hidden": "8,8", "lr": "0.03"}
    at.sidebar.selectbox(key="sb_preset").set_value("xor_9line").run()
    assert dict(at.query_params) == {"preset": "xor_9line"}
    at.sidebar.number_input(key="sb_lr").set_value(0.5).run()
    assert dict(at.query_params) == {"preset": "xor_9line", "lr": "0.5"}
    share = [c.value for c in at.code if "preset=xor_9line" in c.value]
    assert share == ["/?preset=xor_9line&lr=0.5"]


def test_the_run_token_is_never_dropped_nor_shared():
    at = open_app({"run": "T0k3n", "dataset": "spiral"})
    assert not at.warning
    at.sidebar.number_input(key="sb_lr").set_value(0.2).run()
    assert dict(at.query_params) == {"run": "T0k3n", "dataset": "spiral", "lr": "0.2"}
    assert not any("T0k3n" in c.value for c in at.code)


def test_a_preset_link_selects_the_preset():
    at = open_app({"preset": "xor_9line", "lr": "0.5"})
    assert at.sidebar.selectbox(key="sb_preset").value == "xor_9line"
    assert trainer(at).config.lr == 0.5 and trainer(at).config.dataset == "xor3"
