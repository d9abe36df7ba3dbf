"""Checks for lesson 07's exercises: basic_block_forward, batchnorm_eval, residual_gradient."""

import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..architectures.resnet_small import SmallBlock
from .architectures import Tensor
from .harness import ARRAY, Case, first_mismatch, run_cases

__all__ = ["check_basic_block_forward", "check_batchnorm_eval", "check_residual_gradient",
           "reference_basic_block_forward", "reference_batchnorm_eval", "reference_residual_gradient"]


def _close(got, expected):
    """Same shape and the same values up to float32 rounding (relative to the largest value)."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=1e-4, atol=1e-5 * scale))


def _as_arrays(suspects):
    """(hint, tensor) pairs as (hint, array) pairs, computed without a graph."""
    with torch.no_grad():
        return [(hint, wrong.numpy()) for hint, wrong in suspects]


# --- Exercise: basic_block_forward -------------------------------------------------------------

def reference_basic_block_forward(x, conv1, bn1, conv2, bn2, shortcut):
    """A basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + s), s = x or shortcut(x).

    x: (N, C_in, H, W); ``shortcut``: None (identity) or the projection (1×1 conv with stride
    s, BN) where the block changes the shape. Returns (N, C_out, H / s, W / s).
    """
    residual = bn2(conv2(torch.relu(bn1(conv1(x)))))
    return torch.relu(residual + (x if shortcut is None else shortcut(x)))


def _randomize_batchnorm(bn, generator):
    """Running statistics and affine parameters far from their defaults, so that BN matters."""
    channels = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(channels, generator=generator) * 0.5)
        bn.running_var.copy_(torch.rand(channels, generator=generator) * 1.5 + 0.5)
        bn.weight.copy_(torch.rand(channels, generator=generator) + 0.5)
        bn.bias.copy_(torch.randn(channels, generator=generator) * 0.3)


def _block_problem(seed, in_channels, out_channels, stride, size):
    """(x, conv1, bn1, conv2, bn2, shortcut) of a SmallBlock with option-B shortcut, in eval mode."""
    torch.manual_seed(seed)
    block = SmallBlock(in_channels, out_channels, stride, shortcut="B").eval()
    generator = torch.Generator().manual_seed(seed)
    for module in block.modules():
        if isinstance(module, nn.BatchNorm2d):
            _randomize_batchnorm(module, generator)
    x = torch.randn(2, in_channels, size, size, generator=generator)
    return x, block.conv1, block.bn1, block.conv2, block.bn2, block.downsample


_BN_BEFORE_RELU = ("BN and ReLU are in the wrong order: each conv is followed by its BN, then the "
                   "ReLU (conv → BN → ReLU).")


def _block_suspects(x, conv1, bn1, conv2, bn2, shortcut):
    relu = torch.relu
    skip = x if shortcut is None else shortcut(x)
    first = conv1(x)
    residual = bn2(conv2(relu(bn1(first))))
    yield ("there is no shortcut: that is a plain block, relu(F(x)); add the shortcut before "
           "the last ReLU, relu(F(x) + x).", relu(residual))
    for wrong in (relu(residual) + skip, relu(relu(residual) + skip)):
        yield ("you applied a ReLU to F(x) before adding the shortcut, relu(F(x)) + x; add first, then "
               "apply the ReLU: relu(F(x) + x).", wrong)
    yield ("the final ReLU is missing: the block returns relu(F(x) + x), not F(x) + x.", residual + skip)
    for early in (first, bn1(first), relu(bn1(first))):
        yield ("the shortcut adds the output of the first conv; it carries the block's input x "
               "(or shortcut(x) where the shape changes).", relu(residual + early))
    swapped = bn1(relu(first))
    yield _BN_BEFORE_RELU, relu(bn2(conv2(swapped)) + skip)
    yield _BN_BEFORE_RELU, relu(bn2(relu(conv2(swapped))) + skip)


def _block_error(message, x, conv1, bn1, conv2, bn2, shortcut):
    if shortcut is not None and ("must match the size" in message or "broadcast" in message):
        return ("Where the block changes the shape, add shortcut(x), not x: the projection gives x "
                "the output's channels and size.")
    if shortcut is None and "NoneType" in message:
        return "shortcut is None where the block keeps the shape: then add x itself (the identity)."
    return None


def _block_values_hint(got, x, conv1, bn1, conv2, bn2, shortcut):
    with torch.no_grad():
        expected = reference_basic_block_forward(x, conv1, bn1, conv2, bn2, shortcut).numpy()
    return (f"{first_mismatch(got, expected)}; the block is relu(bn2(conv2(relu(bn1(conv1(x))))) + s) "
            "with s = x, or shortcut(x) where shortcut is not None.")


def check_basic_block_forward(fn):
    """Compare ``fn(x, conv1, bn1, conv2, bn2, shortcut)`` with the reference on two blocks."""
    problems = [(0, 4, 4, 1, 6, "identity block: 4 -> 4 channels, stride 1, shortcut=None"),
                (1, 4, 8, 2, 6, "projection block: 4 -> 8 channels, stride 2, shortcut = 1×1 conv + BN")]
    cases = []
    for seed, in_channels, out_channels, stride, size, about in problems:
        args = _block_problem(seed, in_channels, out_channels, stride, size)
        with torch.no_grad():
            expected = reference_basic_block_forward(*args).numpy().astype(float)
        cases.append(Case(args, expected, f"{about}, input of shape {tuple(args[0].shape)}"))

    def basic_block_forward(x, *modules):
        with torch.no_grad():   # copies: a student's call cannot change the modules the hints use
            return fn(x, *copy.deepcopy(modules))

    run_cases(basic_block_forward, "basic_block_forward", cases, Tensor(), compare=_close,
              shape_rule="(N, C_out, H / stride, W / stride)",
              suspects=lambda *args: _as_arrays(_block_suspects(*args)),
              explain_values=_block_values_hint, explain_error=_block_error)
    print(f"✓ basic_block_forward matches relu(F(x) + shortcut) on {len(cases)} blocks "
          "(identity and projection shortcut).")


# --- Exercise: batchnorm_eval ------------------------------------------------------------------

def reference_batchnorm_eval(x, running_mean, running_var, gamma, beta, eps=1e-5):
    """Batch norm in evaluation mode: gamma · (x − running_mean) / √(running_var + eps) + beta.

    x: (N, C, H, W); running_mean, running_var, gamma, beta: (C,). Returns (N, C, H, W).
    """
    return F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=eps)


def _per_channel(values):
    """A (C,) tensor as (1, C, 1, 1), to broadcast along the channel axis of (N, C, H, W)."""
    return values.view(1, -1, 1, 1)


_WRONG_AXIS = ("the (C,) statistics were broadcast along the wrong axis: reshape them to (1, C, 1, 1) "
               "(running_mean.view(1, -1, 1, 1) or [None, :, None, None]) to line up with the channel axis.")
_BATCH_STATISTICS = ("you normalised with the batch's own mean and variance (training mode); in "
                     "evaluation mode batch norm uses running_mean and running_var.")


def _batchnorm_suspects(x, mean, var, gamma, beta, eps=1e-5):
    m, v, g, b = map(_per_channel, (mean, var, gamma, beta))
    normalized = (x - m) / torch.sqrt(v + eps)
    axes = (0, 2, 3)
    yield _BATCH_STATISTICS, F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    yield _BATCH_STATISTICS, ((x - x.mean(axes, keepdim=True)) / torch.sqrt(x.var(axes, keepdim=True) + eps)
                              * g + b)
    for correction in (0, 1):
        yield ("you took the statistics over axis 0 only, and from the batch: batch norm has one mean "
               "and variance per channel, and in evaluation mode they are running_mean and running_var.",
               (x - x.mean(0)) / torch.sqrt(x.var(0, correction=correction) + eps) * g + b)
    for divisor in (v + eps, v):
        yield ("you divided by the variance; divide by the standard deviation √(running_var + eps).",
               (x - m) / divisor * g + b)
    yield ("eps belongs inside the square root: √(running_var + eps), not √running_var + eps.",
           (x - m) / (torch.sqrt(v) + eps) * g + b)
    yield ("gamma and beta are swapped: multiply by gamma (the scale), then add beta (the shift).",
           normalized * b + g)
    yield "gamma and beta are missing: scale by gamma and shift by beta after normalising.", normalized
    yield "gamma is missing: multiply the normalised x by gamma before adding beta.", normalized + b
    yield "beta is missing: add beta after multiplying by gamma.", normalized * g
    if eps != 1e-5:
        yield (f"you used eps = 1e-5, not the eps argument ({eps:g}).",
               (x - m) / torch.sqrt(v + 1e-5) * g + b)
    channels, height, width = x.shape[1:]
    if width == channels:   # (C,) broadcasts against the last axis, W
        yield _WRONG_AXIS, (x - mean) / torch.sqrt(var + eps) * gamma + beta
    if height == channels:  # (C, 1) against H
        m, v, g, b = (values.view(-1, 1) for values in (mean, var, gamma, beta))
        yield _WRONG_AXIS, (x - m) / torch.sqrt(v + eps) * g + b


def _batchnorm_problem(seed, shape, eps=None):
    """(x, running_mean, running_var, gamma, beta[, eps]); running statistics unlike the batch's,
    and one tiny variance, so that where eps goes matters."""
    generator = torch.Generator().manual_seed(seed)
    channels = shape[1]
    x = torch.randn(shape, generator=generator) * 1.5 + 0.3
    running_mean = torch.randn(channels, generator=generator) * 0.5
    running_var = torch.rand(channels, generator=generator) * 1.5 + 0.5
    running_var[0] = 1e-4
    gamma = torch.rand(channels, generator=generator) + 0.5
    beta = torch.randn(channels, generator=generator) * 0.5
    return (x, running_mean, running_var, gamma, beta) + (() if eps is None else (eps,))


def _batchnorm_error(message, *args):
    if "must match the size" in message or "broadcast" in message:
        return "The " + _WRONG_AXIS.removeprefix("the ")
    return None


def _batchnorm_values_hint(got, *args):
    expected = reference_batchnorm_eval(*args).numpy()
    return (f"{first_mismatch(got, expected)}; in evaluation mode, per channel, "
            "y = gamma · (x − running_mean) / √(running_var + eps) + beta.")


def check_batchnorm_eval(fn):
    """Compare ``fn(x, running_mean, running_var, gamma, beta[, eps])`` with F.batch_norm (eval mode)."""
    # The first input has C == H == W: statistics broadcast along H or W give no error there.
    problems = [(0, (4, 3, 3, 3), None), (1, (2, 5, 4, 6), None), (2, (3, 4, 5, 5), 1e-3)]
    cases = []
    for seed, shape, eps in problems:
        args = _batchnorm_problem(seed, shape, eps)
        about = f"x of shape {shape}, running_var[0] = 1e-4" + ("" if eps is None else f", eps = {eps:g}")
        cases.append(Case(args, reference_batchnorm_eval(*args).numpy().astype(float), about))

    def batchnorm_eval(*args):
        with torch.no_grad():
            return fn(*args)

    run_cases(batchnorm_eval, "batchnorm_eval", cases, Tensor(), compare=_close, shape_rule="x's shape",
              suspects=lambda *args: _as_arrays(_batchnorm_suspects(*args)),
              explain_values=_batchnorm_values_hint, explain_error=_batchnorm_error)
    print(f"✓ batchnorm_eval matches F.batch_norm in evaluation mode on {len(cases)} inputs "
          "(running statistics, eps inside the square root).")


# --- Exercise: residual_gradient ---------------------------------------------------------------

def _states(h0, weights):
    """h_0, ..., h_L of the residual stack h_{l+1} = h_l + tanh(w_l · h_l)."""
    states = [np.asarray(h0, dtype=float)]
    for w in weights:
        states.append(states[-1] + np.tanh(w * states[-1]))
    return states


def reference_residual_gradient(h0, weights):
    """d h_L / d h_0, elementwise, for h_{l+1} = h_l + tanh(w_l · h_l).

    h0: (n,) starting values; weights: the L scalars w_0..w_{L-1}. Returns (n,): the product
    over the layers of 1 + w_l · (1 − tanh²(w_l · h_l)).
    """
    weights = np.asarray(weights, dtype=float)
    gradient = np.ones_like(np.asarray(h0, dtype=float))
    for w, h in zip(weights, _states(h0, weights)):
        gradient = gradient * (1 + w * (1 - np.tanh(w * h) ** 2))
    return gradient


_NO_ONE = ("you left out the 1 in each factor: through the shortcut, d h_{l+1} / d h_l = "
           "1 + w_l · tanh'(w_l · h_l); without the 1 it is the plain network's gradient.")
_SUMMED = ("you added the layers' factors; the chain rule multiplies them: "
           "d h_L / d h_0 = Π_l (1 + w_l · tanh'(w_l · h_l)).")


def _gradient_suspects(h0, weights):
    weights = np.asarray(weights, dtype=float)
    states = _states(h0, weights)
    slopes = [1 - np.tanh(w * h) ** 2 for w, h in zip(weights, states)]
    yield _NO_ONE, np.prod([w * s for w, s in zip(weights, slopes)], axis=0)
    plain, h = np.ones_like(states[0]), states[0]
    for w in weights:
        plain, h = plain * w * (1 - np.tanh(w * h) ** 2), np.tanh(w * h)
    yield _NO_ONE, plain
    yield _SUMMED, np.sum([1 + w * s for w, s in zip(weights, slopes)], axis=0)
    yield _SUMMED, 1 + np.sum([w * s for w, s in zip(weights, slopes)], axis=0)
    yield ("you evaluated every tanh' at h_0; layer l's factor uses its own input h_l: run the "
           "forward pass and take 1 + w_l · tanh'(w_l · h_l) on the way.",
           np.prod([1 + w * (1 - np.tanh(w * states[0]) ** 2) for w in weights], axis=0))
    yield ("the inner factor w_l is missing: d/dh tanh(w_l · h) = w_l · tanh'(w_l · h) (chain rule).",
           np.prod([1 + s for s in slopes], axis=0))
    yield "that is h_L itself; return its derivative d h_L / d h_0.", states[-1]


def _gradient_shape_hint(got, h0, weights):
    if len(got) == 2 and got[0] == len(weights):
        return "those are the per-layer factors; multiply them over the layers (axis 0)."
    if got in ((), (1,), (len(weights),)):
        return "return one derivative per element of h0: the stack acts on each element on its own."
    return None


def _gradient_values_hint(got, h0, weights):
    return (f"{first_mismatch(got, reference_residual_gradient(h0, weights))}; multiply the factors "
            "1 + w_l · (1 − tanh²(w_l · h_l)) along the forward pass h_{l+1} = h_l + tanh(w_l · h_l).")


def check_residual_gradient(fn):
    """Compare ``fn(h0, weights)`` with the product of the layers' factors for 1, 5 and 30 layers."""
    rng = np.random.default_rng(7)
    h0 = np.linspace(-1.5, 1.5, 7)
    problems = [(np.array([0.8]), "L = 1, weights [0.8]"),
                (np.array([0.5, -1.0, 2.0, 0.3, -0.7]), "L = 5, weights [0.5, -1.0, 2.0, 0.3, -0.7]"),
                (np.array([6.0, -8.0, 10.0, 5.0, -6.0]),
                 "L = 5, large weights [6, -8, 10, 5, -6]: the tanh saturate"),
                (rng.normal(0, 0.5, size=30), "L = 30, weights drawn from N(0, 0.5²)")]
    cases = [Case((h0, weights), reference_residual_gradient(h0, weights),
                  f"h0 = linspace(-1.5, 1.5, 7), {about}") for weights, about in problems]
    run_cases(fn, "residual_gradient", cases, ARRAY, compare=_close, shape_rule="h0's shape",
              explain_shape=_gradient_shape_hint, suspects=_gradient_suspects,
              explain_values=_gradient_values_hint)
    print(f"✓ residual_gradient matches Π_l (1 + w_l · tanh'(w_l · h_l)) on {len(cases)} stacks "
          "(1, 5 and 30 layers, saturated ones included).")
