"""What defines a training run, kept in its checkpoint so that a resume is never silent.

``fit`` writes a *run record* into every checkpoint: the settings that decide which weights
the run produces. When ``fit`` finds a checkpoint to resume, it builds the record of the
call it is in and compares the two; on any difference it raises
:class:`SettingsMismatchError`, listing each differing setting (checkpoint → this call) and
saying how to start over or continue. The record holds

* the FitSettings fields that define the run: ``epochs``, ``batch_size``, ``seed``,
  ``augment``, ``amp``, ``restore_best``, and ``label_smoothing`` and ``tta`` when they are
  set (so that older checkpoints still resume); not ``device``, ``channels_last``, ``compile``,
  ``eval_batch_size``, ``progress``, ``callback``, ``checkpoint_path``: they change where
  and how fast the run goes, or what it shows, not what it computes;
* the number of processes (``world_size``, under torchrun);
* the training and validation data: number of images, image shape and dtype, and a digest
  of all labels and of 256 images spread over the set;
* the model: its class, its ``config`` (the constructor's arguments, for the course models),
  the name and shape of every parameter, and for a model without ``config`` its printed
  layer list (``repr``), which shows the layers' arguments (e.g. ``Dropout(p=0.2)``);
* the optimizer: its class and, per param group, the names of its parameters and every
  hyper-parameter (lr, betas, momentum, weight_decay, ...) as they are when ``fit`` starts;
* the scheduler: its class and its ``state_dict()`` without the position in the schedule
  (``total_steps``, ``T_max``, phases, base learning rates, ...).

``epochs`` is the one setting that may differ: raising it continues the run to the new
total (train longer); lowering it is refused (the checkpoint may already be past it, and
fit would return more epochs than asked for). A schedule built for the old total is a
different scheduler and is refused. Custom augmentation functions are recorded by their
``name`` attribute when they have one (``make_augment`` sets it), else by their qualified
name; a ``LambdaLR``'s functions are not in its state_dict, so they cannot be compared.

Checkpoints written before the record existed hold only batch size, training-set size,
seed, number of processes and epochs: those are compared, and a warning says that the rest
could not be.
"""

import hashlib
import math
import numbers
import re
import warnings

import torch
import torch.nn as nn

from .checkpoint import CheckpointError

__all__ = ["SettingsMismatchError", "run_record", "record_differences", "check_resume"]

# Entries of a scheduler's state_dict that say where it is, not which schedule it is.
_SCHEDULER_POSITION = {"last_epoch", "_step_count", "_is_initial", "_get_lr_called_within_step",
                       "_last_lr", "verbose"}
_DATA_SAMPLE = 256  # images of a data set that enter its digest (all labels do)
_SHOWN = 15         # differences listed in an error message


class SettingsMismatchError(CheckpointError):
    """The checkpoint to resume holds a run with other settings than this ``fit`` call.

    ``differences`` is a list of ``(setting, value in the checkpoint, value in this call)``.
    """

    def __init__(self, message, differences=()):
        super().__init__(message)
        self.differences = list(differences)


# --- the record ------------------------------------------------------------------------------

def run_record(model, optimizer, scheduler, settings, train_data, val_data, world_size):
    """The record of a run as this ``fit`` call would start it (plain, ``weights_only``-safe)."""
    return {
        "epochs": settings.epochs, "batch_size": settings.batch_size, "seed": settings.seed,
        "augment": _augment_name(settings.augment), "amp": settings.amp,
        "restore_best": settings.restore_best, "world_size": world_size,
        **({"label_smoothing": settings.label_smoothing} if settings.label_smoothing else {}),
        **({"tta": settings.tta} if settings.tta else {}),  # it decides the epoch kept
        "train_data": _data_record(train_data), "val_data": _data_record(val_data),
        "model": _model_record(model),
        "optimizer": _optimizer_record(optimizer, model),
        "scheduler": _scheduler_record(scheduler),
    }


def _qualified(obj):
    """``module.QualifiedName`` of a class or function."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _augment_name(augment):
    if augment is None:
        return "none"
    if isinstance(augment, str):
        return augment
    name = getattr(augment, "name", None)
    if isinstance(name, str):
        return name
    if hasattr(augment, "__qualname__"):
        return _qualified(augment)
    return _without_addresses(repr(augment))


def _data_record(data):
    """Size, shape, dtype and a digest (all labels, 256 images) of (images, labels), or None."""
    if data is None:
        return None
    images, labels = data
    n = len(images)
    digest = hashlib.sha256(f"{tuple(images.shape)} {images.dtype} {labels.dtype}".encode())
    rows = torch.linspace(0, n - 1, min(n, _DATA_SAMPLE)).round().long().to(images.device)
    for tensor in (images[rows], labels):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return {"images": n, "shape": list(images.shape[1:]),
            "dtype": str(images.dtype).removeprefix("torch."), "digest": digest.hexdigest()[:16]}


def _unwrap(model):
    model = getattr(model, "_orig_mod", model)
    return getattr(model, "module", model)


def _model_record(model):
    model = _unwrap(model)
    config = getattr(model, "config", None)
    record = {"class": _qualified(type(model)),
              "config": _plain(dict(config)) if isinstance(config, dict) else None,
              "parameters": {name: list(p.shape) for name, p in model.named_parameters()}}
    if record["config"] is None:
        record["layers"] = _without_addresses(repr(model))
    return record


def _optimizer_record(optimizer, model):
    names = {id(p): name for name, p in _unwrap(model).named_parameters()}
    groups = []
    for group in optimizer.param_groups:
        entry = {"parameters": [names.get(id(p), f"<not in the model: {list(p.shape)}>")
                                for p in group["params"]]}
        entry.update({key: _plain(group[key]) for key in sorted(group) if key != "params"})
        groups.append(entry)
    return {"class": _qualified(type(optimizer)), "groups": groups}


def _scheduler_record(scheduler):
    if scheduler is None:
        return None
    state = scheduler.state_dict() if hasattr(scheduler, "state_dict") else {}
    return {"class": _qualified(type(scheduler)), "state": _plain(_schedule_only(state))}


def _schedule_only(state):
    """A scheduler's state_dict without its position (also inside nested schedulers)."""
    if isinstance(state, dict):
        return {key: _schedule_only(value) for key, value in state.items()
                if key not in _SCHEDULER_POSITION}
    if isinstance(state, (list, tuple)):
        return [_schedule_only(value) for value in state]
    return state


def _without_addresses(text):
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)


def _plain(value):
    """``value`` as numbers, strings, lists and dicts (comparable, and loadable weights_only)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return "nan" if math.isnan(value) else float(value)
    if torch.is_tensor(value):
        if value.numel() == 1:
            return _plain(value.item())
        return value.tolist() if value.numel() <= 16 else f"tensor{list(value.shape)}"
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, nn.Module):
        return _without_addresses(repr(value))
    if callable(value):
        return _qualified(value)
    return _without_addresses(repr(value))


# --- comparing records -----------------------------------------------------------------------

_ABSENT = "<absent>"


def record_differences(saved, current):
    """[(setting, saved value, current value)] of two run records; ``epochs`` may grow.

    Nested entries are named like ``optimizer.groups[0].lr``; a section present on one side
    only (e.g. a scheduler) is one difference showing its class.
    """
    differences = []
    _compare(saved, current, "", differences)
    return differences


def _compare(old, new, name, out):
    if old == new:
        return
    if name == "epochs" and isinstance(old, int) and isinstance(new, int) and new > old:
        return  # training longer continues the run
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [key for key in new if key not in old]:
            _compare(old.get(key, _ABSENT), new.get(key, _ABSENT), _join(name, key), out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new) \
            and any(isinstance(item, dict) for item in old + new):
        for index, (before, after) in enumerate(zip(old, new)):
            _compare(before, after, f"{name}[{index}]", out)
    elif isinstance(old, str) and isinstance(new, str) and "\n" in old + new:
        before, after = _first_differing_line(old, new)
        out.append((f"{name} (first differing line)", before, after))
    else:
        out.append((name, _summary(old), _summary(new)))


def _join(name, key):
    if re.fullmatch(r"[A-Za-z_]\w*", key):
        return f"{name}.{key}" if name else key
    return f"{name}[{key}]"


def _first_differing_line(old, new):
    old_lines, new_lines = old.splitlines(), new.splitlines()
    for before, after in zip(old_lines, new_lines):
        if before != after:
            return before.strip(), after.strip()
    shorter = min(len(old_lines), len(new_lines))
    return ((old_lines[shorter:] or [_ABSENT])[0].strip(),
            (new_lines[shorter:] or [_ABSENT])[0].strip())


def _summary(value):
    """A section shown whole: its class if it has one, the number of entries of a list."""
    if isinstance(value, dict) and "class" in value:
        return value["class"]
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        return f"<{len(value)} entries>"
    return value


def _show(value):
    text = repr(value)
    return text if len(text) <= 90 else text[:87] + "..."


def _mismatch_message(path, differences):
    lines = [f"{path} holds a run with other settings than this fit call, so resuming it "
             "would not continue that run (setting=value in the checkpoint → value in this "
             "call):"]
    lines += [f"  {name}={_show(before)} → {_show(after)}"
              for name, before, after in differences[:_SHOWN]]
    if len(differences) > _SHOWN:
        lines.append(f"  ... and {len(differences) - _SHOWN} more")
    names = [name for name, _, _ in differences]
    if any(name.endswith(".digest") for name in names):
        lines.append("(a data digest covers all labels and 256 of the images: the data differ)")
    if "epochs" in names:
        lines.append("(epochs may be raised to train longer, not lowered)")
    lines.append(f"To start over, delete {path}, pass resume=False or use another "
                 "checkpoint_path. To continue the old run, call fit with the settings it was "
                 "started with (the values on the left); raising epochs is allowed.")
    return "\n".join(lines)


def check_resume(path, extra, record):
    """Refuse (SettingsMismatchError) to resume from a checkpoint of a run with other settings.

    ``extra`` is the checkpoint's ``extra`` entry; ``record`` the :func:`run_record` of this
    call. A checkpoint written before run records existed is checked on what it holds, with
    a warning that the other settings could not be compared.
    """
    if "step" not in extra or ("config" not in extra and "fit" not in extra):
        raise CheckpointError(f"{path} has no training-loop position (was it written by "
                              "save_checkpoint directly?); pass resume=False to start over.")
    if "config" in extra:
        differences = record_differences(extra["config"], record)
    else:
        differences = _legacy_differences(extra["fit"], record)
    if differences:
        raise SettingsMismatchError(_mismatch_message(path, differences), differences)
    if "config" not in extra:
        warnings.warn(f"{path} was written by an older course_utils that recorded only the batch "
                      "size, training-set size, seed, number of processes and epochs of its run: "
                      "those match, but the optimizer, scheduler, augmentation, model and data "
                      "of this call could not be compared with that run's. If they differ, "
                      "delete the file or pass resume=False.", stacklevel=4)


def _legacy_differences(saved, record):
    """Differences from the settings an old checkpoint recorded (``extra["fit"]``)."""
    names = ("epochs", "batch_size", "seed", "world_size")
    old = {name: saved.get(name) for name in names}
    old["train_data"] = {"images": saved.get("train_size")}
    current = {name: record[name] for name in names}
    current["train_data"] = {"images": record["train_data"]["images"]}
    return record_differences(old, current)
