"""Seconds of training until a target validation accuracy, with the shipped recipes.

    python benchmarks/time_to_accuracy.py [--only lenet_modern small_cnn]

Each recipe is a command line of ``python -m course_utils.training``; the recipes of the
shipped checkpoints are read from ``course_utils/pretrained/MANIFEST.json`` (their
``--save`` dropped). The command line holds out ``--val-size`` (default 5000) of the 60k
training images as validation data and trains on the rest.

Nothing is decided on the test set. "Reached" is decided on validation: the validation
accuracy is measured after every epoch, and the figure is the training time (evaluation
excluded) summed up to the first epoch whose *validation* accuracy reaches the target, or
"not reached". The test accuracy on the 10k test images is reported once: the command
line measures it at the end, on the weights of the epoch with the best validation
accuracy (its ``selected_epoch``), so the test figure printed is that of the selected
epoch, not of the epoch that reached the target and not a maximum over epochs.

Targets (issue 14): LeNet-class models 90% within 20 s of training, the small CNN 93% within
120 s. Timings depend on the machine and on what else runs on it: they are figures
to read, not tests.
"""

import argparse
import json
import math
import shlex
import subprocess
import sys
from pathlib import Path

from course_utils.pretrained import read_manifest
from course_utils.training import describe_device
from course_utils.training.time_to_accuracy import epoch_reaching, seconds_to_target

TARGETS = {"lenet": 0.90, "lenet_modern": 0.90, "small_cnn": 0.93, "mlp": 0.88}
EXTRA_RECIPES = {  # recipes that are not shipped: the fastest found on the 2-core CPU
    "lenet_modern": "python -m course_utils.training --model lenet_modern --epochs 8 "
                    "--batch-size 128 --lr 3e-3 --optimizer adamw --schedule onecycle",
    # 3 epochs and a larger step; NCHW: channels_last made this small net 1.3x slower
    "lenet_modern_fast": "python -m course_utils.training --model lenet_modern --epochs 3 "
                         "--batch-size 128 --lr 1e-2 --optimizer adamw --schedule onecycle "
                         "--no-channels-last",
    # 5 epochs instead of 12; channels_last made this net 1.3x faster, bfloat16 autocast
    # (--amp, on CPUs with AVX-512 BF16) 1.5-1.7x more; random flips bought the accuracy back
    # (lesson 10: 0.44 points on one seed); label smoothing and test-time flips measured
    # within noise there (+0.06 points without smoothing; flips at test time +0.24 ± 0.15)
    "small_cnn_fast": "python -m course_utils.training --model small_cnn --epochs 5 "
                      "--batch-size 256 --lr 6e-3 --optimizer adamw --schedule onecycle "
                      "--channels-last --amp --augment flip --label-smoothing 0.1 --tta flip",
}


def recipes():
    """name -> command line: the shipped checkpoints' commands, then the extra ones."""
    found = {name: entry["command"] for name, entry in sorted(read_manifest().items())}
    for name, command in EXTRA_RECIPES.items():
        found.setdefault(name, command)
    return found


def without_save(argv):
    """The arguments with ``--save PATH`` removed (the benchmark writes no checkpoint)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--save":
            skip = True
        elif not arg.startswith("--save="):
            out.append(arg)
    return out


def run(command):
    """Run a recipe; returns the JSON summary of the CLI."""
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "course_utils.training"], command
    args = [sys.executable, "-m", "course_utils.training", *without_save(argv[3:]), "--quiet"]
    done = subprocess.run(args, capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None, help="recipe names to run")
    args = parser.parse_args()
    print(describe_device("cpu"))
    for name, command in recipes().items():
        if args.only and name not in args.only:
            continue
        summary = run(command)
        model = summary["model"]
        target = TARGETS.get(model, 0.9)
        if not summary["val_accuracy_per_epoch"]:
            print(f"{name}: {command}\n  no validation data (--val-size 0): nothing to time")
            continue
        accuracies = summary["val_accuracy_per_epoch"]
        seconds = seconds_to_target(accuracies, summary["seconds_per_epoch"], target)
        reached = (seconds, epoch_reaching(accuracies, target)) if seconds < math.inf else None
        curve = " ".join(f"{a:.4f}" for a in summary["val_accuracy_per_epoch"])
        print(f"{name}: {command}")
        print(f"  validation accuracy per epoch ({summary['val_size']} images): {curve}")
        selected = (f"test {summary['test_accuracy']:.4f} at the selected epoch "
                    f"{summary['selected_epoch']} (validation {summary['val_accuracy']:.4f}), "
                    f"{summary['train_seconds']:.1f} s of training in all")
        if reached:
            print(f"  {name}: {target:.0%} validation accuracy after {reached[0]:.1f} s of "
                  f"training (epoch {reached[1]}); {selected}")
        else:
            print(f"  {name}: {target:.0%} validation accuracy not reached; {selected}")


if __name__ == "__main__":
    main()
