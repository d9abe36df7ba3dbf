"""Which device to train on: CUDA, then Apple MPS, then CPU, unless told otherwise.

The choice can be forced with the ``prefer`` argument or, without changing any code, with
the environment variable ``COURSE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``). Nothing
here prints; lessons print :func:`describe_device` themselves.
"""

import os
import platform

import torch

__all__ = ["DEVICE_ENV", "pick_device", "describe_device"]

DEVICE_ENV = "COURSE_DEVICE"


def _mps_available():
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def _check_available(device):
    """Raise ValueError when ``device`` cannot be used on this machine."""
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} was asked for, but PyTorch sees no CUDA GPU "
                             f"(torch {torch.__version__}); use 'cpu' or unset {DEVICE_ENV}")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r} was asked for, but there are only "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not _mps_available():
        raise ValueError(f"device 'mps' was asked for, but Apple MPS is not available here; "
                         f"use 'cpu' or unset {DEVICE_ENV}")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {str(device)!r} is not supported: use 'cpu', 'cuda', "
                         "'cuda:N' or 'mps'")


def pick_device(prefer=None):
    """The torch.device to train on.

    Args:
        prefer: "auto" (or None), "cpu", "cuda", "cuda:N", "mps" or a torch.device. When None,
            ``$COURSE_DEVICE`` is used if set, else "auto".

    Returns:
        "auto" gives CUDA if available, else MPS if available, else CPU. An explicit choice
        that this machine cannot honour raises ValueError (it is never silently replaced).
    """
    choice = prefer if prefer is not None else os.environ.get(DEVICE_ENV, "").strip() or "auto"
    if isinstance(choice, str) and choice.lower() == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(choice)
    except (RuntimeError, TypeError) as error:
        source = "prefer" if prefer is not None else f"${DEVICE_ENV}"
        raise ValueError(f"{source}={choice!r} is not a device: use 'auto', 'cpu', 'cuda', "
                         "'cuda:N' or 'mps'") from error
    _check_available(device)
    return device


def describe_device(device=None):
    """One line about ``device`` (default: :func:`pick_device`), e.g. 'cpu (2 threads, x86_64)'."""
    device = pick_device() if device is None else torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return (f"cuda:{index} ({props.name}, {props.total_memory / 2**30:.0f} GiB, "
                f"torch {torch.__version__})")
    if device.type == "mps":
        return f"mps (Apple GPU, {platform.machine()}, torch {torch.__version__})"
    return (f"cpu ({torch.get_num_threads()} threads, {platform.machine()}, "
            f"torch {torch.__version__})")
