"""Checks for lesson 06's exercises: conv_macs, vgg_block, inception_forward."""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from ..architectures.googlenet import Inception
from ..architectures.vgg import vgg_features
from .harness import (
    Case,
    CheckFailed,
    Number,
    Returns,
    call_student,
    returned_none,
    run_cases,
    wrong_shape,
    wrong_type,
)

__all__ = ["check_conv_macs", "check_vgg_block", "check_inception_forward", "reference_conv_macs",
           "reference_vgg_block", "reference_inception_forward"]


# --- Exercise: conv_macs -----------------------------------------------------------------------

def reference_conv_macs(in_channels, out_channels, kernel_size, output_size, groups=1):
    """MACs of a k×k convolution whose output is out_channels × H' × W' (``output_size`` = (H', W'))."""
    height, width = output_size
    return out_channels * height * width * (in_channels // groups) * kernel_size * kernel_size


def _macs_suspects(in_channels, out_channels, kernel_size, output_size, groups=1):
    height, width = output_size
    right = reference_conv_macs(in_channels, out_channels, kernel_size, output_size, groups)
    if groups > 1:
        yield (f"you ignored groups={groups}: each kernel sees only in_channels / groups input channels.",
               reference_conv_macs(in_channels, out_channels, kernel_size, output_size))
    yield ("that is twice the MACs (FLOPs: a multiply and an add each); count multiply-accumulates.",
           2 * right)
    yield ("you added one MAC per output value for the bias; biases are not counted.",
           right + out_channels * height * width)
    yield ("you used the kernel size once; a k×k kernel has k·k weights per input channel.",
           right // kernel_size)
    yield ("you counted the cost of one output position; multiply by the output's H'·W' positions.",
           right // (height * width))
    yield ("you used only one side of the output; there are H'·W' positions.",
           right // width if height != width else right // height)
    yield ("you left out the output channels: each of the out_channels kernels runs at every position.",
           right // out_channels)
    yield ("you left out the input channels: a kernel has in_channels / groups × k × k weights.",
           right // (in_channels // groups))


def check_conv_macs(fn):
    """Compare ``fn(in_channels, out_channels, kernel_size, output_size, groups)`` with the formula."""
    settings = [(3, 64, 11, (55, 55), 1), (96, 256, 5, (27, 27), 2), (64, 128, 3, (7, 5), 1),
                (192, 32, 5, (28, 28), 1), (256, 384, 3, (13, 13), 1), (384, 256, 3, (13, 13), 2)]
    cases = [Case(setting, reference_conv_macs(*setting),
                  f"in_channels={setting[0]}, out_channels={setting[1]}, kernel_size={setting[2]}, "
                  f"output_size={setting[3]}, groups={setting[4]}") for setting in settings]
    run_cases(fn, "conv_macs", cases, Number(whole=True), suspects=_macs_suspects,
              explain_values=lambda *args: "count out_channels · H' · W' · (in_channels / groups) · k².")
    print(f"✓ conv_macs agrees with the formula on {len(cases)} layers, grouped ones included.")


# --- Exercise: vgg_block -----------------------------------------------------------------------

def reference_vgg_block(in_channels, out_channels, num_convs):
    """``num_convs`` × (3×3 conv, pad 1, ReLU), then a 2×2/2 max pool.

    (N, in_channels, H, W) -> (N, out_channels, H // 2, W // 2).
    """
    return vgg_features(((out_channels,) * num_convs,), in_channels)


@dataclass(frozen=True)
class Module(Returns):
    """The exercise returns a torch.nn.Module."""

    what = "a torch.nn.Module (e.g. an nn.Sequential of the layers)"

    def read(self, got, name):
        if isinstance(got, (np.ndarray, torch.Tensor)):
            raise CheckFailed(wrong_shape(name, got.shape, self.what,
                                          "return the block itself, not its output."))
        if not isinstance(got, nn.Module):
            raise wrong_type(name, got, self.what)
        return got


def _layers(block, kind):
    return [m for m in block.modules() if isinstance(m, kind)]


def _structure_failure(block, in_channels, out_channels, num_convs):
    """Words for a block built wrongly (before its output is compared), or None."""
    convs = _layers(block, nn.Conv2d)
    if len(convs) != num_convs:
        return f"it has {len(convs)} Conv2d layers; a block with num_convs={num_convs} has {num_convs}."
    for i, conv in enumerate(convs):
        if conv.kernel_size != (3, 3):
            return f"conv {i + 1} has kernel {conv.kernel_size}; VGG uses only 3×3 kernels."
        if conv.padding != (1, 1):
            return (f"conv {i + 1} has padding {conv.padding}; use padding=1 so a 3×3 conv keeps "
                    "the height and width (only the pool halves them).")
        if conv.bias is None:
            return f"conv {i + 1} has no bias; VGG's convs have biases (bias=True, the default)."
        if conv.stride != (1, 1):
            return f"conv {i + 1} has stride {conv.stride}; VGG's convs have stride 1."
    if convs[0].in_channels != in_channels:
        return (f"the first conv takes {convs[0].in_channels} channels; it must take "
                f"in_channels={in_channels}.")
    wrong = [i + 1 for i, conv in enumerate(convs[1:], start=1) if conv.in_channels != out_channels]
    if wrong:
        return (f"conv {wrong[0]} takes {convs[wrong[0] - 1].in_channels} channels; every conv after the "
                f"first takes the previous conv's out_channels={out_channels}.")
    if any(conv.out_channels != out_channels for conv in convs):
        return f"every conv must give out_channels={out_channels} maps."
    relus = _layers(block, nn.ReLU)
    if len(relus) < num_convs:
        return f"it has {len(relus)} ReLU layers; every conv is followed by a ReLU ({num_convs} in all)."
    pools = _layers(block, (nn.MaxPool2d, nn.AvgPool2d))
    if len(pools) != 1:
        return f"it has {len(pools)} pooling layers; a VGG block ends with exactly one 2×2 max pool."
    if isinstance(pools[0], nn.AvgPool2d):
        return "it ends with average pooling; VGG uses 2×2 max pooling (nn.MaxPool2d(2, 2))."
    return None


def _copy_weights(source, target):
    """Copy the conv weights of ``source`` into ``target``'s convs, in order."""
    with torch.no_grad():
        for a, b in zip(_layers(source, nn.Conv2d), _layers(target, nn.Conv2d)):
            b.weight.copy_(a.weight)
            if b.bias is not None:
                b.bias.copy_(a.bias if a.bias is not None else torch.zeros_like(b.bias))


def _block_output(block, in_channels, out_channels, num_convs, x):
    """The block's output for ``x`` with the reference's weights (seeded), as an array."""
    torch.manual_seed(num_convs)
    reference = reference_vgg_block(in_channels, out_channels, num_convs)
    _copy_weights(reference, block)
    with torch.no_grad():
        return block.eval()(x).numpy()


def _vgg_shape_hint(got, block, in_channels, out_channels, num_convs, x):
    n, _, h, w = x.shape
    if got[:2] == (n, out_channels) and got[2:] != (h // 2, w // 2):
        return "the pool must be 2×2 with stride 2 (nn.MaxPool2d(2, 2)), which halves H and W."
    return None


def _run(model, x):
    with torch.no_grad():
        return model.eval()(x).numpy()


def check_vgg_block(fn):
    """Build ``fn(in_channels, out_channels, num_convs)`` for a few settings and compare with VGG's block."""
    settings = [(3, 8, 2), (1, 4, 1), (4, 6, 3)]
    blocks = []
    for in_channels, out_channels, num_convs in settings:
        block = call_student(fn, in_channels, out_channels, num_convs)
        if block is None:
            raise CheckFailed(returned_none("vgg_block"))
        block = Module().read(block, "vgg_block")
        problem = _structure_failure(block, in_channels, out_channels, num_convs)
        if problem:
            raise CheckFailed(f"vgg_block({in_channels}, {out_channels}, {num_convs}): {problem}")
        blocks.append(block)
    inputs = [torch.randn(2, s[0], 8, 6, generator=torch.Generator().manual_seed(i))
              for i, s in enumerate(settings)]
    cases = [Case((block, *setting, x), _reference_output(*setting, x),
                  f"in_channels={setting[0]}, out_channels={setting[1]}, num_convs={setting[2]}, "
                  f"input of shape {tuple(x.shape)}") for block, setting, x in zip(blocks, settings, inputs)]

    def vgg_block(block, in_channels, out_channels, num_convs, x):
        return _block_output(block, in_channels, out_channels, num_convs, x)

    run_cases(vgg_block, "vgg_block", cases, shape_rule="(N, out_channels, H // 2, W // 2)",
              explain_shape=_vgg_shape_hint)
    print(f"✓ vgg_block builds VGG's block (3×3 convs with ReLU, then a 2×2 max pool) "
          f"for {len(cases)} settings.")


def _reference_output(in_channels, out_channels, num_convs, x):
    torch.manual_seed(num_convs)
    return _run(reference_vgg_block(in_channels, out_channels, num_convs), x)


# --- Exercise: inception_forward ---------------------------------------------------------------

def reference_inception_forward(module, x):
    """The four branches of ``module`` (branch1..branch4) on ``x``, concatenated along channels."""
    return torch.cat([module.branch1(x), module.branch2(x), module.branch3(x), module.branch4(x)], dim=1)


@dataclass(frozen=True)
class Tensor(Returns):
    """The exercise returns a torch tensor (read as a float array)."""

    what = "a torch tensor"

    def read(self, got, name):
        if isinstance(got, torch.Tensor):
            return got.detach().numpy().astype(float)
        if isinstance(got, np.ndarray):
            return got.astype(float)
        raise wrong_type(name, got, self.what)


def _inception_problem(seed, in_channels, columns, size):
    torch.manual_seed(seed)
    module = Inception(in_channels, *columns).eval()
    x = torch.randn(2, in_channels, *size, generator=torch.Generator().manual_seed(seed))
    return module, x


def _inception_shape_hint(got, module, x):
    n, _, h, w = x.shape
    outs = [b(x).shape[1] for b in (module.branch1, module.branch2, module.branch3, module.branch4)]
    if got == (n, sum(outs[:3]), h, w):
        return "the pool branch (branch4: 3×3 max pool, then a 1×1 projection) is missing."
    if got == (n, sum(outs[:3]) + x.shape[1], h, w):
        return "you concatenated the max-pooled input itself; branch4 also projects it with a 1×1 conv."
    if got == (n * 4, outs[0], h, w) or len(got) == 5:
        return "concatenate along the channel axis (dim=1), not along the batch axis or a new one."
    return None


def _inception_suspects(module, x):
    branches = [module.branch1(x), module.branch2(x), module.branch3(x), module.branch4(x)]
    yield ("the branches are in another order; concatenate branch1, branch2, branch3, branch4 "
           "in that order (the order of the module's output channels).", torch.cat(branches[::-1], 1).numpy())


def _inception_error(message, module, x):
    if "Sizes of tensors must match" in message or "size of tensor" in message or "stack expects" in message:
        return ("The branches give different numbers of channels but the same height and width: "
                "join them with torch.cat([...], dim=1), along the channel axis.")
    if "expected input" in message and "channels" in message:
        return "feed every branch the module's input x (branches run side by side, not one after another)."
    return None


def check_inception_forward(fn):
    """Compare ``fn(module, x)`` with the concatenation of the module's four branches."""
    problems = [(0, 16, (4, 6, 8, 2, 3, 5), (6, 6)), (1, 8, (2, 3, 4, 1, 2, 3), (5, 7)),
                (2, 24, (8, 4, 12, 4, 6, 4), (4, 4))]
    cases = []
    for seed, channels, columns, size in problems:
        module, x = _inception_problem(seed, channels, columns, size)
        with torch.no_grad():
            expected = reference_inception_forward(module, x).numpy().astype(float)
        cases.append(Case((module, x), expected, f"Inception({channels}, {', '.join(map(str, columns))}), "
                                                 f"input of shape {tuple(x.shape)}"))

    def inception_forward(module, x):
        with torch.no_grad():
            return fn(module, x)

    def suspects(module, x):
        with torch.no_grad():
            return list(_inception_suspects(module, x))

    def shape_hint(got, module, x):
        with torch.no_grad():
            return _inception_shape_hint(got, module, x)

    run_cases(inception_forward, "inception_forward", cases, Tensor(),
              shape_rule="(N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)", explain_shape=shape_hint,
              suspects=suspects, explain_error=_inception_error)
    print(f"✓ inception_forward matches the four branches concatenated on {len(cases)} modules.")
