"""Training on CPU or GPU: device choice, augmentation, fit/evaluate, checkpoints, DDP.

Typical use in a lesson::

    from course_utils.training import fit, evaluate, pick_device, describe_device
    history = fit(model, (train_x, train_y), (test_x, test_y), epochs=5, augment="shift")

Modules: ``device`` (pick_device), ``augment`` (random_shift, random_flip), ``checkpoint``
(save/load, CheckpointError), ``loop`` (fit, evaluate, History), ``distributed`` (torchrun).
"""

from .augment import AUGMENTATIONS, make_augment, random_flip, random_shift
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .device import DEVICE_ENV, describe_device, pick_device
from .loop import Evaluation, History, evaluate, fit, steps_per_epoch

__all__ = ["AUGMENTATIONS", "make_augment", "random_flip", "random_shift", "CheckpointError",
           "load_checkpoint", "save_checkpoint", "DEVICE_ENV", "describe_device", "pick_device",
           "Evaluation", "History", "evaluate", "fit", "steps_per_epoch"]
