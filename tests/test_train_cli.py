"""Tests of the command line ``python -m course_utils.training`` on a small subset.

Runs that train go through a real subprocess (what a user types); the refusals call the
command line's ``main`` in this process, which exits or returns the same way but without
a new interpreter importing torch each time."""

import json
import subprocess
import sys

import pytest
import torch

from course_utils.data import DatasetError, load_fashion_mnist
from course_utils.evaluation import evaluate
from course_utils.pretrained import load_pretrained_file
from course_utils.training.cli import main

pytestmark = pytest.mark.slow

REQUIRED = {"test_accuracy", "train_seconds", "epochs", "model", "parameters", "device",
            "world_size", "val_accuracy", "val_size", "selected_epoch", "val_accuracy_per_epoch"}


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


def refused(capsys, *args):
    """(exit status, stdout, stderr) of the command line run in this process."""
    try:
        status = main(list(args))
    except SystemExit as exit_:  # argparse's errors
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


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
    assert "val loss" in lines[-2] and "test" not in lines[-2]  # no test figure per epoch
    # Selected on validation: the epoch with the best validation accuracy (first of equals).
    assert summary["val_size"] == 5000 and summary["test_size"] == 300
    per_epoch = summary["val_accuracy_per_epoch"]
    assert len(per_epoch) == 2 and summary["selected_epoch"] == 1 + per_epoch.index(max(per_epoch))
    assert round(summary["val_accuracy"], 4) == max(per_epoch)
    manifest = json.loads((tmp_path / "MANIFEST.json").read_text())
    entry = manifest["tiny_lenet"]
    assert entry["test_accuracy"] == pytest.approx(summary["test_accuracy"], abs=0.005)
    assert entry["val_accuracy"] == summary["val_accuracy"] and entry["val_images"] == 5000
    assert entry["selected_epoch"] == summary["selected_epoch"] and entry["train_images"] == 512
    assert entry["command"].startswith("python -m course_utils.training --model lenet")
    assert isinstance(load_pretrained_file(save), torch.nn.Module)


@needs_data
def test_quiet_prints_only_the_json_line_and_resumes(tmp_path, capsys):
    args = ["--model", "mlp", "--train-size", "256", "--test-size", "100", "--quiet",
            "--device", "cpu", "--checkpoint", str(tmp_path / "run.pt")]
    first = run_cli(*args, "--epochs", "1")
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.strip().splitlines()) == 1
    second = run_cli(*args, "--epochs", "2")  # continues the checkpointed run
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert summary["epochs"] == 2
    first_summary = json.loads(first.stdout)
    assert summary["val_accuracy_per_epoch"][0] == round(first_summary["val_accuracy"], 4)
    assert summary["val_accuracy_per_epoch"][0] == first_summary["val_accuracy_per_epoch"][0]
    status, out, err = refused(capsys, *args, "--epochs", "2", "--lr", "0.01")  # another run
    assert status == 2 and out == ""
    assert "optimizer.groups[0].lr=0.001 → 0.01" in err
    assert "delete" in err and "--checkpoint" in err
    status, _, err = refused(capsys, *args, "--epochs", "2", "--label-smoothing", "0.1")
    assert status == 2 and "label_smoothing='<absent>' → 0.1" in err  # it reaches fit


@needs_data
def test_val_size_zero_keeps_the_last_epoch_and_bad_sizes_are_errors(capsys):
    result = run_cli("--model", "mlp", "--train-size", "256", "--test-size", "100", "--quiet",
                     "--device", "cpu", "--epochs", "1", "--val-size", "0")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["val_size"] == 0 and summary["val_accuracy"] is None
    assert summary["selected_epoch"] == 1 and 0 < summary["test_accuracy"] <= 1
    status, _, err = refused(capsys, "--model", "mlp", "--epochs", "1", "--val-size", "60000",
                             "--device", "cpu")
    assert status == 2 and "0 < val_size < 60000" in err


def test_unknown_model_is_a_clear_error():
    result = run_cli("--model", "resnet152", "--epochs", "1")  # through a real interpreter once
    assert result.returncode == 2
    assert "unknown model 'resnet152'" in result.stderr
    assert "small_cnn" in result.stderr and "lenet" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args, words", [
    (["--batch-size", "0"], "--batch-size must be positive, got 0"),
    (["--val-size", "-1"], "--val-size must be zero or more, got -1"),
    (["--label-smoothing", "1.0"], "--label-smoothing must be in [0, 1) (0.1 is usual), got 1.0"),
    (["--label-smoothing", "-0.1"], "--label-smoothing must be in [0, 1)"),
])
def test_bad_numbers_are_clear_errors(capsys, args, words):
    status, out, err = refused(capsys, "--model", "lenet", "--epochs", "1", *args)
    assert status == 2 and out == "" and words in err


def test_model_arguments_reach_the_model_and_bad_ones_are_clear(capsys):
    from course_utils.training.cli import parse_model_args
    assert parse_model_args(["depth=20", "shortcut=B", "convs=[1, 1, 1]"]) == \
        {"depth": 20, "shortcut": "B", "convs": [1, 1, 1]}
    status, _, err = refused(capsys, "--model", "resnet_small", "--arg", "depth")
    assert status == 2 and "--arg takes NAME=VALUE" in err
    status, _, err = refused(capsys, "--model", "resnet_small", "--arg", "depth=9", "--epochs", "0")
    assert status == 2 and "depth must be 6n + 2" in err


@needs_data
def test_a_resnet_trains_with_the_fast_tricks_and_saves_its_configuration(tmp_path):
    result = run_cli("--model", "resnet_small", "--arg", "depth=8", "--arg", "width=4",
                     "--epochs", "1", "--train-size", "256", "--val-size", "128",
                     "--test-size", "128", "--channels-last", "--quiet", "--device", "cpu",
                     "--augment", "flip", "--label-smoothing", "0.1", "--tta", "flip",
                     "--save", str(tmp_path / "tiny.pt"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    model = load_pretrained_file(tmp_path / "tiny.pt")
    assert model.config["depth"] == 8 and model.config["width"] == 4
    assert sum(p.numel() for p in model.parameters()) == summary["parameters"]
    entry = json.loads((tmp_path / "MANIFEST.json").read_text())["tiny"]
    images, labels = load_fashion_mnist("test")
    accuracy, _ = evaluate(model, images[:128], labels[:128], device="cpu", tta="flip")
    assert entry["tta"] == "flip" and entry["test_accuracy"] == accuracy  # measured with flips
    assert "--tta flip" in entry["command"]


def test_one_cycle_on_too_few_steps_is_refused_with_what_to_do():
    from course_utils.training.cli import ONECYCLE_MIN_STEPS, make_scheduler

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="needs at least 5 steps.*got 4.*smaller batch"):
        make_scheduler("onecycle", optimizer, 4)
    scheduler = make_scheduler("onecycle", optimizer, ONECYCLE_MIN_STEPS)
    for _ in range(ONECYCLE_MIN_STEPS - 1):  # to the last step
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] < 1e-5  # annealed to nearly nothing
