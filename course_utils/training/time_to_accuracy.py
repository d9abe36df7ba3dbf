"""Time to accuracy: how a training recipe is timed (lesson 10, benchmarks/time_to_accuracy.py).

A recipe's figure is the training time (evaluation excluded) summed over its epochs up to and
including the first epoch whose *validation* accuracy reaches the target; the test set plays
no part in it. A run that never reaches the target takes ``math.inf`` seconds, so it compares
as slower than any run that does.
"""

import math

__all__ = ["seconds_to_target", "epoch_reaching"]


def _check_curves(val_accuracy, seconds):
    if len(val_accuracy) != len(seconds):
        raise ValueError(f"one validation accuracy and one training time per epoch: got "
                         f"{len(val_accuracy)} accuracies and {len(seconds)} times")


def epoch_reaching(val_accuracy, target):
    """The first epoch (counted from 1) whose validation accuracy is at least ``target``, or None.

    val_accuracy: one accuracy (0..1) per epoch, in order (``History.val_accuracy``).
    """
    return next((epoch for epoch, accuracy in enumerate(val_accuracy, start=1) if accuracy >= target), None)


def seconds_to_target(val_accuracy, seconds, target):
    """Training seconds of the epochs up to the first that reaches ``target``, or ``math.inf``.

    val_accuracy, seconds: one value per epoch (``History.val_accuracy``, ``History.seconds``).
    Example: accuracies [0.85, 0.90, 0.92], seconds [10, 10, 10], target 0.90 -> 20.0.
    """
    _check_curves(val_accuracy, seconds)
    epoch = epoch_reaching(val_accuracy, target)
    return math.inf if epoch is None else float(sum(seconds[:epoch]))
