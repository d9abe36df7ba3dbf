"""Train a course model on Fashion-MNIST from the command line.

    python -m course_utils.training --model small_cnn --epochs 12 --schedule onecycle \\
        --augment shift-flip --save course_utils/pretrained/small_cnn.pt

Nothing is chosen on the test set. ``--val-size N`` images (default 5000) are drawn from the
60,000 training images with ``--seed`` and held out as validation data; the model trains on
the rest (or on a ``--train-size`` subset of the rest), is measured on validation after
every epoch, and at the end the weights of the epoch with the best validation accuracy are
restored (``fit(..., restore_best=True)``). Only then is the test set evaluated, once.
``--val-size 0`` trains on all 60,000 images without validation and keeps the last epoch
(e.g. to retrain on everything once a recipe has been chosen on validation).

The last line of standard output is one JSON object (``val_accuracy`` and ``selected_epoch``:
the epoch kept; ``test_accuracy``: measured once on it; ``val_accuracy_per_epoch``,
``train_seconds``, ``epochs``, ``model``, ``parameters``, ``device``, ``world_size``, ...),
so scripts can ``json.loads(output.splitlines()[-1])``. Under ``torchrun --nproc_per_node=K``
the same command trains with DistributedDataParallel (gloo on CPU, nccl on GPU); only rank
0 prints and writes files. ``--save`` writes the trained weights in the format of
``course_utils.pretrained.load_pretrained`` and records them in the folder's ``MANIFEST.json``
(test accuracy measured after reloading the file, validation accuracy and selected epoch,
this exact command, seconds, versions).

The default optimizer is the course's ``default_optimizer`` (AdamW, lr 1e-3, weight decay
0.05 on weights only), the same as ``fit``'s.

``OMP_WAIT_POLICY=PASSIVE`` is set by ``course_utils/training/__init__.py``, which Python
imports before this module and before torch (see the reason there).
"""

import argparse
import ast
import json
import shlex
import sys
from pathlib import Path

import torch

from ..data import DatasetError, load_fashion_mnist, train_val_split
from ..evaluation import evaluate
from ..models import build_model, model_names
from ..pretrained import publish_pretrained
from . import distributed
from .augment import AUGMENTATIONS
from .checkpoint import CheckpointError
from .device import describe_device, pick_device
from .loop import fit, steps_per_epoch
from .optimizers import DEFAULT_LR as ADAMW_LR
from .optimizers import DEFAULT_WEIGHT_DECAY, default_optimizer, parameter_groups

PROG = "python -m course_utils.training"
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": ADAMW_LR}
DEFAULT_DECAY = {"sgd": 5e-4, "adam": 0.0, "adamw": DEFAULT_WEIGHT_DECAY}


def parse_args(argv=None):
    """The command line's options (argparse exits with a message on bad ones)."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help=f"one of {', '.join(model_names())}")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="a keyword argument of the model, repeatable, e.g. --model "
                             "resnet_small --arg depth=20 --arg width=16")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128,
                        help="images per step, over all processes under torchrun")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (peak for onecycle); default sgd 0.05, adam(w) 1e-3")
    parser.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="adamw",
                        help="default adamw: the course's default_optimizer (also fit's)")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="default 5e-4 for sgd, 0.05 for adamw, 0 for adam; applied to "
                             "weights only, never to biases and normalisation parameters")
    parser.add_argument("--schedule", choices=("none", "onecycle", "cosine"), default="none")
    parser.add_argument("--augment", choices=AUGMENTATIONS, default="none")
    parser.add_argument("--label-smoothing", type=float, default=0.0, metavar="EPS",
                        help="share of each training target spread over all classes, in "
                             "[0, 1) (default 0; 0.1 is usual)")
    parser.add_argument("--tta", choices=("none", "flip"), default="none",
                        help="test-time augmentation for validation and test: flip averages "
                             "the logits of each image and its mirror image (for --augment flip)")
    parser.add_argument("--val-size", type=int, default=5000,
                        help="validation images drawn (with --seed) from the 60000 training "
                             "images; the epoch with the best validation accuracy is kept. "
                             "0: no validation, train on all and keep the last epoch")
    parser.add_argument("--train-size", type=int, default=None,
                        help="train on a random subset of this many of the remaining "
                             "training images (default: all of them)")
    parser.add_argument("--test-size", type=int, default=None,
                        help="evaluate on the first N test images (default: all 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="checkpoint written every epoch and on Ctrl-C; resumed if it exists")
    parser.add_argument("--save", type=Path, default=None,
                        help="write the trained weights for load_pretrained (+ MANIFEST.json)")
    parser.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N, mps")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                        help="mixed precision (default: on CUDA only)")
    parser.add_argument("--compile", action="store_true", help="use torch.compile")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="channels_last memory format (default: for conv nets on CUDA; "
                             "also faster for conv nets on many CPUs)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--state-file", type=Path, default=None,
                        help="each rank writes its final parameters to PATH.rankR.pt (for tests)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    args = parser.parse_args(argv)
    if args.model not in model_names():
        parser.error(f"unknown model {args.model!r}; choose from {', '.join(model_names())}")
    try:
        args.model_kwargs = parse_model_args(args.arg)
    except ValueError as error:
        parser.error(str(error))
    for name in ("epochs", "batch_size", "train_size", "test_size", "val_size"):
        value = getattr(args, name)
        least = 0 if name in ("epochs", "val_size") else 1
        if value is not None and value < least:
            parser.error(f"--{name.replace('_', '-')} must be "
                         f"{'positive' if least else 'zero or more'}, got {value}")
    if not 0.0 <= args.label_smoothing < 1.0:
        parser.error(f"--label-smoothing must be in [0, 1) (0.1 is usual), got {args.label_smoothing}")
    return args


def parse_model_args(pairs):
    """``["depth=20", "shortcut=B"]`` -> ``{"depth": 20, "shortcut": "B"}`` (numbers, booleans,
    lists as Python literals; anything else stays a string)."""
    kwargs = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"--arg takes NAME=VALUE, e.g. --arg depth=20; got {pair!r}")
        try:
            kwargs[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            kwargs[name] = text
    return kwargs


def make_optimizer(name, model, lr, weight_decay):
    """SGD with Nesterov momentum 0.9, Adam, or AdamW (``default_optimizer``).

    ``lr`` and ``weight_decay`` None take the defaults of ``DEFAULT_LR`` and ``DEFAULT_DECAY``.
    The decay applies to the weights only: biases and normalisation parameters are in a
    group without it (:func:`course_utils.training.optimizers.parameter_groups`).
    """
    lr = DEFAULT_LR[name] if lr is None else lr
    wd = DEFAULT_DECAY[name] if weight_decay is None else weight_decay
    if name == "adamw":
        return default_optimizer(model, lr=lr, weight_decay=wd)
    groups = parameter_groups(model, wd)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    return torch.optim.Adam(groups, lr=lr)


ONECYCLE_MIN_STEPS = 5  # with a quarter rising: the rise and the fall each longer than 0 steps


def make_scheduler(name, optimizer, total_steps):
    """Per-batch schedule over ``total_steps``: none, one-cycle, or cosine decay."""
    if name == "none" or total_steps == 0:
        return None
    if name == "onecycle":
        if total_steps < ONECYCLE_MIN_STEPS:
            raise ValueError(f"the one-cycle schedule needs at least {ONECYCLE_MIN_STEPS} steps (a quarter "
                             f"of them rising), got {total_steps}: train on more images or epochs, use a "
                             "smaller batch, or the schedule 'none'")
        peak = optimizer.param_groups[0]["lr"]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=total_steps,
                                                   pct_start=0.25)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)


def load_data(train_size, test_size, seed, val_size=0):
    """(train, val, test) pairs, the same on every rank; val is None when ``val_size`` is 0.

    The validation set is ``train_val_split(..., val_size, seed)`` of the 60000 training
    images; the train subset (``train_size``) is then drawn at random from the rest.
    """
    train_x, train_y = load_fashion_mnist("train")
    test_x, test_y = load_fashion_mnist("test")
    val_data = None
    if val_size:
        (train_x, train_y), val_data = train_val_split(train_x, train_y, val_size, seed)
    if train_size is not None and train_size < len(train_x):
        keep = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
        train_x, train_y = train_x[keep[:train_size]], train_y[keep[:train_size]]
    if test_size is not None:
        test_x, test_y = test_x[:test_size], test_y[:test_size]
    return (train_x, train_y), val_data, (test_x, test_y)


def tta_of(args):
    """The test-time augmentation of ``fit`` and ``evaluate`` (None or "flip") for ``--tta``."""
    return None if args.tta == "none" else args.tta


def command_line(argv):
    """The command that was run, as one shell-quoted string."""
    return shlex.join([*PROG.split(), *argv])


def write_pretrained(model, args, argv, result, test_data):
    """Save the weights, reload them, measure the test accuracy, update MANIFEST.json."""
    entry = publish_pretrained(model, args.model, args.save, test_data, tta=tta_of(args), details={
        "parameters": result["parameters"], "train_images": result["train_size"],
        "val_images": result["val_size"], "val_accuracy": result["val_accuracy"],
        "selected_epoch": result["selected_epoch"], "epochs": result["epochs"],
        "train_seconds": result["train_seconds"], "command": command_line(argv),
        "device": result["device"]})
    return entry["test_accuracy"]


def print_epoch(history):
    """One line per epoch on stdout (the progress bar is on stderr)."""
    row = {name: values[-1] for name, values in history.to_dict().items()}
    print("epoch {epoch} train loss {train_loss:.4f} acc {train_accuracy:.4f} val loss "
          "{val_loss:.4f} acc {val_accuracy:.4f} {seconds:.1f}s lr {lr:.2e}".format(**row),
          flush=True)


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    info = distributed.setup(args.device)
    try:
        status = _train(args, argv, info)
    except BaseException:
        distributed.cleanup(wait_for_peers=False)
        raise
    distributed.cleanup()
    return status


def _train(args, argv, info):
    """Train as ``args`` say; rank 0 prints the JSON summary (and saves). Exit status."""
    rank0 = info is None or info.rank == 0
    device = info.device if info is not None else pick_device(args.device)
    torch.manual_seed(args.seed)  # the initial weights (DDP then broadcasts rank 0's)
    try:
        model = build_model(args.model, **args.model_kwargs)
    except (TypeError, ValueError) as error:
        print(f"error: --model {args.model} with {args.model_kwargs}: {error}", file=sys.stderr)
        return 2
    try:
        train_data, val_data, test_data = load_data(args.train_size, args.test_size, args.seed,
                                                    args.val_size)
    except (DatasetError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    world = info.world_size if info is not None else 1
    optimizer = make_optimizer(args.optimizer, model, args.lr, args.weight_decay)
    total = args.epochs * steps_per_epoch(len(train_data[1]), args.batch_size, world)
    scheduler = make_scheduler(args.schedule, optimizer, total)
    if rank0 and not args.quiet:
        print(f"{args.model}: {sum(p.numel() for p in model.parameters()):,} parameters on "
              f"{describe_device(device)}, {world} process(es)", flush=True)
    try:
        history = fit(model, train_data, val_data, epochs=args.epochs,
                      batch_size=args.batch_size, optimizer=optimizer, scheduler=scheduler,
                      augment=args.augment, label_smoothing=args.label_smoothing, tta=tta_of(args),
                      device=device, checkpoint_path=args.checkpoint,
                      amp=args.amp, compile=args.compile, channels_last=args.channels_last,
                      progress=not args.quiet,
                      seed=args.seed, restore_best=val_data is not None,
                      callback=None if args.quiet or not rank0 else print_epoch)
    except CheckpointError as error:
        if rank0:
            print(f"error: {error}\nOn the command line: delete {args.checkpoint}, or pass "
                  "another --checkpoint, to start over; repeat the options of the first run "
                  "to continue it.", file=sys.stderr)
        return 2
    if args.state_file is not None:
        write_state_file(model, args.state_file, info.rank if info is not None else 0)
    if not rank0:
        return 0
    test = evaluate(model, *test_data, device=device, amp=args.amp, tta=tta_of(args))  # once
    result = summary(args, model, history, (train_data, val_data, test_data), device, world)
    result.update(test_accuracy=test.accuracy, test_loss=test.loss)
    if args.save is not None:
        result["saved"] = str(args.save)
        result["saved_test_accuracy"] = write_pretrained(model, args, argv, result, test_data)
    print(json.dumps(result), flush=True)
    return 0


def write_state_file(model, prefix, rank):
    """Write this rank's final parameters and buffers to ``PREFIX.rankR.pt`` (for tests)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, f"{prefix}.rank{rank}.pt")


def summary(args, model, history, data, device, world):
    """The JSON summary of a finished run; ``data`` is (train, val or None, test) pairs.

    ``selected_epoch`` is the epoch whose weights were kept (best validation accuracy, or
    the last one without validation data); ``val_accuracy`` / ``val_loss`` are its
    validation figures. The test figures are added by the caller, measured once.
    """
    train_data, val_data, test_data = data
    selected = history.best_epoch if val_data is not None else None
    if selected is None and len(history):
        selected = history.epoch[-1]
    row = history.epoch.index(selected) if selected is not None else None
    validated = val_data is not None and row is not None
    return {
        "model": args.model, "parameters": sum(p.numel() for p in model.parameters()),
        "epochs": len(history), "batch_size": args.batch_size, "optimizer": args.optimizer,
        "lr": DEFAULT_LR[args.optimizer] if args.lr is None else args.lr,
        "weight_decay": DEFAULT_DECAY[args.optimizer] if args.weight_decay is None
        else args.weight_decay,
        "schedule": args.schedule, "augment": args.augment, "train_size": len(train_data[1]),
        "val_size": len(val_data[1]) if val_data is not None else 0,
        "test_size": len(test_data[1]), "seed": args.seed, "device": str(device),
        "world_size": world, "torch": str(torch.__version__),
        "train_seconds": round(history.total_seconds, 3),
        "selected_epoch": selected,
        "val_accuracy": history.val_accuracy[row] if validated else None,
        "val_loss": history.val_loss[row] if validated else None,
        "test_accuracy": None, "test_loss": None,
        "val_accuracy_per_epoch": [round(a, 4) for a in history.val_accuracy]
        if val_data is not None else [],
        "seconds_per_epoch": [round(s, 2) for s in history.seconds],
    }
