"""Data augmentation as batched tensor ops: random shifts and horizontal flips.

Both functions take a whole batch N×C×H×W on any device, draw one random choice per image
from ``generator`` (a CPU ``torch.Generator``, so runs are reproducible on every device) and
never loop over images in Python.
"""

import torch
import torch.nn.functional as F

__all__ = ["AUGMENTATIONS", "random_shift", "random_flip", "make_augment"]

AUGMENTATIONS = ("none", "shift", "flip", "shift-flip")


def _check_batch(images):
    if not torch.is_tensor(images) or images.dim() != 4:
        shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
        raise ValueError(f"images must be a tensor N×C×H×W, got {shape}")


def _draw(size, generator, device, low, high):
    """``size`` random integers in [low, high], drawn on the generator's device, on ``device``."""
    where = generator.device if generator is not None else device
    return torch.randint(low, high + 1, size, generator=generator, device=where).to(device)


def random_shift(images, max_shift=2, generator=None):
    """Shift each image by its own random (dy, dx) in [-max_shift, max_shift]², zero filled.

    Args:
        images: tensor N×C×H×W.
        max_shift: largest shift in pixels (0 returns the images unchanged).
        generator: torch.Generator for the random shifts (None: the global one).

    Returns:
        tensor N×C×H×W; ``out[n, :, y, x] = images[n, :, y - dy, x - dx]``, 0 outside.
    """
    _check_batch(images)
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    if max_shift == 0:
        return images
    n, c, h, w = images.shape
    m = max_shift
    dy = _draw((n,), generator, images.device, -m, m)
    dx = _draw((n,), generator, images.device, -m, m)
    padded = F.pad(images, (m, m, m, m))                            # N×C×(H+2m)×(W+2m)
    rows = torch.arange(h, device=images.device) + (m - dy)[:, None]  # N×H
    cols = torch.arange(w, device=images.device) + (m - dx)[:, None]  # N×W
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def random_flip(images, p=0.5, generator=None):
    """Mirror each image left-right with probability ``p``.

    Args:
        images: tensor N×C×H×W.
        p: probability of a flip, in [0, 1].
        generator: torch.Generator for the coin flips (None: the global one).

    Returns:
        tensor N×C×H×W.
    """
    _check_batch(images)
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    where = generator.device if generator is not None else images.device
    flip = (torch.rand(len(images), generator=generator, device=where) < p).to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def make_augment(name, max_shift=2):
    """The augmentation called ``name`` (see ``AUGMENTATIONS``) as ``f(images, generator)``.

    "none" gives None; "shift" random shifts of up to ``max_shift`` pixels; "flip" random
    left-right flips (fine for clothes, wrong for digits); "shift-flip" both. The function's
    ``name`` attribute says which it is (a checkpoint records it, see ``training.config``).
    """
    if name == "none":
        return None
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}: choose from {', '.join(AUGMENTATIONS)}")

    def augment(images, generator=None):
        if name in ("shift", "shift-flip"):
            images = random_shift(images, max_shift, generator)
        if name in ("flip", "shift-flip"):
            images = random_flip(images, 0.5, generator)
        return images

    augment.name = name if max_shift == 2 or name == "flip" else f"{name}(max_shift={max_shift})"
    return augment
