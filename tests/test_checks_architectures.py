"""Lesson 06's checks accept the reference and explain each typical wrong answer."""

import torch
import torch.nn as nn

from course_utils import checks
from course_utils.architectures import count_macs
from course_utils.architectures.googlenet import INCEPTION_MODULES, Inception
from course_utils.checks.architectures import (
    reference_conv_macs,
    reference_inception_forward,
    reference_vgg_block,
)

# --- conv_macs ---


def test_reference_conv_macs_agrees_with_count_macs():
    for conv, size in [(nn.Conv2d(3, 64, 11, stride=4, padding=2), 224),
                       (nn.Conv2d(96, 256, 5, padding=2, groups=2), 27),
                       (nn.Conv2d(16, 8, 3, padding=1, groups=4), 9)]:
        out = conv(torch.zeros(1, conv.in_channels, size, size)).shape[-2:]
        expected = count_macs(nn.Sequential(conv), (conv.in_channels, size, size))
        assert reference_conv_macs(conv.in_channels, conv.out_channels, conv.kernel_size[0], tuple(out),
                                   conv.groups) == expected


def macs_times(factor=1, *, groups=True, bias=False, square=True, positions=True, outs=True, ins=True):
    def conv_macs(in_channels, out_channels, kernel_size, output_size, groups_=1):
        h, w = output_size
        value = ((out_channels if outs else 1) * (h * w if positions else 1)
                 * ((in_channels // (groups_ if groups else 1)) if ins else 1)
                 * kernel_size ** (2 if square else 1))
        return factor * value + (out_channels * h * w if bias else 0)
    return conv_macs


def test_conv_macs_check(stub, expect_failure):
    checks.check_conv_macs(reference_conv_macs)
    expect_failure(checks.check_conv_macs, stub, "not implemented yet")
    expect_failure(checks.check_conv_macs, macs_times(groups=False), "ignored groups=2")
    expect_failure(checks.check_conv_macs, macs_times(2), "FLOPs")
    expect_failure(checks.check_conv_macs, macs_times(bias=True), "bias")
    expect_failure(checks.check_conv_macs, macs_times(square=False), "k·k weights")
    expect_failure(checks.check_conv_macs, macs_times(positions=False), "one output position")
    expect_failure(checks.check_conv_macs, macs_times(outs=False), "output channels")
    expect_failure(checks.check_conv_macs, macs_times(ins=False), "input channels")
    expect_failure(checks.check_conv_macs, lambda *a: float(reference_conv_macs(*a)), "whole number")

    def one_side(in_channels, out_channels, kernel_size, output_size, groups=1):
        return reference_conv_macs(in_channels, out_channels, kernel_size, (output_size[0], 1), groups)

    expect_failure(checks.check_conv_macs, one_side, "one side")


# --- vgg_block ---


def block_from(layers):
    return nn.Sequential(*layers)


def vgg_variant(*, padding=1, kernel=3, same_in=False, relu=True, pool="max", pool_each=False,
                pool_first=False, bias=True):
    pools = {"max": nn.MaxPool2d(2, 2), "avg": nn.AvgPool2d(2, 2), "max3": nn.MaxPool2d(3, 2), None: None}
    pool = pools[pool]

    def vgg_block(in_channels, out_channels, num_convs):
        layers, channels = [], in_channels
        for i in range(num_convs):
            conv_in = in_channels if same_in else channels
            layers.append(nn.Conv2d(conv_in, out_channels, kernel, padding=padding, bias=bias))
            last = i == num_convs - 1
            if pool_first and last:
                layers += [pool, nn.ReLU()]
                return nn.Sequential(*layers)
            if relu:
                layers.append(nn.ReLU())
            if pool_each:
                layers.append(nn.MaxPool2d(2, 2))
            channels = out_channels
        if pool is not None and not pool_each:
            layers.append(pool)
        return nn.Sequential(*layers)
    return vgg_block


def test_vgg_block_check(stub, expect_failure):
    checks.check_vgg_block(reference_vgg_block)
    checks.check_vgg_block(vgg_variant())
    expect_failure(checks.check_vgg_block, stub, "not implemented yet")
    expect_failure(checks.check_vgg_block, vgg_variant(padding=0), "padding=1")
    expect_failure(checks.check_vgg_block, vgg_variant(kernel=5, padding=2), "only 3×3")
    expect_failure(checks.check_vgg_block, vgg_variant(same_in=True), "previous conv's out_channels")
    expect_failure(checks.check_vgg_block, vgg_variant(relu=False), "followed by a ReLU")
    expect_failure(checks.check_vgg_block, vgg_variant(pool=None), "0 pooling layers")
    expect_failure(checks.check_vgg_block, vgg_variant(pool_each=True), "exactly one 2×2 max pool")
    expect_failure(checks.check_vgg_block, vgg_variant(pool="avg"), "average pooling")
    # ReLU and max pooling commute (both are monotone), so pooling before the last ReLU is right too.
    checks.check_vgg_block(vgg_variant(pool_first=True))
    expect_failure(checks.check_vgg_block, vgg_variant(bias=False), "no bias")
    expect_failure(checks.check_vgg_block, vgg_variant(pool="max3"), "halves H and W")
    expect_failure(checks.check_vgg_block, lambda *a: reference_vgg_block(*a)(torch.zeros(1, a[0], 4, 4)),
                   "not its output")
    expect_failure(checks.check_vgg_block, lambda i, o, n: reference_vgg_block(o, o, n), "in_channels=")


# --- inception_forward ---


def forward_with(order=(0, 1, 2, 3), dim=1, raw_pool=False, sequential=False):
    def inception_forward(module, x):
        if sequential:
            y = x
            for branch in (module.branch1, module.branch2, module.branch3, module.branch4):
                y = branch(y)
            return y
        branches = [module.branch1(x), module.branch2(x), module.branch3(x),
                    module.branch4.pool(x) if raw_pool else module.branch4(x)]
        picked = [branches[i] for i in order]
        return torch.cat(picked, dim=dim)
    return inception_forward


def test_inception_forward_check(stub, expect_failure):
    checks.check_inception_forward(reference_inception_forward)
    checks.check_inception_forward(lambda module, x: module(x))
    expect_failure(checks.check_inception_forward, stub, "not implemented yet")
    expect_failure(checks.check_inception_forward, forward_with(order=(3, 2, 1, 0)), "another order")
    expect_failure(checks.check_inception_forward, forward_with(order=(0, 1, 2)), "pool branch")
    expect_failure(checks.check_inception_forward, forward_with(raw_pool=True), "1×1 conv")
    expect_failure(checks.check_inception_forward, forward_with(dim=0), "dim=1")
    expect_failure(checks.check_inception_forward, forward_with(sequential=True), "module's input x")
    expect_failure(checks.check_inception_forward, lambda m, x: torch.stack([m.branch1(x)] * 4), "dim=1")
    expect_failure(checks.check_inception_forward, lambda m, x: [m.branch1(x)], "expected a torch tensor")


def test_inception_forward_matches_module_3a():
    module = Inception(192, *INCEPTION_MODULES["3a"]).eval()
    x = torch.randn(1, 192, 28, 28)
    with torch.no_grad():
        assert torch.equal(reference_inception_forward(module, x), module(x))
    assert module(x).shape == (1, 256, 28, 28)
