"""Receptive fields of conv/pool stacks: analytic, empirical (by gradients), effective.

Analytic (Araujo, Norris & Sim, "Computing receptive fields of convolutional neural
networks", Distill 2019). Along one axis, layer l has kernel k, stride s, padding p
and dilation d, so an effective kernel k' = d (k - 1) + 1. With r_0 = 1, j_0 = 1, P_0 = 0:

    r_l = r_{l-1} + (k' - 1) j_{l-1}     receptive field size
    j_l = j_{l-1} s                      effective stride (the "jump")
    P_l = P_{l-1} + p j_{l-1}            effective padding

Output unit i of the last layer sees input positions i j_L - P_L ... i j_L - P_L + r_L - 1.

Composed kernel: without nonlinearities, a stack of stride-1 single-channel convolutions is
one convolution whose kernel is the full convolution of the layers' kernels; its size is the
stack's receptive field. ``fit_composition`` asks how well such a stack can match a given kernel.

Empirical: backpropagate a one-hot gradient from one output unit and see which input
pixels it reaches. Effective (Luo et al., "Understanding the effective receptive field
in deep convolutional neural networks", NeurIPS 2016): the mean gradient magnitude at
the input, over random inputs and initialisations.
"""

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from .geometry import as_pair

__all__ = ["LayerGeometry", "ReceptiveField", "receptive_field", "empirical_receptive_field",
           "path_counts", "effective_receptive_field", "spread", "compose_kernels", "fit_composition"]

SHAPE_PRESERVING = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU,
                    nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.Identity, nn.LocalResponseNorm)
SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


@dataclass(frozen=True)
class LayerGeometry:
    """One row of the per-layer table; every field is a (height, width) pair."""
    name: str
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    size: tuple        # receptive field after this layer
    jump: tuple        # effective stride after this layer
    offset: tuple      # effective padding after this layer
    output: tuple = None  # feature-map size, when an input size was given


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of the last layer's units: ``size``, ``stride``, ``padding`` are (h, w)."""
    size: tuple
    stride: tuple
    padding: tuple
    layers: list = field(default_factory=list)
    input_size: tuple = None

    def region(self, i, j, clip=True):
        """Input rows and columns seen by output unit (i, j): ((top, bottom), (left, right)),
        inclusive. With ``clip`` and a known input size, cut to the image."""
        rows = (i * self.stride[0] - self.padding[0], i * self.stride[0] - self.padding[0] + self.size[0] - 1)
        cols = (j * self.stride[1] - self.padding[1], j * self.stride[1] - self.padding[1] + self.size[1] - 1)
        if clip and self.input_size is not None:
            rows = (max(rows[0], 0), min(rows[1], self.input_size[0] - 1))
            cols = (max(cols[0], 0), min(cols[1], self.input_size[1] - 1))
        return rows, cols

    def table(self):
        """The per-layer table as text."""
        def fmt(pair):
            return f"{pair[0]}" if pair is None or pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"
        head = f"{'layer':<28}{'k':>6}{'s':>5}{'p':>5}{'d':>5}{'RF':>7}{'jump':>6}{'eff. pad':>9}"
        head += f"{'output':>10}" if self.input_size else ""
        lines = [head]
        for row in self.layers:
            line = (f"{row.name:<28}{fmt(row.kernel):>6}{fmt(row.stride):>5}{fmt(row.padding):>5}"
                    f"{fmt(row.dilation):>5}{fmt(row.size):>7}{fmt(row.jump):>6}{fmt(row.offset):>9}")
            if self.input_size:
                line += f"{row.output[0]:>5}x{row.output[1]:<4}"
            lines.append(line.rstrip())
        return "\n".join(lines)


def _flatten(model, prefix=""):
    """(name, layer) for every leaf of nested Sequentials, in order."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"receptive_field needs an nn.Sequential, got {type(model).__name__}")
    for name, layer in model.named_children():
        full = f"{prefix}{name}"
        if isinstance(layer, nn.Sequential):
            yield from _flatten(layer, full + ".")
        else:
            yield full, layer


def _geometry(layer):
    """(kernel, stride, padding, dilation) pairs of a spatial layer."""
    if isinstance(layer, nn.Conv2d) and isinstance(layer.padding, str):
        raise ValueError(f"{layer}: padding='{layer.padding}' is not supported; give the padding as numbers")
    dilation = as_pair(getattr(layer, "dilation", 1), "dilation")
    stride = as_pair(layer.stride if layer.stride is not None else layer.kernel_size, "stride")
    return as_pair(layer.kernel_size, "kernel_size"), stride, as_pair(layer.padding, "padding"), dilation


def _output_length(n, k, s, p, d, ceil_mode, name):
    span = n + 2 * p - d * (k - 1) - 1
    if span < 0:
        raise ValueError(f"layer '{name}': its input ({n} pixels after the previous layers, {n + 2 * p} "
                         f"padded) is smaller than the kernel span d (k - 1) + 1 = {d * (k - 1) + 1}")
    return (-(-span // s) if ceil_mode else span // s) + 1


def receptive_field(model, input_size=None):
    """Analytic receptive field of the units of the last layer of ``model``.

    model: nn.Sequential (nested Sequentials allowed) of Conv2d, MaxPool2d, AvgPool2d and
    shape-preserving layers (activations, batch norm, dropout).
    input_size: optional (H, W), to fill in feature-map sizes and clip regions.
    Raises ValueError naming any other layer.
    """
    size, jump, offset = [1, 1], [1, 1], [0, 0]
    current = list(as_pair(input_size, "input_size")) if input_size is not None else None
    rows = []
    for name, layer in _flatten(model):
        if isinstance(layer, SHAPE_PRESERVING):
            continue
        if not isinstance(layer, SPATIAL):
            raise ValueError(f"layer '{name}' ({type(layer).__name__}) is not supported: receptive_field "
                             "handles Conv2d, MaxPool2d, AvgPool2d and shape-preserving layers")
        kernel, stride, padding, dilation = _geometry(layer)
        for axis in range(2):
            effective_kernel = dilation[axis] * (kernel[axis] - 1) + 1
            offset[axis] += padding[axis] * jump[axis]
            size[axis] += (effective_kernel - 1) * jump[axis]
            jump[axis] *= stride[axis]
            if current is not None:
                current[axis] = _output_length(current[axis], kernel[axis], stride[axis], padding[axis],
                                               dilation[axis], getattr(layer, "ceil_mode", False), name)
        rows.append(LayerGeometry(f"{name}: {type(layer).__name__}", kernel, stride, padding, dilation,
                                  tuple(size), tuple(jump), tuple(offset),
                                  tuple(current) if current is not None else None))
    return ReceptiveField(tuple(size), tuple(jump), tuple(offset), rows,
                          as_pair(input_size, "input_size") if input_size is not None else None)


def _connectivity_copy(model):
    """A float64 copy in which every path from input to output counts +1.

    Conv weights become 1 and biases 0, activations and dropout the identity, max pooling
    becomes average pooling of the same geometry (max pooling routes the gradient to one
    input only, which is a property of the data, not of the architecture), and batch
    norm the identity.
    """
    structural = copy.deepcopy(model).double().eval()

    def rewire(parent):
        for name, child in parent.named_children():
            if isinstance(child, nn.Sequential):
                rewire(child)
            elif isinstance(child, nn.Conv2d):
                nn.init.ones_(child.weight)
                if child.bias is not None:
                    nn.init.zeros_(child.bias)
            elif isinstance(child, nn.MaxPool2d):
                if as_pair(child.dilation, "dilation") != (1, 1):
                    raise ValueError(f"{name}: dilated max pooling is not supported")
                setattr(parent, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                                   ceil_mode=child.ceil_mode, count_include_pad=True))
            elif isinstance(child, SHAPE_PRESERVING):
                setattr(parent, name, nn.Identity())
    rewire(structural)
    return structural


def path_counts(model, input_size, unit=None):
    """How many paths join each input pixel to one output unit: (H, W) float array.

    unit: (i, j) of the output map; default its centre. Weights count as 1, pooling
    windows as paths too, so the map is the number of paths up to a constant factor
    for average pooling (1 / window size per pooling layer).
    """
    structural = _connectivity_copy(model)
    in_channels = next((m.in_channels for m in structural.modules() if isinstance(m, nn.Conv2d)), 1)
    x = torch.ones(1, in_channels, *as_pair(input_size, "input_size"), dtype=torch.float64,
                   requires_grad=True)
    out = structural(x)
    if unit is None:
        unit = (out.shape[2] // 2, out.shape[3] // 2)
    if not (0 <= unit[0] < out.shape[2] and 0 <= unit[1] < out.shape[3]):
        raise ValueError(f"unit {unit} is outside the output map of size {tuple(out.shape[2:])}")
    out[0, 0, unit[0], unit[1]].backward()
    return x.grad[0].sum(0).numpy()


def empirical_receptive_field(model, input_size, unit=None):
    """Boolean (H, W) mask of the input pixels that one output unit depends on, found by
    backpropagating a one-hot gradient through a structural copy of ``model``."""
    return path_counts(model, input_size, unit) > 0


def effective_receptive_field(build_model, input_size, trials=20, seed=0):
    """Luo et al.'s effective receptive field: mean |d out_centre / d input| over ``trials``
    fresh models (``build_model()``) and standard-normal inputs, normalised to sum 1.

    Returns an (H, W) array. The gradient starts as 1 at the centre unit of every
    output channel.
    """
    generator = torch.Generator().manual_seed(seed)
    total = None
    for _ in range(trials):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        model = build_model().double()
        in_channels = next(m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d))
        x = torch.randn(1, in_channels, *as_pair(input_size, "input_size"), dtype=torch.float64,
                        generator=generator)
        x.requires_grad_(True)
        out = model(x)
        out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum().backward()
        grad = x.grad[0].abs().sum(0)
        total = grad if total is None else total + grad
    erf = total.numpy()
    return erf / erf.sum()


def spread(weights):
    """Standard deviation (in pixels) of a non-negative (H, W) map along each axis: (sy, sx)."""
    weights = np.asarray(weights, dtype=float)
    weights = weights / weights.sum()
    result = []
    for axis in (1, 0):  # marginal over columns gives the row profile, and vice versa
        profile = weights.sum(axis=axis)
        positions = np.arange(profile.size)
        mean = (positions * profile).sum()
        result.append(float(np.sqrt(((positions - mean) ** 2 * profile).sum())))
    return tuple(result)


def _full_convolution(a, b):
    """Full 2-D convolution of (..., ha, wa) with (..., hb, wb): (..., ha + hb - 1, wa + wb - 1)."""
    (ha, wa), (hb, wb) = a.shape[-2:], b.shape[-2:]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = np.zeros(batch + (ha + hb - 1, wa + wb - 1))
    for i in range(ha):
        for j in range(wa):
            out[..., i:i + hb, j:j + wb] += a[..., i, j, None, None] * b
    return out


def compose_kernels(kernels):
    """The one kernel of a stack of stride-1 convolutions (nn.Conv2d's cross-correlation) with
    no nonlinearity between them: the full convolution of the kernels.

    kernels: (n, k, k) array, first layer first, or (..., n, k, k) for a batch of stacks.
    Returns (..., n (k - 1) + 1, n (k - 1) + 1).
    """
    kernels = np.asarray(kernels, dtype=float)
    if kernels.ndim < 3 or kernels.shape[-3] == 0:
        raise ValueError(f"compose_kernels needs an (n, k, k) array of n >= 1 kernels, got shape "
                         f"{kernels.shape}")
    out = kernels[..., 0, :, :]
    for index in range(1, kernels.shape[-3]):
        out = _full_convolution(out, kernels[..., index, :, :])
    return out


def _placement_matrix(kernel, k):
    """(..., H * W, k * k) matrix M with M @ f.ravel() = the full convolution of a k x k f with
    ``kernel`` (..., h, w), H = h + k - 1, W = w + k - 1."""
    h, w = kernel.shape[-2:]
    matrix = np.zeros(kernel.shape[:-2] + (k, k, h + k - 1, w + k - 1))
    for a in range(k):
        for b in range(k):
            matrix[..., a, b, a:a + h, b:b + w] = kernel
    return np.swapaxes(matrix.reshape(kernel.shape[:-2] + (k * k, -1)), -1, -2)


def _jacobian(kernels):
    """d compose_kernels / d kernels for a batch (S, n, k, k): (S, K * K, n * k * k)."""
    n, k = kernels.shape[1], kernels.shape[2]
    blocks = []
    for index in range(n):
        others = np.delete(kernels, index, axis=1)
        rest = compose_kernels(others) if n > 1 else np.ones((kernels.shape[0], 1, 1))
        blocks.append(_placement_matrix(rest, k))
    return np.concatenate(blocks, axis=-1)


def fit_composition(target, n_kernels=3, kernel_size=3, starts=100, iterations=150, seed=0):
    """Least-squares fit of a stack of ``n_kernels`` single-channel kernel_size x kernel_size
    convolutions (no nonlinearity) to one K x K ``target`` kernel, K = n_kernels (kernel_size - 1) + 1.

    A nonlinear least-squares problem in n_kernels * kernel_size**2 parameters, solved by
    Levenberg-Marquardt from ``starts`` random starts (seeded by ``seed``), all run together:
    the problem has local minima, and a few dozen starts can all miss the best one.
    Returns (kernels, relative_residual): the best (n, k, k) kernels and
    ||compose_kernels(kernels) - target|| / ||target||.
    """
    target = np.asarray(target, dtype=float)
    size = n_kernels * (kernel_size - 1) + 1
    if target.shape != (size, size):
        raise ValueError(f"{n_kernels} kernels of size {kernel_size}x{kernel_size} compose to a "
                         f"{size}x{size} kernel, but the target has shape {target.shape}")
    if not np.any(target):
        raise ValueError("the target kernel is all zeros: the relative residual is undefined")
    rng = np.random.default_rng(seed)
    kernels = rng.standard_normal((starts, n_kernels, kernel_size, kernel_size))
    # scale every start so that its composed kernel has the target's norm
    norms = np.linalg.norm(compose_kernels(kernels), axis=(-2, -1))
    kernels *= (np.linalg.norm(target) / norms)[:, None, None, None] ** (1 / n_kernels)

    def costs(candidate):
        return ((compose_kernels(candidate) - target) ** 2).sum(axis=(-2, -1))

    cost, damping = costs(kernels), np.full(starts, 1e-3)
    identity = np.eye(n_kernels * kernel_size ** 2)
    for _ in range(iterations):
        residual = (compose_kernels(kernels) - target).reshape(starts, -1)
        jacobian = _jacobian(kernels)
        normal = np.swapaxes(jacobian, -1, -2) @ jacobian + damping[:, None, None] * identity
        gradient = (np.swapaxes(jacobian, -1, -2) @ residual[..., None])[..., 0]
        step = -np.linalg.solve(normal, gradient[..., None])[..., 0].reshape(kernels.shape)
        new_cost = costs(kernels + step)
        better = new_cost < cost
        kernels = np.where(better[:, None, None, None], kernels + step, kernels)
        cost = np.where(better, new_cost, cost)
        damping = np.clip(np.where(better, damping / 3, damping * 3), 1e-12, 1e12)
    best = int(np.argmin(cost))
    return kernels[best], float(np.sqrt(cost[best]) / np.linalg.norm(target))
