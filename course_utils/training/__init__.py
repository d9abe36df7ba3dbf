"""Training on CPU or GPU: device choice, augmentation, fit, checkpoints, DDP, command line.

Typical use in a lesson::

    from course_utils.training import fit, evaluate, pick_device, describe_device
    from course_utils.data import train_val_split
    train, val = train_val_split(train_x, train_y, val_size=5000)
    history = fit(model, train, val, epochs=5, augment="shift", restore_best=True)
    test_accuracy, test_loss = evaluate(model, test_x, test_y)   # once, at the end

Modules: ``device`` (pick_device), ``augment`` (random_shift, random_flip), ``optimizers``
(default_optimizer: the one default of fit and the command line), ``checkpoint``
(save/load, CheckpointError), ``config`` (the run record that makes resuming with other
settings an error: SettingsMismatchError), ``loop`` (fit, FitSettings), ``history`` (History),
``interrupt`` (Ctrl-C between batches), ``distributed`` (torchrun), ``cli`` (the command line
``python -m course_utils.training``). ``evaluate`` and ``Evaluation`` come from
:mod:`course_utils.evaluation` and are re-exported here.
"""

import os

# OpenMP threads that busy-wait between operations starve each other when the machine has
# more runnable threads than cores (a shared 2-core machine: measured 3.5x slower). Passive
# waiting costs little when the cores are free. Must be set before torch loads OpenMP, so it
# is set here: ``python -m course_utils.training`` imports this file before its __main__. It
# takes effect only in a process where torch is not imported yet, and an explicit value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ..evaluation import Evaluation, evaluate  # noqa: E402
from .augment import AUGMENTATIONS, make_augment, random_flip, random_shift  # noqa: E402
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from .config import SettingsMismatchError  # noqa: E402
from .device import DEVICE_ENV, describe_device, pick_device  # noqa: E402
from .history import History  # noqa: E402
from .loop import FitSettings, fit, steps_per_epoch  # noqa: E402
from .optimizers import default_optimizer, parameter_groups  # noqa: E402

__all__ = ["AUGMENTATIONS", "make_augment", "random_flip", "random_shift", "CheckpointError",
           "load_checkpoint", "save_checkpoint", "SettingsMismatchError", "DEVICE_ENV",
           "describe_device", "pick_device",
           "Evaluation", "History", "evaluate", "FitSettings", "fit", "steps_per_epoch",
           "default_optimizer", "parameter_groups"]
