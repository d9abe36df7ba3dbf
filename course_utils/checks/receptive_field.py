"""Checks for lesson 02's exercises: rf_recurrence, input_region, vgg_stack_rf."""

import torch.nn as nn

from ..receptive_field import receptive_field
from .harness import Case, Number, Pair, run_cases

__all__ = ["check_rf_recurrence", "check_input_region", "check_vgg_stack_rf"]


def _recurrence(layers, jump_first=False, use_dilation=True, use_jump=True, multiply_jump=True):
    """The receptive-field recurrence along one axis, with switches for typical mistakes."""
    size, jump = 1, 1
    for kernel, stride, dilation in layers:
        effective = dilation * (kernel - 1) + 1 if use_dilation else kernel
        if jump_first:
            jump = jump * stride if multiply_jump else jump + stride
        size += (effective - 1) * (jump if use_jump else 1)
        if not jump_first:
            jump = jump * stride if multiply_jump else jump + stride
    return size, jump


RF_CASES = [
    [(3, 1, 1), (3, 1, 1)],
    [(3, 2, 2)],  # a single layer: its effective kernel, its stride
    [(11, 4, 1), (3, 2, 1), (5, 1, 1), (3, 2, 1)],
    [(3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8)],
    # Starts dilated (a base case that forgets d), then a strided 1 x 1 layer (it multiplies the jump).
    [(5, 2, 2), (1, 2, 1), (3, 1, 2), (3, 3, 1)],
]

RF_MISTAKES = [
    ("each layer adds (k' - 1) times the jump, the product of the strides of the layers before it; "
     "you added k' - 1 alone.", lambda layers: _recurrence(layers, use_jump=False)),
    ("you multiplied in a layer's own stride before adding its kernel: a layer's kernel is spread by "
     "the strides of the layers *before* it.", lambda layers: _recurrence(layers, jump_first=True)),
    ("dilation spreads the kernel: use the effective kernel k' = d (k - 1) + 1.",
     lambda layers: _recurrence(layers, use_dilation=False)),
    ("the jump is the *product* of the strides, not their sum.",
     lambda layers: _recurrence(layers, multiply_jump=False)),
    ("a 1 x 1 layer adds nothing to the size, but its stride still multiplies the jump of the layers "
     "after it: do not skip it.", lambda layers: _recurrence([layer for layer in layers if layer[0] > 1])),
]


def _rf_value_hint(got, layers):
    if got[1] == _recurrence(layers)[1]:
        return "the jump is right, the size is not."
    return None


def check_rf_recurrence(fn):
    """Check ``fn(layers) -> (size, jump)`` for layers given as (kernel, stride, dilation)."""
    cases = [Case(([tuple(layer) for layer in layers],), _recurrence(layers), f"layers {layers}")
             for layers in RF_CASES]
    run_cases(fn, "rf_recurrence", cases, Pair("(size, jump)"), mistakes=RF_MISTAKES,
              explain_values=_rf_value_hint)
    print(f"✓ rf_recurrence is right on all {len(RF_CASES)} stacks")


REGION_CASES = [(0, 5, 1, 0), (3, 5, 1, 0), (0, 7, 2, 3), (4, 7, 2, 3), (2, 212, 32, 90), (6, 195, 32, 0)]


def _region(i, size, jump, padding):
    return i * jump - padding, i * jump - padding + size - 1


REGION_MISTAKES = [
    ("you ignored the padding: unit 0 starts at -padding.", lambda i, r, j, p: (i * j, i * j + r - 1)),
    ("off by one: the last position is first + size - 1 (both ends are included).",
     lambda i, r, j, p: (i * j - p, i * j - p + r)),
    ("padding moves the region left/up: subtract it.", lambda i, r, j, p: (i * j + p, i * j + p + r - 1)),
    ("neighbouring units are one *jump* apart, not one receptive field apart.",
     lambda i, r, j, p: (i * r - p, i * r - p + r - 1)),
]


def check_input_region(fn):
    """Check ``fn(i, size, jump, padding) -> (first, last)`` input positions, inclusive."""
    cases = [Case(case, _region(*case), "unit i={}, size={}, jump={}, padding={}".format(*case))
             for case in REGION_CASES]
    run_cases(fn, "input_region", cases, Pair("(first, last)"), mistakes=REGION_MISTAKES)
    print(f"✓ input_region is right on all {len(REGION_CASES)} cases")


def vgg_stack(convs_per_block):
    """Blocks of 3x3 convs (pad 1), each block closed by a 2x2/2 max pool."""
    layers = []
    for n_convs in convs_per_block:
        layers += [nn.Conv2d(1, 1, 3, padding=1) for _ in range(n_convs)] + [nn.MaxPool2d(2)]
    return nn.Sequential(*layers)


VGG_CASES = [(1,), (2,), (2, 2), (2, 2, 3), (2, 2, 3, 3, 3), (1, 1, 1, 1), (3, 0, 2)]

VGG_MISTAKES = [
    ("the pooling layers count too: each one adds its own (2 - 1) x jump and doubles the jump.",
     lambda blocks: _recurrence([(3, 1, 1)] * sum(blocks))[0]),
    ("a 2x2 pooling window also widens the receptive field by one jump, not only the stride.",
     lambda blocks: _recurrence([layer for n in blocks for layer in [(3, 1, 1)] * n + [(1, 2, 1)]])[0]),
    ("in VGG the pool closes each block: the convolutions come first.",
     lambda blocks: _recurrence([layer for n in blocks for layer in [(2, 2, 1)] + [(3, 1, 1)] * n])[0]),
]


def check_vgg_stack_rf(fn):
    """Check ``fn(convs_per_block) -> receptive field size`` of a VGG-style stack."""
    cases = [Case((blocks,), receptive_field(vgg_stack(blocks)).size[0], f"convs_per_block={blocks}")
             for blocks in VGG_CASES]
    run_cases(fn, "vgg_stack_rf", cases, Number(), mistakes=VGG_MISTAKES)
    print(f"✓ vgg_stack_rf is right on all {len(VGG_CASES)} stacks, VGG16's (2, 2, 3, 3, 3) included")
