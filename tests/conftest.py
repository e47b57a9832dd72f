"""Test-wide settings: the run store of test sessions is a temporary SQLite file.

The app saves every session's run to the run store (dashboard/runstore.py), by default
``runs/runs.sqlite``; AppTest and browser sessions must not leave runs there that a real
``streamlit run`` would then offer to resume.
"""
import os
import shutil
import tempfile

_RUNS = tempfile.mkdtemp(prefix="nncore-test-runs-")


def pytest_configure(config):
    os.environ["NNCORE_RUN_STORE"] = "sqlite:///" + os.path.join(_RUNS, "runs.sqlite")


def pytest_unconfigure(config):
    shutil.rmtree(_RUNS, ignore_errors=True)


# Tests that drive a real server and browser, or many protocol clients, on two shared cores:
# a slow moment of the machine can cost one a wait. They are run again (twice at most)
# before a failure counts; a test that fails every time still fails.
_RERUN = {"reruns": 2, "reruns_delay": 1}


def pytest_collection_modifyitems(config, items):
    import pytest
    if not config.pluginmanager.hasplugin("rerunfailures"):
        return
    for item in items:
        if item.get_closest_marker("browser") or item.path.name == "test_bench_smoke.py":
            item.add_marker(pytest.mark.flaky(**_RERUN))
