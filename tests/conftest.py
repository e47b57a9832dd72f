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
