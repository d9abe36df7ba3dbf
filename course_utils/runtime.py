"""Run-time settings shared by every lesson: quick mode and seeding.

Quick mode
----------
Set the environment variable ``COURSE_QUICK=1`` (CI does) to make training
cells run a shortened version of their experiment. Nothing else changes with
it. A cell that uses it must print only text that does not depend on the mode,
or mark its output as ignored by nbval with a comment saying why.
"""

import os
import random

import numpy as np
import torch

__all__ = ["QUICK_ENV", "quick_mode", "quick_or_full", "seed_everything"]

QUICK_ENV = "COURSE_QUICK"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


def quick_mode():
    """True when ``$COURSE_QUICK`` asks for the short version of training cells."""
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{QUICK_ENV}={os.environ[QUICK_ENV]!r} is not understood: "
                     f"use 1 (quick) or 0 (full run)")


def quick_or_full(quick, full):
    """``quick`` in quick mode, ``full`` otherwise (e.g. a number of steps)."""
    return quick if quick_mode() else full


def seed_everything(seed=0):
    """Seed Python's, numpy's and torch's generators; returns a numpy Generator."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)
