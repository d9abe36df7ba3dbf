"""Integrated gradients (Sundararajan et al. 2017): gradients summed along a path from a baseline.

    IG(x) = (x − x') · ∫₀¹ ∂f(x' + α (x − x')) / ∂x dα

The integral is approximated by a quadrature rule with ``steps`` points α_k and weights w_k:
Gauss–Legendre by default (Captum's default, exact for polynomials of degree 2·steps − 1), or
the trapezoid rule on ``steps`` equally spaced points, 0 and 1 included.
"""

import numpy as np
import torch

from .gradients import input_gradients
from .inputs import prepare
from .modes import evaluating

__all__ = ["integrated_gradients", "quadrature", "METHODS"]

METHODS = ("gausslegendre", "riemann_trapezoid")


def quadrature(steps, method="gausslegendre"):
    """Points α_k in [0, 1] and weights w_k (summing to 1) of the rule, two lists of ``steps``.

    "gausslegendre": numpy's Gauss–Legendre nodes and weights moved from [−1, 1] to [0, 1]
    (the same numbers as Captum). "riemann_trapezoid": α_k = k / (steps − 1), weights
    1 / (steps − 1), halved at both ends; this is the trapezoid rule, whose weights sum to 1.
    (Captum's "riemann_trapezoid" uses weights 1 / steps, halved at the ends, which sum to
    1 − 1/steps: its attributions are (steps − 1) / steps times these.)
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (0.5 * (nodes + 1)).tolist(), (0.5 * weights).tolist()
    if method == "riemann_trapezoid":
        if steps < 2:
            raise ValueError("the trapezoid rule needs steps >= 2 (both ends of the path)")
        weights = [1 / (steps - 1)] * steps
        weights[0] /= 2
        weights[-1] /= 2
        return torch.linspace(0, 1, steps, dtype=torch.float64).tolist(), weights
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def _baseline_like(baseline, images):
    if baseline is None:
        return torch.zeros_like(images)
    baseline = torch.as_tensor(baseline, dtype=images.dtype, device=images.device)
    try:
        return torch.broadcast_to(baseline, images.shape)
    except RuntimeError as error:
        raise ValueError(f"baseline must be a number or a tensor that broadcasts to the images "
                         f"{tuple(images.shape)} (C×H×W or N×C×H×W), got shape "
                         f"{tuple(baseline.shape)}") from error


def integrated_gradients(model, images, target, baseline=None, steps=50, method="gausslegendre"):
    """Integrated gradients of each image's target logit: N×C×H×W on the images' device.

    Args:
        model, images, target: as in :func:`course_utils.interpret.saliency`.
        baseline: the path's start x': None (black, zeros), a number, or a tensor that
            broadcasts to the images (C×H×W or N×C×H×W).
        steps: number of gradient evaluations along the path (one batch of N each).
        method: "gausslegendre" (default, as Captum) or "riemann_trapezoid" (see
            :func:`quadrature`).

    Completeness: the attributions of an image sum to about ``f(x) − f(x')`` for its target
    logit; the gap shrinks as ``steps`` grows.
    """
    alphas, weights = quadrature(steps, method)
    batch = prepare(model, images, target)
    x = batch.images
    start = _baseline_like(baseline, x)
    path = x - start
    total = torch.zeros_like(x)
    with evaluating(model):
        for alpha, weight in zip(alphas, weights):
            total += weight * input_gradients(model, start + alpha * path, batch.target)
    return batch.back(total * path)
