"""One forward pass that records what every layer of a model receives and returns.

:func:`trace` is what :mod:`.cost` and :mod:`.table` measure with. It runs the model on a
single image of shape (C, H, W) in eval mode (the inference path: dropout off, BN with running
statistics, GoogLeNet without its auxiliary classifiers) with every parameter and buffer
replaced by a tensor on PyTorch's ``meta`` device, which has shapes but no data: nothing is
computed, so tracing VGG-19 takes milliseconds, and the model's own weights, buffers, mode and
hooks are left as they were.
"""

import itertools
import numbers
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.func import functional_call

__all__ = ["LayerCall", "check_input_shape", "trace"]


@dataclass(frozen=True)
class LayerCall:
    """One call of a leaf module: its qualified name, the module, per-image shapes (no batch axis)."""

    name: str
    module: nn.Module
    input_shape: tuple
    output_shape: tuple


def check_input_shape(input_shape):
    """Return ``input_shape`` as a tuple (C, H, W) of positive ints, or raise a ValueError."""
    valid = (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
             and all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0
                     for n in input_shape))
    if not valid:
        raise ValueError("input_shape must be the shape of one image, (channels, height, width) with "
                         f"positive integers, e.g. (3, 224, 224) or (1, 28, 28); got {input_shape!r}")
    return tuple(int(n) for n in input_shape)


def _shape(value):
    return tuple(value.shape[1:]) if isinstance(value, torch.Tensor) else ()


def _float_dtype(model):
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def trace(model, input_shape):
    """Calls of ``model``'s leaf modules (no children) in the order they run on one (C, H, W) image.

    Returns a list of :class:`LayerCall`; a module called twice appears twice (a model that is
    itself a single layer is named after its class). Layers written
    as functions in ``forward`` (``torch.flatten``, ``F.relu``, the addition of a shortcut) are
    not modules and do not appear.
    """
    input_shape = check_input_shape(input_shape)
    calls = []

    def record(name, module, inputs, output):
        first = inputs[0] if inputs else None
        calls.append(LayerCall(name, module, _shape(first), _shape(output)))

    leaves = [(name or type(m).__name__, m) for name, m in model.named_modules()
              if next(m.children(), None) is None]
    meta = {name: torch.empty_like(t, device="meta")
            for name, t in itertools.chain(model.named_parameters(), model.named_buffers())}
    modes = [(m, m.training) for m in model.modules()]
    handles = [m.register_forward_hook(lambda mod, i, o, name=name: record(name, mod, i, o))
               for name, m in leaves]
    try:
        model.eval()
        with torch.no_grad():
            x = torch.zeros((1, *input_shape), dtype=_float_dtype(model), device="meta")
            functional_call(model, meta, (x,))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    return calls
