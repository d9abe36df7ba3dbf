"""The gradient every gradient-based method starts from: d(target logit) / d(input image)."""

import torch

from .inputs import target_scores

__all__ = ["input_gradients"]


def input_gradients(model, images, target):
    """Gradient of each image's target logit with respect to that image: N×C×H×W.

    ``images`` (N×C×H×W) and ``target`` (N) are on the model's device; the caller has put the
    model in eval mode, so each logit depends on its own image only and one backward pass of
    the summed target logits gives every image's gradient. Gradients are computed even inside
    ``torch.no_grad()``; parameters' ``.grad`` are not touched (``torch.autograd.grad``).
    """
    inputs = images.detach().requires_grad_(True)
    with torch.enable_grad():
        # The clone lets a first layer work in place (ReLU(inplace=True)) without touching a leaf.
        scores = target_scores(model(inputs.clone()), target)
        (gradient,) = torch.autograd.grad(scores.sum(), inputs)
    return gradient
