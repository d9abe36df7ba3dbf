"""Fooling images (Szegedy et al. 2014; CS231n): a small change that makes the model say another class.

From the image x, take normalised gradient steps up the target class's logit,

    x ← clamp(x + step · g / ||g||₂, 0, 1)     (norm="l2"; norm="linf" steps by step · sign(g))

until the model predicts the target. The first success is usually a tiny, invisible change;
``shrink=True`` then scales the change down by bisection to the smallest multiple that still
fools the model.
"""

from typing import NamedTuple

import torch

from .arguments import choice, positive_int, positive_number
from .inputs import check_images, check_target, place_images, target_scores
from .modes import evaluating

__all__ = ["fooling_image", "Fooling", "NORMS"]

NORMS = ("l2", "linf")


class Fooling(NamedTuple):
    """What :func:`fooling_image` found (tensors C×H×W on the image's device).

    image: the fooling image in [0, 1]; perturbation: image − original; norm: {"l2": ||δ||₂,
    "linf": max |δ|}; steps: gradient steps taken; success: whether the model predicts the
    target for ``image``; predicted: the class it predicts.
    """

    image: torch.Tensor
    perturbation: torch.Tensor
    norm: dict
    steps: int
    success: bool
    predicted: int


def _predicts(model, x):
    with torch.no_grad():
        return int(model(x).argmax(dim=1)[0])


def _shrink(model, original, perturbation, target, rounds=20):
    """The smallest α in (0, 1] (to 2^−rounds) with clamp(x + α δ) still predicted ``target``."""
    low, high = 0.0, 1.0
    for _ in range(rounds):
        middle = (low + high) / 2
        if _predicts(model, (original + middle * perturbation).clamp(0, 1)) == target:
            high = middle
        else:
            low = middle
    return (original + high * perturbation).clamp(0, 1)


def fooling_image(model, image, target_class, *, max_steps=100, step=0.1, norm="l2", shrink=False):
    """A copy of ``image`` changed just enough for ``model`` to predict ``target_class``.

    The model runs in eval mode (modes restored); only the image is changed, the caller's
    tensor is not; parameters' ``requires_grad`` and ``.grad`` are untouched.

    Args:
        model: a classifier returning logits 1×classes.
        image: one image C×H×W (or 1×C×H×W), float, in [0, 1].
        target_class: the class the model should predict.
        max_steps: the most gradient steps; step: the length of each (L2 norm of the step
            for norm="l2", the change of every pixel for "linf"); smaller steps give smaller
            changes, at more steps.
        norm: "l2" (step along g / ||g||₂, CS231n) or "linf" (step along sign(g), iterative FGSM).
        shrink: after the first success, scale the change down to the smallest that still
            fools the model (bisection, 20 forward passes).

    Returns:
        :class:`Fooling`. ``success`` is False when ``max_steps`` were not enough (the image
        is then the last one tried).
    """
    if torch.is_tensor(image) and image.dim() == 3:
        image = image[None]
    if torch.is_tensor(image) and (image.dim() != 4 or len(image) != 1):
        raise ValueError(f"image must be one image C×H×W (or 1×C×H×W), got shape {tuple(image.shape)}")
    original = place_images(model, check_images(image))
    if original.min() < 0 or original.max() > 1:
        raise ValueError(f"image values must lie in [0, 1] (the fooling image is clamped there), got "
                         f"{float(original.min()):.3g}..{float(original.max()):.3g}; undo any normalisation")
    target = int(check_target(target_class, 1)[0])
    max_steps, step = positive_int(max_steps, "max_steps"), positive_number(step, "step")
    choice(norm, NORMS, "norm")
    x, taken = original.clone(), 0
    with evaluating(model):
        target_scores(model(x), torch.tensor([target]))  # checks the class range
        while _predicts(model, x) != target and taken < max_steps:
            inputs = x.detach().requires_grad_(True)
            with torch.enable_grad():
                score = target_scores(model(inputs.clone()), torch.tensor([target]))
                (gradient,) = torch.autograd.grad(score.sum(), inputs)
            direction = gradient / gradient.norm().clamp(min=1e-12) if norm == "l2" else gradient.sign()
            x = (x + step * direction).clamp(0, 1)
            taken += 1
        predicted = _predicts(model, x)
        if shrink and predicted == target and taken > 0:
            x = _shrink(model, original, x - original, target)
            predicted = _predicts(model, x)
    delta = (x - original)[0]
    norms = {"l2": float(delta.norm()), "linf": float(delta.abs().max())}
    home = image.device
    return Fooling(x[0].to(home), delta.to(home), norms, taken, predicted == target, predicted)
