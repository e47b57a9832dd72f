"""Test-wide settings: crash checkpoints of test sessions go to a temporary folder.

The app checkpoints every session's run (dashboard/checkpoint.py) into ``runs/`` or
``$NNCORE_RUNS_DIR``; AppTest and browser sessions must not leave runs there that a real
``streamlit run`` would then offer to resume.
"""
import os
import shutil
import tempfile

_RUNS = tempfile.mkdtemp(prefix="nncore-test-runs-")


def pytest_configure(config):
    os.environ["NNCORE_RUNS_DIR"] = _RUNS


def pytest_unconfigure(config):
    shutil.rmtree(_RUNS, ignore_errors=True)
