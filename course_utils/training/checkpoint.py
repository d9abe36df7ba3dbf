"""Save and resume a training run: model, optimizer, scheduler, history and RNG states.

A checkpoint is one ``torch.save`` file holding a dict with a format version, the model's
class and configuration, and everything needed to continue exactly where the run stopped.
Checkpoints written by ``fit`` also hold, in ``extra["config"]``, the record of the settings
that define the run (see :mod:`course_utils.training.config`), so that resuming with other
settings is refused instead of silently continuing (or returning) the old run.
It is written to a temporary file and renamed, so a crash never leaves half a checkpoint
under the real name. It is loaded with ``weights_only=True`` (no arbitrary pickles). Any
problem on loading - unreadable file, another model, missing entries - raises
:class:`CheckpointError` saying what is wrong and what to do.
"""

import random
from pathlib import Path

import numpy as np
import torch

from ..files import atomic_write

__all__ = ["FORMAT_VERSION", "CheckpointError", "save_checkpoint", "load_checkpoint",
           "read_checkpoint", "restore_checkpoint", "rng_states", "set_rng_states",
           "model_identity"]

# 2: fit's history has val_* columns (1: test_*, still read) and extra["config"] the run record.
FORMAT_VERSION = 2
REQUIRED_KEYS = ("format_version", "model_class", "model", "epoch", "history", "rng")


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used: corrupt, from another model, or incomplete."""


def _unwrap(model):
    """The nn.Module inside torch.compile and DistributedDataParallel wrappers."""
    model = getattr(model, "_orig_mod", model)  # torch.compile wrapper
    return getattr(model, "module", model)      # DistributedDataParallel wrapper


def model_identity(model):
    """(class name, config dict) of ``model``; config is what ``build_model`` was given."""
    model = _unwrap(model)
    return type(model).__name__, dict(getattr(model, "config", {}) or {})


def rng_states():
    """The states of Python's, numpy's and torch's (CPU and CUDA) generators, as tensors."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    states = {
        "python": list(random.getstate()[1]) + [random.getstate()[0]],
        "python_gauss": random.getstate()[2],
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "cached_gaussian": cached},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states):
    """Restore generator states saved by :func:`rng_states`."""
    python = states["python"]
    random.setstate((python[-1], tuple(python[:-1]), states["python_gauss"]))
    numpy = states["numpy"]
    np.random.set_state((numpy["name"], numpy["keys"].numpy().astype(np.uint32), numpy["pos"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        cuda = states["cuda"][:torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda)


def save_checkpoint(path, model, optimizer=None, scheduler=None, history=None, epoch=0,
                    extra=None, rng=None):
    """Write a checkpoint to ``path`` atomically (temporary file, then rename).

    Args:
        path: file to write; its folder is created if needed.
        model: the nn.Module (a DDP or torch.compile wrapper is unwrapped).
        optimizer, scheduler: saved through their ``state_dict()`` when given.
        history: a dict of per-epoch lists (``History.to_dict()``).
        epoch: number of completed epochs.
        extra: dict of further tensors/numbers/strings to keep (e.g. the loop's position).
        rng: generator states to store (default: the current ones, :func:`rng_states`).
    """
    model_class, config = model_identity(model)
    inner = _unwrap(model)
    state = {
        "format_version": FORMAT_VERSION,
        "model_class": model_class,
        "model_config": config,
        "model": inner.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": history or {},
        "epoch": int(epoch),
        "rng": rng if rng is not None else rng_states(),
        "extra": extra or {},
        "torch_version": str(torch.__version__),
    }
    return atomic_write(path, lambda f: torch.save(state, f))


def read_checkpoint(path, map_location="cpu"):
    """The checkpoint dict in ``path`` (nothing restored), or CheckpointError if unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # zip, pickle, EOF and unpickling errors all mean the same here
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated, corrupt, or not written by "
            f"course_utils): {type(error).__name__}: {str(error).splitlines()[0][:200]}\n"
            "Delete the file (or pass resume=False) to start the run from scratch.") from error
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a checkpoint dict; "
                              "delete it (or pass resume=False) to start from scratch.")
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path} lacks the entries {missing}: it is not a complete "
                              "course_utils checkpoint (a bare state_dict?). Delete it or pass "
                              "resume=False to start from scratch.")
    if state["format_version"] > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format version {state['format_version']}, newer than "
                              f"this course_utils ({FORMAT_VERSION}); update course_utils.")
    return state


def _load_model(path, state, model):
    """Load the weights into ``model`` after checking it is the same kind of model."""
    model_class, config = model_identity(model)
    saved_class, saved_config = state["model_class"], state.get("model_config", {})
    if (model_class, config) != (saved_class, saved_config):
        raise CheckpointError(
            f"{path} was saved from {saved_class}(**{saved_config}), but the model given is "
            f"{model_class}(**{config}). Build the matching model, or use another checkpoint "
            "path (or resume=False) to train this one from scratch.")
    inner = _unwrap(model)
    try:
        inner.load_state_dict(state["model"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: the weights do not fit {model_class}: "
                              f"{str(error).strip()[:400]}") from error


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, map_location="cpu",
                    restore_rng=True):
    """Read a checkpoint and restore it into the objects given.

    Args:
        path: file written by :func:`save_checkpoint`.
        model, optimizer, scheduler: restored in place when given.
        map_location: where tensors are loaded (then moved by ``load_state_dict``).
        restore_rng: also restore Python's, numpy's and torch's generator states.

    Returns:
        the checkpoint dict (``epoch``, ``history``, ``extra``, ...).

    Raises:
        CheckpointError: unreadable file, another model, or missing entries.
    """
    state = read_checkpoint(path, map_location)
    restore_checkpoint(path, state, model, optimizer, scheduler, restore_rng)
    return state


def restore_checkpoint(path, state, model=None, optimizer=None, scheduler=None, restore_rng=True):
    """Restore the checkpoint dict ``state`` (read from ``path``) into the objects given.

    The second half of :func:`load_checkpoint`; CheckpointError as there.
    """
    if model is not None:
        _load_model(path, state, model)
    for name, target in (("optimizer", optimizer), ("scheduler", scheduler)):
        if target is None:
            continue
        if state.get(name) is None:
            raise CheckpointError(f"{path} has no {name} state, but a {name} was given; it was "
                                  f"saved by a run without one. Use resume=False to start over.")
        try:
            target.load_state_dict(state[name])
        except (ValueError, KeyError, RuntimeError) as error:
            raise CheckpointError(f"{path}: the saved {name} state does not fit the "
                                  f"{type(target).__name__} given: {error}") from error
    if restore_rng:
        set_rng_states(state["rng"])
