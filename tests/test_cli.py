"""python -m nncore: listing, training, JSON output and bad arguments."""
import json
import subprocess
import sys

import pytest

from nncore.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "nncore", *args], capture_output=True, text=True)


def test_lists(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "mnist_sample" in out and "xor" in out and "fashion_sample" in out
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "xor_9line" in out and "mnist_200_modern" in out


def test_train_json_lines():
    r = run("train", "--dataset", "moons", "--hidden", "8,4", "--activation", "tanh",
            "--optimizer", "momentum", "--lr", "0.05", "--batch-size", "16", "--epochs", "3",
            "--seed", "1", "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert [l["epoch"] for l in lines] == [1, 2, 3]
    for key in ("train_loss", "test_loss", "train_acc", "test_acc", "seconds", "samples_per_s"):
        assert key in lines[0]


def test_preset_trains_for_its_own_length(capsys):
    assert main(["train", "--preset", "xor_9line"]) == 0
    out = capsys.readouterr().out
    assert "epoch  100/100" in out


@pytest.mark.parametrize("args,needle", [
    (["--dataset", "nope"], "unknown dataset 'nope'"),
    (["--dataset", "moons", "--hidden", "4,x"], "positive whole numbers"),
    (["--dataset", "moons", "--lr", "-3"], "lr must be"),
    (["--dataset", "moons", "--optimizer", "rmsprop"], "unknown optimizer"),
    (["--dataset", "moons", "--option", "noise=9"], "option noise must be between"),
    (["--preset", "nope"], "unknown preset"),
    (["--dataset", "mnist", "--data-dir", "/nonexistent"], "no IDX files found"),
])
def test_bad_arguments_exit_non_zero_with_one_line(args, needle):
    r = run("train", *args, "--epochs", "1")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and needle in r.stderr


def test_divergence_exit_code():
    r = run("train", "--dataset", "moons", "--hidden", "16", "--activation", "relu",
            "--output-activation", "linear", "--loss", "mse", "--optimizer", "sgd", "--lr", "60",
            "--epochs", "30")
    assert r.returncode == 3 and "diverged" in r.stderr


def test_train_with_a_learning_rate_schedule(capsys):
    assert main(["train", "--dataset", "moons", "--hidden", "8", "--lr", "0.04", "--epochs", "4",
                 "--lr-schedule", "exponential", "--lr-decay", "0.5", "--json"]) == 0
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [l["lr"] for l in lines] == pytest.approx([0.04, 0.02, 0.01, 0.005])
    assert main(["train", "--dataset", "moons", "--epochs", "2", "--lr-schedule", "cosine"]) == 0
    assert "lr 0.01 (cosine over 2 epochs)" in capsys.readouterr().out
    assert main(["train", "--dataset", "moons", "--lr-decay", "2"]) != 0
    assert "lr_decay must be a number > 0 and <= 1" in capsys.readouterr().err
