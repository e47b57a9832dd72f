"""Runs side by side: Add to comparison, the Compare page, saved files, the limits."""
from __future__ import annotations

import json
import os
from dataclasses import replace

from streamlit.testing.v1 import AppTest

from dashboard import compare, limits, state
from nncore import Trainer, snapshot
from nncore.presets import default_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "dashboard", "app.py")


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def start(params=None):
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    return ok(at.run())


def click(at, key, times=1):
    for _ in range(times):
        ok(at.button(key=key).click().run())
    return at


def specs(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def two_learning_rates(params=None):
    at = start(params)
    at.sidebar.number_input(key="sb_lr").set_value(0.01).run()
    click(at, "btn_train_1", 3)
    click(at, "btn_compare")
    ok(at.sidebar.number_input(key="sb_lr").set_value(0.1).run())
    click(at, "btn_reset")
    click(at, "btn_train_1", 2)
    click(at, "btn_compare")
    return at


def test_two_runs_are_compared_and_named_by_what_differs():
    at = two_learning_rates()
    kept = at.session_state[compare.RUNS]
    assert [r.epoch for r in kept] == [3, 2]
    ok(at.switch_page("app_pages/compare.py").run())
    charts = {s["layout"]["title"]["text"]: s for s in specs(at)}
    loss = charts["Loss (solid: test, dotted: train)"]
    legend = [d["name"] for d in loss["data"] if d.get("showlegend", True)]
    assert legend == ["lr 0.01", "lr 0.1"]
    assert "Accuracy (solid: test, dotted: train)" in charts
    assert {"lr 0.01: epoch 3", "lr 0.1: epoch 2"} <= set(charts)     # the boundaries
    df = at.dataframe[0].value
    marked = df[df["differs"] == "≠"]["setting"].tolist()
    assert marked[0] == "lr" and "epoch" in marked and "seed" not in marked
    row = df[df["setting"] == "lr"].iloc[0].tolist()
    assert row[2:] == ["0.01", "0.1"]
    click(at, "compare_remove_0")
    assert [r.epoch for r in at.session_state[compare.RUNS]] == [2]
    click(at, "compare_clear")
    assert at.session_state[compare.RUNS] == []


def test_labels_name_what_differs_or_the_epoch():
    a = Trainer(default_config("moons"))
    b = Trainer(default_config("moons", hidden=[8, 8], lr=0.1))
    runs = []
    for tr in (a, b):
        runs.append(compare.KeptRun(tr.config, list(tr.network.activations), tr.network.sizes,
                                    "x", tr.epoch, list(tr.records), tr.network.params.copy()))
    assert compare.labels(runs) == ["hidden 16,8 · lr 0.01", "hidden 8,8 · lr 0.1"]
    same = [runs[0], replace(runs[0], epoch=5)]
    assert compare.labels(same) == ["epoch 0", "epoch 5"]
    assert compare.labels([runs[0], runs[0]]) == ["run 1", "run 2"]


def test_images_are_compared_by_their_confusion_matrices():
    at = start({"dataset": "digits", "hidden": "16", "epochs": "2"})
    click(at, "btn_train_1")
    click(at, "btn_compare")
    at.sidebar.text_input(key="sb_hidden").input("32").run()
    click(at, "btn_train_1")
    click(at, "btn_compare")
    ok(at.switch_page("app_pages/compare.py").run())
    titles = [s["layout"]["title"]["text"] for s in specs(at)]
    assert "hidden 16: epoch 1 (held-out)" in titles and "hidden 32: epoch 1 (held-out)" in titles


def test_the_comparison_stays_within_its_limits(monkeypatch):
    lim = replace(limits.LOCAL, max_compare_runs=2)
    monkeypatch.setattr(state, "LIMITS", lim)
    at = start()
    click(at, "btn_compare", 3)
    assert len(at.session_state[compare.RUNS]) == 2
    assert any("at most 2 runs (a limit)" in e.value for e in at.error)
    lim = replace(limits.LOCAL, compare_bytes=1000)
    monkeypatch.setattr(state, "LIMITS", lim)
    at = start()
    click(at, "btn_compare")
    assert at.session_state[compare.RUNS] == []
    assert any("(a limit)" in e.value for e in at.error)
    assert limits.HOSTED.max_compare_runs <= 4 and limits.HOSTED.compare_bytes <= 10 * 2**20


class _Upload:
    def __init__(self, name, data):
        self.name, self._data, self.size, self.file_id = name, data, len(data), name

    def getvalue(self):
        return self._data


def test_a_saved_file_is_added_to_the_comparison_within_the_limits(tmp_path):
    tr = Trainer(default_config("spiral", lr=0.05))
    tr.run_epoch()
    data = snapshot.dumps(tr)
    at = start()
    click(at, "btn_train_1")
    click(at, "btn_compare")
    ok(at.switch_page("app_pages/compare.py").run())
    at.file_uploader(key="compare_upload").set_value(("spiral <b>run</b>.json", data,
                                                        "application/json"))
    ok(at.run())
    kept = at.session_state[compare.RUNS]
    assert [r.source for r in kept] == ["this session", "spiral <b>run</b>.json"]
    assert at.session_state[state.TRAINER].config.dataset == "moons"    # the run is untouched
    assert "spiral <b>run</b>.json" in " ".join(t.value for t in at.text)  # plain text
    assert not any("<b>run" in m.value for m in at.markdown)
    at.file_uploader(key="compare_upload").set_value(("bad.json", b'{"format": 1}',
                                                        "application/json"))
    ok(at.run())
    assert len(at.session_state[compare.RUNS]) == 2
    assert any("not added" in e.value for e in at.error)


def test_the_compare_figures_are_valid_plotly(monkeypatch):
    import plotly.io as pio

    from dashboard import figures
    monkeypatch.setattr(figures.base, "VALIDATE", True)
    a, b = Trainer(default_config("moons")), Trainer(default_config("moons", lr=0.1))
    for tr in (a, b):
        tr.run_epoch()
    for fig in (figures.compare_loss([a.records, b.records], ["lr 0.01", "lr 0.1"]),
                figures.compare_loss([a.records, b.records], ["lr 0.01", "lr 0.1"], log=True),
                figures.compare_accuracy([a.records, b.records], ["lr 0.01", "lr 0.1"])):
        pio.to_json(fig, validate=True)
        assert [d.name for d in fig.data if d.showlegend is not False] == ["lr 0.01", "lr 0.1"]


def test_the_size_check_never_underestimates_a_kept_run():
    for cfg in (default_config("moons"), default_config("digits"), default_config("xor")):
        tr = Trainer(cfg)
        tr.run_epoch()
        run = compare.KeptRun(tr.config, list(tr.network.activations), tr.network.sizes, "x",
                              tr.epoch, list(tr.records), tr.network.params.copy(),
                              compare._view(tr))
        assert compare._estimate(tr) >= run.nbytes
