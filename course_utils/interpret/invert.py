"""Inverting a representation (Mahendran & Vedaldi 2015): an image whose features match given ones.

Given the features φ0 = φ(x0) that a layer computes for some image, find x minimising

    ||φ(x) − φ0||² / ||φ0||²  +  weight · prior(x)

from noise, by Adam on the image's parameters (x = sigmoid(p), in (0, 1)). The prior (total
variation by default) fills in what the layer does not keep with something image-like. How
close x comes to x0 in pixels shows how much of the image the layer keeps.

Measured on small_cnn with the defaults, test images 0–2 (feature error / pixel error):
features.2 (first ReLU) 0.02 / 0.01; features.6 0.05–0.21 / 0.04–0.20; features.9 0.28–0.57
/ 0.21–0.71; features.13 0.57–0.59 / 0.71–1.44; logits 0.003 / 0.8–1.7. Past the second
pooling the feature error stays near 0.5 also with 400 steps, other learning rates or L-BFGS:
a ReLU that is off where the target's is on gets no gradient, so at depth the search stalls;
a large pixel error there is partly the optimiser's, not only the layer's, loss.
"""

from typing import NamedTuple

import torch

from .arguments import image_size, non_negative_number, positive_int, positive_number
from .inputs import place_images
from .layer_output import layer_output, resolve_layer
from .modes import evaluating
from .parametrizations import PixelImage
from .regularizers import l2_penalty, total_variation

__all__ = ["invert", "Inversion", "PRIORS", "relative_error"]

PRIORS = {"tv": total_variation, "l2": l2_penalty, None: None}


class Inversion(NamedTuple):
    """What :func:`invert` found.

    image: C×H×W in (0, 1) on the target's device; relative_error: ||φ(image) − φ0|| / ||φ0||,
    measured at the end; history: the relative feature error before each step (a list).
    """

    image: torch.Tensor
    relative_error: float
    history: list


def relative_error(estimate, reference):
    """||estimate − reference|| / ||reference|| (Frobenius norms over every element), a float."""
    return float((estimate - reference).norm() / reference.norm())


def _batched_target(target_features, shape, name):
    if not torch.is_tensor(target_features) or not target_features.is_floating_point():
        raise ValueError("target_features must be a float tensor: what the layer gives for one image, e.g. "
                         "activations(model, image[None], layer)[layer]")
    if tuple(target_features.shape) == tuple(shape[1:]):
        target_features = target_features[None]
    if tuple(target_features.shape) != tuple(shape):
        raise ValueError(f"target_features has shape {tuple(target_features.shape)} but {name!r} gives "
                         f"{tuple(shape[1:])} for one image of this size (or 1×...): pass one image's "
                         "features and the size of that image")
    if target_features.norm() == 0:
        raise ValueError("target_features are all zero: the relative error ||φ(x) − φ0|| / ||φ0|| is "
                         "undefined; pick another image or layer")
    return target_features


def invert(model, layer, target_features, *, steps=200, lr=0.5, prior="tv", weight=1e-4, seed=0,
           size=(1, 28, 28)):
    """An image C×H×W whose features at ``layer`` match ``target_features``.

    The model runs in eval mode with its modes restored; only the image is optimised (the
    parameters' ``requires_grad`` and ``.grad`` are not touched, no hook is left).

    Args:
        model: a network taking N×C×H×W images.
        layer: a module of ``model``, its name (e.g. "features.6") or "logits".
        target_features: the layer's output for one image, with or without its batch
            dimension of 1 (e.g. ``activations(model, image[None], layer)[layer]``).
        steps: Adam steps; lr: its learning rate (0.5 on the sigmoid's input: measured on
            small_cnn, 0.05 stalls in the dead ReLU regions); seed: seeds the starting noise,
            faint (std 0.01 before the sigmoid) around grey 0.5, drawn on the CPU.
        prior: "tv" (total variation, β = 2), "l2" (Σ x²) or None; weight: its coefficient,
            against the relative squared feature error.
        size: (C, H, W) of the image.

    Returns:
        :class:`Inversion` (image, relative_error, history).
    """
    name, module = resolve_layer(model, layer)
    steps, lr = positive_int(steps, "steps"), positive_number(lr, "lr")
    weight, size = non_negative_number(weight, "weight"), image_size(size)
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of 'tv', 'l2' or None, got {prior!r}")
    noise = place_images(model, 0.01 * torch.randn((1, *size), generator=torch.Generator().manual_seed(seed)))
    image = PixelImage(noise)
    optimizer = torch.optim.Adam(image.parameters(), lr=lr)
    history = []
    with evaluating(model), torch.enable_grad():
        with torch.no_grad():
            shape = layer_output(model, name, module, image.image()).shape
        target = _batched_target(target_features, shape, name)
        home, target = target.device, target.detach().to(noise.device, noise.dtype)
        scale = target.pow(2).sum()
        for _ in range(steps):
            x = image.image()
            mismatch = (layer_output(model, name, module, x) - target).pow(2).sum() / scale
            loss = mismatch + (weight * PRIORS[prior](x)[0] if prior else 0)
            (image.latent.grad,) = torch.autograd.grad(loss, image.parameters())
            optimizer.step()
            history.append(float(mismatch.detach().sqrt()))
        with torch.no_grad():
            final = image.image()
            error = relative_error(layer_output(model, name, module, final), target)
    return Inversion(final[0].detach().to(home), error, history)
