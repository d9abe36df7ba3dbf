"""Activation maximisation: the image that excites one unit most (Erhan et al. 2009; Olah et al. 2017).

Gradient ascent on the input, from faint noise, on the mean of one channel's activation map
(or on one output of a fully connected layer, a logit for layer="logits"), with priors that
keep the image natural: an L2 and a total-variation penalty, random jitter (the image must
work wherever it lands), an optional blur every few steps and an optional Fourier
parametrisation. Hubel and Wiesel's experiment, computationally.
"""

from typing import NamedTuple

import torch

from .arguments import choice, image_size, non_negative_number, positive_int, positive_number
from .inputs import place_images
from .layer_output import layer_output, resolve_layer
from .modes import evaluating
from .parametrizations import PARAMETRIZATIONS, make_parametrization
from .regularizers import jitter, l2_penalty, total_variation

__all__ = ["maximize_activation", "unit_activation", "Maximization", "REGULARIZERS", "DEFAULT_WEIGHTS"]

REGULARIZERS = ("l2", "tv", "jitter", "blur")
# l2, tv: coefficients of the penalties (per image: Σ x², Σ squared neighbour differences);
# jitter: the largest shift in pixels; blur: the Gaussian's sigma in pixels.
DEFAULT_WEIGHTS = {"l2": 1e-3, "tv": 3e-3, "jitter": 2, "blur": 0.5}


class Maximization(NamedTuple):
    """What :func:`maximize_activation` found.

    image: C×H×W in (0, 1) on the CPU; history: list of the objective (the unit's activation,
    of the jittered image) before each step; activation: the unit's activation for ``image``
    itself, measured at the end without jitter or penalties.
    """

    image: torch.Tensor
    history: list
    activation: float


def unit_activation(output, channel, layer_name="layer"):
    """One unit of a layer's output N×K×h×w (the channel's mean over h×w) or N×K: a tensor of N."""
    if output.dim() not in (2, 4):
        raise ValueError(f"{layer_name!r} gives shape {tuple(output.shape)}: activation maximisation "
                         "needs feature maps N×K×h×w or features N×K (a conv block, a linear layer, "
                         "\"logits\")")
    units = output.shape[1]
    if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel < units:
        raise ValueError(f"channel must be an int from 0 to {units - 1}: {layer_name!r} has {units} "
                         f"{'channels' if output.dim() == 4 else 'outputs'}; got {channel!r}")
    selected = output[:, channel]
    return selected.mean(dim=(1, 2)) if output.dim() == 4 else selected


def _check_weights(regularizers, weights):
    if isinstance(regularizers, str):
        regularizers = (regularizers,)
    unknown = [name for name in (*regularizers, *(weights or {})) if name not in REGULARIZERS]
    if unknown:
        raise ValueError(f"unknown regularizers {unknown}: choose from {', '.join(REGULARIZERS)}")
    chosen = {**DEFAULT_WEIGHTS, **(weights or {})}
    chosen = {name: non_negative_number(chosen[name], f"weights[{name!r}]") for name in regularizers}
    if "jitter" in chosen:
        if chosen["jitter"] != int(chosen["jitter"]):
            raise ValueError(f"weights['jitter'] is a shift in whole pixels, got {chosen['jitter']}")
        chosen["jitter"] = int(chosen["jitter"])
    return chosen


def maximize_activation(model, layer, channel, *, steps=256, lr=0.05, seed=0, size=(1, 28, 28),
                        regularizers=("l2", "tv", "jitter"), weights=None, blur_every=4,
                        parametrization="pixel", progress=False):
    """An image C×H×W that makes one unit of ``layer`` as large as possible.

    Maximises ``a(jitter(x)) − w_l2 Σ x² − w_tv TV(x)`` with Adam, where a is the mean of
    channel ``channel``'s activation map at ``layer`` (or output ``channel`` of a layer giving
    N×K, e.g. a class logit with layer="logits"). The image is ``sigmoid(parameters)``, so it
    stays in (0, 1), the range of the course's data: no clamping. Only the image's parameters
    are optimised: the model runs in eval mode, its modes are restored, its parameters'
    ``requires_grad`` and ``.grad`` are not touched and no hook is left behind.

    Args:
        model: a network taking N×C×H×W images.
        layer: a module of ``model``, its name in ``model.named_modules()`` (e.g. "features.6"),
            or "logits" for the model's output.
        channel: the unit: a channel index of the layer's feature maps, or an output index
            (the class for "logits").
        steps: Adam steps; lr: its learning rate; seed: seeds the starting noise and the
            jitter, drawn on the CPU. The noise has std 1 before the sigmoid (pixels mostly in
            0.27–0.73): from a flat grey start a ReLU unit that is off everywhere gets no
            gradient and stays off (measured on small_cnn's first layer).
        size: (C, H, W) of the image, (1, 28, 28) for Fashion-MNIST.
        regularizers: any of "l2", "tv", "jitter", "blur" (an empty tuple gives plain gradient
            ascent: high-frequency noise).
        weights: overrides of :data:`DEFAULT_WEIGHTS`: penalty coefficients for "l2" and "tv",
            the largest shift in pixels for "jitter", the Gaussian's sigma for "blur".
        blur_every: with "blur", the parameters are blurred after every ``blur_every`` steps.
        parametrization: "pixel" (sigmoid of the pixels) or "fourier" (sigmoid of an inverse
            FFT of a 1/frequency-scaled spectrum: decorrelated, smoother images).
        progress: print the objective ten times along the way.

    Returns:
        :class:`Maximization` (image, history, activation).
    """
    name, module = resolve_layer(model, layer)
    steps, blur_every = positive_int(steps, "steps"), positive_int(blur_every, "blur_every")
    lr = positive_number(lr, "lr")
    size = image_size(size)
    choice(parametrization, tuple(PARAMETRIZATIONS), "parametrization")
    chosen = _check_weights(regularizers, weights)
    generator = torch.Generator().manual_seed(seed)
    noise = place_images(model, torch.randn((1, *size), generator=generator))
    image = make_parametrization(parametrization, noise)
    optimizer = torch.optim.Adam(image.parameters(), lr=lr)
    history = []
    with evaluating(model), torch.enable_grad():
        for step in range(steps):
            x = image.image()
            shifted = jitter(x, chosen.get("jitter", 0), generator)
            activation = unit_activation(layer_output(model, name, module, shifted), channel, name)[0]
            loss = -activation
            if "l2" in chosen:
                loss = loss + chosen["l2"] * l2_penalty(x)[0]
            if "tv" in chosen:
                loss = loss + chosen["tv"] * total_variation(x)[0]
            gradients = torch.autograd.grad(loss, image.parameters())
            for parameter, gradient in zip(image.parameters(), gradients):
                parameter.grad = gradient
            optimizer.step()
            if "blur" in chosen and (step + 1) % blur_every == 0:
                image.blur(chosen["blur"])
            history.append(float(activation.detach()))
            if progress and (step % max(1, steps // 10) == 0 or step == steps - 1):
                print(f"step {step + 1}/{steps}: activation {history[-1]:.4g}")
        with torch.no_grad():
            final = image.image()
            reached = float(unit_activation(layer_output(model, name, module, final), channel, name)[0])
    return Maximization(final[0].detach().cpu(), history, reached)
