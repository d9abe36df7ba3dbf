"""What every attribution function takes: a model, images N×C×H×W and N target classes.

:func:`prepare` checks the images and targets, copies the images to the model's device (the
caller's tensor is never touched) and remembers where they came from, so that results go back
there. :func:`target_scores` picks each image's target logit and checks the class range.
"""

from typing import NamedTuple

import torch

__all__ = ["Prepared", "prepare", "place_images", "check_images", "check_target", "target_scores",
           "model_device"]


def model_device(model):
    """The device of ``model``'s first parameter or buffer (the CPU for a model with neither)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _model_dtype(model, fallback):
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return fallback


def check_images(images):
    """``images`` if it is a float tensor N×C×H×W with N >= 1, else a ValueError saying what is wrong."""
    if not torch.is_tensor(images):
        raise ValueError(f"images must be a torch tensor N×C×H×W, got {type(images).__name__}; "
                         "convert with torch.as_tensor(images, dtype=torch.float32)")
    if images.dim() != 4:
        raise ValueError(f"images must be N×C×H×W (4 dimensions), got shape {tuple(images.shape)}; "
                         "for one image C×H×W use images.unsqueeze(0)")
    if not images.is_floating_point():
        raise ValueError(f"images must be a float tensor, got {images.dtype}; "
                         "convert with images.float() (and scale to the range the model was trained on)")
    if len(images) == 0:
        raise ValueError("images is empty (N = 0): pass at least one image")
    return images


def check_target(target, count):
    """Target classes as an int64 tensor of ``count`` indices >= 0.

    ``target`` is one int (the same class for every image), a list of ints or an integer
    tensor of ``count`` elements. Whether each index is below the number of classes is
    checked on the logits (:func:`target_scores`).
    """
    if isinstance(target, bool) or (torch.is_tensor(target) and target.dtype == torch.bool):
        raise ValueError("target must be class indices (ints), got booleans")
    if torch.is_tensor(target) and target.is_floating_point():
        raise ValueError(f"target must be integer class indices, got a {target.dtype} tensor; "
                         "use target.long() if the values are whole numbers")
    try:
        target = torch.as_tensor(target).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"target must be an int or a list/tensor of {count} class indices, "
                         f"got {target!r}") from error
    if target.is_floating_point() or target.dtype in (torch.bool, torch.complex64, torch.complex128):
        raise ValueError(f"target must be integer class indices, got values of type {target.dtype}")
    if target.dim() == 0:
        target = target.expand(count)
    if target.dim() != 1 or len(target) != count:
        raise ValueError(f"target must hold one class index per image: {count} for {count} images, "
                         f"got shape {tuple(target.shape)}")
    if (target < 0).any():
        raise ValueError(f"target class indices must be >= 0, got {target.tolist()}")
    return target.long()


def target_scores(logits, target):
    """Each image's target logit: ``logits[i, target[i]]``, a tensor of N.

    Raises a ValueError when the model's output is not N×classes or a target is not a class.
    """
    if logits.dim() != 2 or len(logits) != len(target):
        raise ValueError(f"the model must return logits N×classes for N = {len(target)} images, got "
                         f"shape {tuple(logits.shape)}")
    classes = logits.shape[1]
    if int(target.max()) >= classes:
        raise ValueError(f"target class {int(target.max())} is out of range: the model has {classes} "
                         f"outputs (classes 0..{classes - 1})")
    return logits.gather(1, target.to(logits.device)[:, None]).squeeze(1)


class Prepared(NamedTuple):
    """Checked inputs on the model's device, and the device results go back to.

    images: a copy N×C×H×W in the model's dtype; target: int64 N on the same device;
    home: the device the caller's images are on.
    """

    images: torch.Tensor
    target: torch.Tensor
    home: torch.device

    def back(self, result):
        """``result`` detached and moved to the caller's device."""
        return result.detach().to(self.home)


def place_images(model, images):
    """A checked copy of ``images`` (N×C×H×W float) on ``model``'s device, in its float dtype."""
    images = check_images(images)
    return images.detach().to(device=model_device(model), dtype=_model_dtype(model, images.dtype),
                              copy=True)


def prepare(model, images, target):
    """Check ``images`` (N×C×H×W float) and ``target`` (N classes) and place them for ``model``."""
    copy = place_images(model, images)
    target = check_target(target, len(images))
    return Prepared(copy, target.to(copy.device), images.device)
