"""Looking at a classifier: accuracy and loss, predictions, confusion matrix, robustness to shifts.

    accuracy, loss = evaluate(model, test_x, test_y)        # Evaluation(accuracy, loss)
    predictions = predict(model, test_x)                    # N class indices
    matrix = confusion_matrix(predictions, test_y)          # 10×10 counts, rows = true class
    curve = shift_robustness(model, test_x, test_y, max_shift=4)   # accuracy at 0..4 px

Every forward pass here goes through one batch loop, :func:`batch_logits` (eval mode, no
gradients, optional mixed precision and channels_last); ``fit`` measures its validation data
with the same loop after every epoch. The test set is for :func:`evaluate`, once, after the
epochs and settings have been chosen on validation data. Shifts follow
:func:`course_utils.transforms.shift_image`: content moves, zeros come in.
"""

import contextlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .transforms import shift_image

__all__ = ["Evaluation", "evaluate", "predict", "confusion_matrix", "shift_directions",
           "accuracy_under_shift", "shift_robustness", "Placement", "batch_logits", "eval_mode",
           "evaluation_sums", "check_data"]


class Evaluation(NamedTuple):
    """Accuracy (fraction correct, 0..1) and mean cross-entropy loss on a data set."""

    accuracy: float
    loss: float


# --- how a model runs ------------------------------------------------------------------------

@dataclass(frozen=True)
class Placement:
    """Where and in which formats a model runs: shared by evaluation and ``fit``.

    device: a torch.device; amp_dtype: the autocast dtype, or None for full precision;
    channels_last: whether image batches (and the model) use the channels_last layout.
    """

    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False

    @classmethod
    def choose(cls, model, device, amp=None, channels_last=None):
        """The placement for ``model`` on ``device`` (a torch.device); None means automatic.

        ``amp`` None: mixed precision on CUDA only (bfloat16 where supported, else float16;
        bfloat16 on CPU, float16 on MPS when asked for). ``channels_last`` None: for conv
        nets on CUDA and CPU, where it was measured faster.
        """
        if channels_last is None:
            has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
            channels_last = has_conv and device.type in ("cuda", "cpu")
        return cls(device, _amp_dtype(amp, device), bool(channels_last))

    def prepare(self, model):
        """Move ``model`` to the device (and to channels_last if used), in place."""
        model.to(self.device)
        self.use_layout(model)

    def use_layout(self, model):
        """Put ``model``'s weights in channels_last when this placement uses it, in place."""
        if self.channels_last:
            model.to(memory_format=torch.channels_last)

    def inputs(self, images):
        """A batch N×C×H×W on the device, in the memory format the model expects."""
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def autocast(self):
        """Context for the forward pass: autocast to ``amp_dtype``, or nothing."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)


def _amp_dtype(amp, device):
    """Autocast dtype for ``amp`` (None = auto: on for CUDA only), or None for full precision."""
    if amp is None:
        amp = device.type == "cuda"
    if not amp:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16 if device.type == "mps" else torch.bfloat16


def check_data(data, name):
    """(images N×C×H×W, labels N) from a pair of tensors, or ValueError naming ``name``."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2
            and all(torch.is_tensor(t) for t in data)):
        raise ValueError(f"{name} must be a pair of tensors (images N×C×H×W, labels N)")
    images, labels = data
    if images.dim() != 4 or labels.dim() != 1 or len(images) != len(labels):
        raise ValueError(f"{name}: images must be N×C×H×W and labels N, got "
                         f"{tuple(images.shape)} and {tuple(labels.shape)}")
    if len(images) == 0:
        raise ValueError(f"{name} is empty")
    return images, labels


# --- the batch loop --------------------------------------------------------------------------

@contextlib.contextmanager
def eval_mode(model):
    """Run the ``with`` block with ``model`` in eval mode, then restore the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


TTA_CHOICES = (None, "flip")


def check_tta(tta):
    """``tta`` if it is a known test-time augmentation (None or "flip"), else ValueError."""
    if tta not in TTA_CHOICES:
        raise ValueError(f"tta must be None (the images as they are) or 'flip' (the mean of the "
                         f"logits of each image and of its mirror image), got {tta!r}")
    return tta


@torch.no_grad()
def batch_logits(model, images, batch_size, placement, tta=None):
    """Yield ``(rows, logits)`` for consecutive batches of ``images`` N×C×H×W.

    ``rows`` is the slice of the batch in ``images``; ``logits`` are B×classes on the device.
    ``tta="flip"``: the logits are the mean of those of the images and of their left-right
    mirror images (test-time augmentation; it helps a model trained with random flips).
    No gradients are kept; the caller puts the model in eval mode (:func:`eval_mode`).
    """
    check_tta(tta)
    for start in range(0, len(images), batch_size):
        x = placement.inputs(images[start:start + batch_size])
        with placement.autocast():
            logits = model(x)
            if tta == "flip":
                logits = (logits.float() + model(x.flip(-1)).float()) / 2
        yield slice(start, start + len(x)), logits


def evaluation_sums(model, images, labels, batch_size, placement, tta=None):
    """(summed loss, number correct, count) of ``model`` on images N×C×H×W, labels N
    (``tta``: see :func:`batch_logits`)."""
    loss_sum = torch.zeros((), dtype=torch.float64, device=placement.device)
    correct = torch.zeros((), dtype=torch.int64, device=placement.device)
    with eval_mode(model):
        for rows, logits in batch_logits(model, images, batch_size, placement, tta):
            y = labels[rows].to(placement.device, non_blocking=True)
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").double()
            correct += (logits.argmax(1) == y).sum()
    return loss_sum.item(), correct.item(), len(images)


def evaluate(model, images, labels, batch_size=1024, device=None, amp=None, channels_last=None,
             tta=None):
    """Accuracy and mean loss of ``model`` on ``images`` N×C×H×W with ``labels`` N.

    Args:
        device: where to run; None uses the device the model's parameters are on (the model
            is moved when a device is given).
        amp, channels_last: as in ``fit`` (None: automatic, see :meth:`Placement.choose`).
        tta: None, or "flip" to average the logits of each image and its mirror image
            (test-time augmentation; measure the validation set the same way).

    Returns:
        Evaluation(accuracy, loss), e.g. ``acc, loss = evaluate(...)``. The model is left in
        the mode (train or eval) it was in.
    """
    # Imported here: importing course_utils.training imports this module.
    from .training.device import pick_device

    images, labels = check_data((images, labels), "evaluate data")
    check_tta(tta)
    if device is None:
        device = _parameter_device(model)
    else:
        device = pick_device(device)
        model.to(device)
    placement = Placement.choose(model, device, amp, channels_last)
    placement.use_layout(model)
    loss_sum, correct, count = evaluation_sums(model, images, labels, batch_size, placement, tta)
    return Evaluation(correct / count, loss_sum / count)


def _parameter_device(model):
    """The device of ``model``'s first parameter (CPU for a model without parameters)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def predict(model, images, batch_size=1024):
    """Class indices that ``model`` (put in eval mode) gives to images N×C×H×W: int64 tensor N.

    Runs on the device of the model's parameters, in full precision; the model is left in
    the mode it was in.
    """
    placement = Placement(_parameter_device(model))
    with eval_mode(model):
        return torch.cat([logits.argmax(1).cpu()
                          for _, logits in batch_logits(model, images, batch_size, placement)])


# --- confusion and robustness ----------------------------------------------------------------

def confusion_matrix(predictions, labels, num_classes=10):
    """Counts ``matrix[true, predicted]``: int64 numpy array num_classes×num_classes."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions {predictions.shape} and labels {labels.shape} differ in shape")
    flat = np.bincount(labels * num_classes + predictions, minlength=num_classes ** 2)
    return flat.reshape(num_classes, num_classes)


def shift_directions(shift):
    """The eight (dy, dx) moves of ``shift`` pixels: 4 along the axes, 4 diagonal; [(0, 0)] for 0."""
    if shift < 0:
        raise ValueError(f"shift must be >= 0 pixels, got {shift}")
    if shift == 0:
        return [(0, 0)]
    return [(dy * shift, dx * shift) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


def accuracy_under_shift(model, images, labels, shift):
    """Mean test accuracy (0..1) over the eight moves of ``shift`` pixels of every image.

    images: N×C×H×W, labels: N. The model is evaluated in eval mode.
    """
    accuracies = [evaluate(model, shift_image(images, dy, dx), labels).accuracy
                  for dy, dx in shift_directions(shift)]
    return float(np.mean(accuracies))


def shift_robustness(model, images, labels, max_shift=4):
    """``accuracy_under_shift`` for shifts 0, 1, ..., max_shift: numpy array of max_shift + 1."""
    return np.array([accuracy_under_shift(model, images, labels, s) for s in range(max_shift + 1)])
