"""What a model costs: parameters and multiply-accumulates (MACs) of one forward pass.

A multiply-accumulate is one ``a * b + c``. A convolution producing an output of
C_out × H' × W' from kernels of size k_h × k_w costs C_out·H'·W' · (C_in / groups)·k_h·k_w MACs
(every output value is a dot product with one kernel, which sees C_in / groups channels); a
linear layer costs out_features · in_features. Biases, ReLU, pooling, normalisation and
additions are not counted: they are a small fraction of the total, and model zoos' "FLOPs"
tables (e.g. torchvision's "GFLOPS", which are MACs) leave them out too.
"""

import math

import torch.nn as nn

from .trace import trace

__all__ = ["count_parameters", "count_macs", "layer_macs"]

CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def count_parameters(model, trainable_only=False):
    """Number of parameters of ``model`` (those with ``requires_grad`` only, if ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def layer_macs(module, output_shape):
    """MACs of one call of ``module`` for one sample whose output has shape ``output_shape``.

    Convolutions (1-, 2- and 3-d, grouped included) and linear layers; 0 for anything else.
    """
    outputs = math.prod(output_shape)
    if isinstance(module, CONVOLUTIONS):
        return outputs * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return outputs * module.in_features
    return 0


def count_macs(model, input_shape):
    """Multiply-accumulates of one forward pass of one image of shape (C, H, W) through ``model``.

    Counts the conv and linear modules (see the module docstring) that run in eval mode; a
    convolution written as ``F.conv2d`` inside a ``forward`` is not a module and is not seen.
    The model's weights, mode (train/eval) and hooks are unchanged afterwards. Example:
    ``count_macs(build("resnet50"), (3, 224, 224))`` is about 4.1e9.
    """
    return sum(layer_macs(call.module, call.output_shape) for call in trace(model, input_shape))
