"""Class activation maps (Zhou et al. 2016) for networks ending in global average pooling + linear.

Such a network computes ``logit_c = Σ_k w_ck · mean_xy A_k(x, y) + b_c`` from its last feature
maps A (K×h×w), so ``M_c(x, y) = Σ_k w_ck A_k(x, y)`` says how much each place adds to the
class score: the mean of M_c over the places plus b_c is exactly the logit.
"""

import torch
import torch.nn as nn

from .inputs import prepare, target_scores
from .layers import forward_hooks
from .modes import evaluating

__all__ = ["cam"]


def _is_global_average_pool(module):
    return isinstance(module, nn.AdaptiveAvgPool2d) and module.output_size in (1, (1, 1))


def _fit_error(model, reason):
    return ValueError(
        f"cam needs a network that ends in global average pooling (an nn.AdaptiveAvgPool2d(1) "
        f"module) followed by one nn.Linear that gives the logits; {type(model).__name__} does not: "
        f"{reason}. Use grad_cam(model, images, target, layer) instead, which works for any conv layer")


def cam(model, images, target):
    """Class activation map of each image's target class: N×h×w on the images' device.

    Assumptions, checked on the forward pass: the logits are the output of an ``nn.Linear``
    (the last one run), and its input is the flattened output of an
    ``nn.AdaptiveAvgPool2d(1)`` module (dropout in between is fine: the model runs in eval
    mode). The maps entering that pooling are A (N×K×h×w) and the map is
    ``Σ_k W[target, k] · A_k``: signed, no ReLU, at the pooled layer's resolution (the lesson-07
    ResNet: 7×7); ``map.mean() + bias[target]`` is the target logit. LeNet5 and SmallCNN
    flatten instead of pooling and raise a ValueError (use :func:`grad_cam`).
    """
    pools = [module for module in model.modules() if _is_global_average_pool(module)]
    linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
    if not pools or not linears:
        missing = "no nn.AdaptiveAvgPool2d(1)" if not pools else "no nn.Linear"
        raise _fit_error(model, f"it has {missing}")
    batch = prepare(model, images, target)
    pooled, linear_calls = [], []

    def keep_pool(module, inputs, output):
        pooled.append((inputs[0], output))

    def keep_linear(module, inputs, output):
        linear_calls.append((module, inputs[0], output))

    hooks = [(pool, keep_pool) for pool in pools] + [(linear, keep_linear) for linear in linears]
    with torch.no_grad(), evaluating(model), forward_hooks(hooks):
        logits = model(batch.images)
    target_scores(logits, batch.target)  # checks the logits and the target classes
    if not linear_calls or linear_calls[-1][2] is not logits:
        raise _fit_error(model, "its output is not the output of an nn.Linear")
    linear, features, _ = linear_calls[-1]
    matches = [maps for maps, output in pooled
               if output.flatten(1).shape == features.shape and torch.equal(output.flatten(1), features)]
    if not matches:
        raise _fit_error(model, "the last nn.Linear does not take the global average pooling's output")
    weights = linear.weight[batch.target]  # N×K
    return batch.back(torch.einsum("nk,nkhw->nhw", weights, matches[-1]))
