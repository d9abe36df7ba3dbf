"""Lesson 07's checks: the references agree with torch, the checks accept them and explain each
typical wrong answer."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from course_utils import checks
from course_utils.architectures.resnet_small import SmallBlock
from course_utils.checks.resnet import (
    reference_basic_block_forward,
    reference_batchnorm_eval,
    reference_residual_gradient,
)

pytestmark = pytest.mark.usefixtures("one_thread")   # tests/conftest.py

# --- basic_block_forward ---


def small_block(in_channels, out_channels, stride):
    """A SmallBlock with projection shortcuts, in eval mode, with running statistics and affine
    parameters away from their defaults."""
    torch.manual_seed(in_channels + out_channels + stride)
    block = SmallBlock(in_channels, out_channels, stride, shortcut="B").eval()
    with torch.no_grad():
        for bn in (m for m in block.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.normal_(0, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0, 0.3)
    return block


@pytest.mark.parametrize("in_channels, out_channels, stride", [(4, 4, 1), (4, 8, 2), (3, 6, 1)])
def test_reference_basic_block_matches_small_block(in_channels, out_channels, stride):
    block = small_block(in_channels, out_channels, stride)
    x = torch.randn(2, in_channels, 8, 8)
    with torch.no_grad():
        expected = block(x)
        modules = (block.conv1, block.bn1, block.conv2, block.bn2, block.downsample)
        got = reference_basic_block_forward(x, *modules)
    assert got.shape == (2, out_channels, 8 // stride, 8 // stride)
    assert torch.allclose(got, expected, atol=1e-6)


def block_with(*, add_shortcut=True, relu_before_add=False, final_relu=True, skip_from=None,
               relu_before_bn=False, always_x=False, always_project=False):
    """A basic_block_forward with one typical mistake."""
    def basic_block_forward(x, conv1, bn1, conv2, bn2, shortcut):
        first = conv1(x)
        hidden = bn1(torch.relu(first)) if relu_before_bn else torch.relu(bn1(first))
        out = bn2(conv2(hidden))
        if relu_before_add:
            out = torch.relu(out)
        skip = x if shortcut is None or always_x else shortcut(x)
        if always_project:
            skip = shortcut(x)
        if skip_from == "conv1":
            skip = first
        if add_shortcut:
            out = out + skip
        return torch.relu(out) if final_relu else out
    return basic_block_forward


def test_basic_block_check_accepts_the_reference(stub, expect_failure, capsys):
    checks.check_basic_block_forward(reference_basic_block_forward)
    checks.check_basic_block_forward(block_with())
    assert capsys.readouterr().out.startswith("✓ ")
    expect_failure(checks.check_basic_block_forward, stub, "not implemented yet")


def test_basic_block_without_shortcut(expect_failure):
    expect_failure(checks.check_basic_block_forward, block_with(add_shortcut=False), "plain block")


def test_basic_block_relu_before_the_addition(expect_failure):
    expect_failure(checks.check_basic_block_forward, block_with(relu_before_add=True), "add first, then")


def test_basic_block_without_the_final_relu(expect_failure):
    expect_failure(checks.check_basic_block_forward, block_with(final_relu=False), "final ReLU is missing")


def test_basic_block_shortcut_from_the_first_conv(expect_failure):
    expect_failure(checks.check_basic_block_forward, block_with(skip_from="conv1"),
                   "output of the first conv")


def test_basic_block_relu_before_bn(expect_failure):
    expect_failure(checks.check_basic_block_forward, block_with(relu_before_bn=True), "conv → BN → ReLU")


def test_basic_block_adding_x_where_the_shape_changes(expect_failure):
    expect_failure(checks.check_basic_block_forward, block_with(always_x=True),
                   "Where the block changes the shape, add shortcut(x), not x")


def test_basic_block_calling_a_missing_shortcut(expect_failure):
    expect_failure(checks.check_basic_block_forward, block_with(always_project=True), "add x itself")


def test_basic_block_check_does_not_let_the_student_change_the_modules():
    def train_mode(x, conv1, bn1, conv2, bn2, shortcut):
        for module in (bn1, bn2):
            module.train()
        return reference_basic_block_forward(x, conv1, bn1, conv2, bn2, shortcut)

    with pytest.raises(checks.CheckFailed, match="basic_block_forward returned wrong values: at index"):
        checks.check_basic_block_forward(train_mode)


# --- batchnorm_eval ---


def test_reference_batchnorm_eval_matches_batchnorm_module_in_eval_mode():
    bn = nn.BatchNorm2d(5, eps=1e-3).eval()
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.1, 2.0)
        bn.weight.normal_()
        bn.bias.normal_()
    x = torch.randn(3, 5, 4, 6)
    got = reference_batchnorm_eval(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, 1e-3)
    with torch.no_grad():
        assert torch.allclose(got, bn(x), atol=1e-6)
    x64, stats = x.double(), [t.detach().double().view(1, -1, 1, 1) for t in
                              (bn.running_mean, bn.running_var, bn.weight, bn.bias)]
    mean, var, gamma, beta = stats
    assert torch.allclose(got.double(), gamma * (x64 - mean) / torch.sqrt(var + 1e-3) + beta, atol=1e-5)


def batchnorm_with(*, batch_statistics=False, axis0=False, divide_by_var=False, eps_outside=False,
                   swap=False, gamma=True, beta=True, fixed_eps=False, view=(1, -1, 1, 1)):
    """A manual batchnorm_eval with one typical mistake."""
    def batchnorm_eval(x, running_mean, running_var, gamma_, beta_, eps=1e-5):
        m, v, g, b = (t.reshape(view) for t in (running_mean, running_var, gamma_, beta_))
        if fixed_eps:
            eps = 1e-5
        if batch_statistics:
            m, v = x.mean((0, 2, 3), keepdim=True), x.var((0, 2, 3), keepdim=True, correction=0)
        if axis0:
            m, v = x.mean(0), x.var(0, correction=0)
        spread = v + eps if divide_by_var else (torch.sqrt(v) + eps if eps_outside else torch.sqrt(v + eps))
        y = (x - m) / spread
        if swap:
            g, b = b, g
        return (y * g if gamma else y) + (b if beta else 0)
    return batchnorm_eval


def test_batchnorm_check_accepts_the_reference_and_the_formula(stub, expect_failure, capsys):
    checks.check_batchnorm_eval(reference_batchnorm_eval)
    checks.check_batchnorm_eval(batchnorm_with())
    checks.check_batchnorm_eval(lambda *args: batchnorm_with()(*args).numpy())
    assert capsys.readouterr().out.startswith("✓ ")
    expect_failure(checks.check_batchnorm_eval, stub, "not implemented yet")


def test_batchnorm_with_the_batch_statistics(expect_failure):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(batch_statistics=True), "training mode")


def test_batchnorm_divided_by_the_variance(expect_failure):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(divide_by_var=True), "divided by the variance")


def test_batchnorm_with_eps_outside_the_root(expect_failure):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(eps_outside=True), "eps belongs inside")


def test_batchnorm_with_gamma_and_beta_swapped(expect_failure):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(swap=True), "gamma and beta are swapped")


def test_batchnorm_without_gamma_and_beta(expect_failure):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(gamma=False, beta=False),
                   "gamma and beta are missing")


def test_batchnorm_without_gamma(expect_failure):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(gamma=False), "gamma is missing")


def test_batchnorm_without_beta(expect_failure):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(beta=False), "beta is missing")


def test_batchnorm_ignoring_the_eps_argument(expect_failure):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(fixed_eps=True),
                   "not the eps argument (0.001)")


@pytest.mark.parametrize("view", [(-1,), (-1, 1)], ids=["against W", "against H"])
def test_batchnorm_statistics_on_the_wrong_axis(expect_failure, view):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(view=view), "wrong axis")


def test_batchnorm_statistics_that_do_not_broadcast(expect_failure):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(view=(-1, 1, 1, 1)),
                   "reshape them to (1, C, 1, 1)")


def test_batchnorm_statistics_over_axis_0_only(expect_failure):
    expect_failure(checks.check_batchnorm_eval, batchnorm_with(axis0=True), "over axis 0 only")


# --- residual_gradient ---

STACKS = [(np.linspace(-2, 2, 9), [0.8]), (np.linspace(-1, 1, 5), [0.5, -1.0, 2.0, 0.3, -0.7]),
          (np.array([-0.3, 0.1, 1.2]), [6.0, -8.0, 10.0]),
          (np.linspace(-1, 1, 4), np.random.default_rng(0).normal(0, 0.5, 30))]


def autograd_gradient(h0, weights, dtype=torch.float64):
    """d h_L / d h_0 by torch.autograd (each h_L[i] depends on h0[i] only, so the gradient of
    the sum is the elementwise derivative)."""
    h0 = torch.tensor(h0, dtype=dtype, requires_grad=True)
    h = h0
    for w in weights:
        h = h + torch.tanh(float(w) * h)
    h.sum().backward()
    return h0.grad


def forward(h0, weights):
    h = np.asarray(h0, dtype=float)
    for w in weights:
        h = h + np.tanh(w * h)
    return h


@pytest.mark.parametrize("h0, weights", STACKS)
def test_reference_residual_gradient_matches_autograd_and_finite_differences(h0, weights):
    expected = autograd_gradient(h0, weights).numpy()
    got = reference_residual_gradient(h0, weights)
    assert got.shape == h0.shape
    assert np.allclose(got, expected, rtol=1e-10, atol=1e-12)
    step = 1e-6
    numeric = (forward(h0 + step, weights) - forward(h0 - step, weights)) / (2 * step)
    assert np.allclose(got, numeric, rtol=1e-5, atol=1e-7)


def gradient_with(*, one=True, combine=np.prod, inner_w=True, at_h0=False, plain=False):
    """A residual_gradient with one typical mistake."""
    def residual_gradient(h0, weights):
        h, factors = np.asarray(h0, dtype=float), []
        for w in weights:
            point = h0 if at_h0 else h
            slope = 1 - np.tanh(w * point) ** 2
            factors.append((1 if one else 0) + (w if inner_w else 1) * slope)
            h = np.tanh(w * h) if plain else h + np.tanh(w * h)
        return combine(factors, axis=0)
    return residual_gradient


def test_residual_gradient_check_accepts_the_reference_and_tensors(stub, expect_failure, capsys):
    checks.check_residual_gradient(reference_residual_gradient)
    checks.check_residual_gradient(gradient_with())
    checks.check_residual_gradient(autograd_gradient)
    checks.check_residual_gradient(lambda h0, weights: autograd_gradient(h0, weights, torch.float32))
    assert capsys.readouterr().out.startswith("✓ ")
    expect_failure(checks.check_residual_gradient, stub, "not implemented yet")


def test_residual_gradient_without_the_one(expect_failure):
    expect_failure(checks.check_residual_gradient, gradient_with(one=False), "left out the 1")


def test_residual_gradient_of_the_plain_network(expect_failure):
    expect_failure(checks.check_residual_gradient, gradient_with(one=False, plain=True), "plain network")


def test_residual_gradient_summed(expect_failure):
    expect_failure(checks.check_residual_gradient, gradient_with(combine=np.sum), "chain rule multiplies")

    def one_plus_sum(h0, weights):
        return 1 + gradient_with(one=False, combine=np.sum)(h0, weights)

    expect_failure(checks.check_residual_gradient, one_plus_sum, "chain rule multiplies")


def test_residual_gradient_at_h0(expect_failure):
    expect_failure(checks.check_residual_gradient, gradient_with(at_h0=True), "evaluated every tanh' at h_0")


def test_residual_gradient_without_the_inner_w(expect_failure):
    expect_failure(checks.check_residual_gradient, gradient_with(inner_w=False), "inner factor w_l")


def test_residual_gradient_returning_h_L(expect_failure):
    expect_failure(checks.check_residual_gradient, forward, "that is h_L itself")


def test_residual_gradient_shapes(expect_failure):
    expect_failure(checks.check_residual_gradient, gradient_with(combine=lambda f, axis: np.array(f)),
                   "per-layer factors")
    expect_failure(checks.check_residual_gradient, lambda *args: reference_residual_gradient(*args).sum(),
                   "one derivative per element of h0")
