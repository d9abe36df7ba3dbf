"""Looking at a trained classifier: predictions, confusion matrix, robustness to shifts.

    predictions = predict(model, test_x)                    # N class indices
    matrix = confusion_matrix(predictions, test_y)          # 10×10 counts, rows = true class
    curve = shift_robustness(model, test_x, test_y, max_shift=4)   # accuracy at 0..4 px

Shifts follow :func:`course_utils.transforms.shift_image`: content moves, zeros come in.
"""

import numpy as np
import torch

from .training.loop import evaluate
from .transforms import shift_image

__all__ = ["predict", "confusion_matrix", "shift_directions", "accuracy_under_shift",
           "shift_robustness"]


@torch.no_grad()
def predict(model, images, batch_size=1024):
    """Class indices that ``model`` (put in eval mode) gives to images N×C×H×W: int64 tensor N."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = [model(images[i:i + batch_size].to(device)).argmax(1).cpu()
           for i in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(out)


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
