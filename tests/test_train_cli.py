"""Tests of the command line ``python -m course_utils.training`` on a small subset."""

import json
import subprocess
import sys

import pytest
import torch

from course_utils.data import DatasetError, load_fashion_mnist
from course_utils.pretrained import load_pretrained_file

pytestmark = pytest.mark.slow

REQUIRED = {"test_accuracy", "train_seconds", "epochs", "model", "parameters", "device",
            "world_size"}


def fashion_mnist_present():
    try:
        load_fashion_mnist("train", download=False)
        load_fashion_mnist("test", download=False)
    except DatasetError:
        return False
    return True


needs_data = pytest.mark.skipif(not fashion_mnist_present(),
                                reason="Fashion-MNIST files are not available offline")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "course_utils.training", *args],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@needs_data
def test_last_line_is_json_with_the_results(tmp_path):
    save = tmp_path / "tiny_lenet.pt"
    result = run_cli("--model", "lenet", "--epochs", "2", "--train-size", "512",
                     "--test-size", "300", "--batch-size", "64", "--schedule", "onecycle",
                     "--augment", "shift", "--device", "cpu", "--save", str(save))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("{")
    summary = json.loads(lines[-1])
    assert REQUIRED <= set(summary)
    assert summary["model"] == "lenet" and summary["epochs"] == 2
    assert summary["parameters"] == 61706 and summary["world_size"] == 1
    assert summary["device"] == "cpu" and summary["train_size"] == 512
    assert 0.1 < summary["test_accuracy"] <= 1 and summary["train_seconds"] > 0
    assert any(line.startswith("epoch 2 ") for line in lines[:-1])
    manifest = json.loads((tmp_path / "MANIFEST.json").read_text())
    entry = manifest["tiny_lenet"]
    assert entry["test_accuracy"] == pytest.approx(summary["test_accuracy"], abs=0.005)
    assert entry["command"].startswith("python -m course_utils.training --model lenet")
    assert isinstance(load_pretrained_file(save), torch.nn.Module)


@needs_data
def test_quiet_prints_only_the_json_line_and_resumes(tmp_path):
    args = ["--model", "mlp", "--train-size", "256", "--test-size", "100", "--quiet",
            "--device", "cpu", "--checkpoint", str(tmp_path / "run.pt")]
    first = run_cli(*args, "--epochs", "1")
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.strip().splitlines()) == 1
    second = run_cli(*args, "--epochs", "2")  # continues the checkpointed run
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert summary["epochs"] == 2
    assert summary["test_accuracy_per_epoch"][0] == json.loads(first.stdout)["test_accuracy"]


def test_unknown_model_is_a_clear_error():
    result = run_cli("--model", "resnet152", "--epochs", "1")
    assert result.returncode != 0
    assert "unknown model 'resnet152'" in result.stderr
    assert "small_cnn" in result.stderr and "lenet" in result.stderr
    assert result.stdout == ""


def test_bad_numbers_are_clear_errors():
    result = run_cli("--model", "lenet", "--epochs", "1", "--batch-size", "0")
    assert result.returncode != 0 and "--batch-size must be positive" in result.stderr
