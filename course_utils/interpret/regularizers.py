"""Priors that keep a synthesised image natural: L2, total variation, jitter and blur.

Without them, gradient ascent on the input finds high-frequency patterns that excite a unit
but look like noise (Mahendran & Vedaldi 2015; Olah et al. 2017, "Feature Visualization").
Every function takes images N×C×H×W.
"""

import math

import torch
import torch.nn.functional as F

from .arguments import non_negative_number

__all__ = ["l2_penalty", "total_variation", "jitter", "gaussian_blur"]


def l2_penalty(images):
    """Σ x² over each image's pixels: a tensor of N. Pulls pixels to 0, Fashion-MNIST's background."""
    return images.pow(2).sum(dim=(1, 2, 3))


def total_variation(images, beta=2.0):
    """Σ over pixels of ((x[i+1,j] − x[i,j])² + (x[i,j+1] − x[i,j])²)^(β/2): a tensor of N.

    Mahendran & Vedaldi's TV^β prior: β = 2 (the default) penalises every edge smoothly; β = 1
    (the classic isotropic TV) tolerates sharp edges, and a small ε inside the root keeps its
    gradient defined where the image is flat. Differences are taken inside the image (H−1 × W−1).
    """
    beta = non_negative_number(beta, "beta")
    down = images[:, :, 1:, :-1] - images[:, :, :-1, :-1]
    right = images[:, :, :-1, 1:] - images[:, :, :-1, :-1]
    squared = down.pow(2) + right.pow(2)
    if beta == 2:
        return squared.sum(dim=(1, 2, 3))
    return (squared + 1e-8).pow(beta / 2).sum(dim=(1, 2, 3))


def jitter(images, shift, generator):
    """``images`` rolled by one random (dy, dx), each in −shift..shift, drawn from ``generator``.

    Rolling wraps pixels around the border (lucid's "jitter" pads instead); on Fashion-MNIST's
    black border the two are alike. Optimising through random shifts asks the image to work
    wherever it lands: transformation robustness.
    """
    if shift == 0:
        return images
    dy, dx = torch.randint(-shift, shift + 1, (2,), generator=generator).tolist()
    return torch.roll(images, shifts=(dy, dx), dims=(2, 3))


def gaussian_blur(images, sigma):
    """``images`` convolved with a Gaussian of standard deviation ``sigma`` pixels, same size.

    The kernel spans ±3σ (at least 3×3), the border is replicated; sigma 0 returns the images.
    """
    sigma = non_negative_number(sigma, "sigma")
    if sigma == 0:
        return images
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-offsets.pow(2) / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
