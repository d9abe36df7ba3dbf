"""A layer's output for an input, with gradients, stopping the forward pass there."""

import torch

from .layers import find_layer, forward_hooks

__all__ = ["LOGITS", "layer_output", "resolve_layer"]

LOGITS = "logits"


class _Reached(Exception):
    """Raised by the hook to end the forward pass once the layer has run."""


def resolve_layer(model, layer):
    """``(name, module)`` of ``layer``, or ``("logits", None)`` for the model's output.

    ``layer`` is a module of ``model``, its name in ``model.named_modules()``, or "logits"
    (the model's output, unless the model has a submodule of that name).
    """
    if layer == LOGITS and LOGITS not in dict(model.named_modules()):
        return LOGITS, None
    return find_layer(model, layer)


def layer_output(model, name, module, images):
    """What ``module`` (found by :func:`resolve_layer`) outputs for ``images``: N×..., with gradients.

    The forward pass stops as soon as the layer has run (its first run, if it runs more than
    once), so later layers cost nothing and a later in-place layer cannot change the output.
    The hook is removed afterwards; ``module`` None means the model's output.
    """
    images = images.clone()  # a first in-place layer must not change a tensor autograd needs
    if module is None:
        return model(images)
    captured = []

    def stop_here(module, inputs, output):
        if not torch.is_tensor(output):
            raise ValueError(f"layer {name!r} returns a {type(output).__name__}, not a tensor")
        captured.append(output)
        raise _Reached

    try:
        with forward_hooks([(module, stop_here)]):
            model(images)
    except _Reached:
        return captured[0]
    raise ValueError(f"layer {name!r} was not used in the model's forward pass")
