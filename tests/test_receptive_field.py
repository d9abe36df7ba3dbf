"""Receptive fields: known values from the papers, the empirical method, the errors."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from course_utils.models import alexnet_features, vgg16_features
from course_utils.receptive_field import (
    compose_kernels,
    effective_receptive_field,
    empirical_receptive_field,
    fit_composition,
    path_counts,
    receptive_field,
    spread,
)


def test_two_3x3_layers():
    stack = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3))
    rf = receptive_field(stack)
    assert rf.size == (5, 5) and rf.stride == (1, 1) and rf.padding == (0, 0)
    counts = path_counts(stack, (5, 5))
    assert counts.sum() == 81 and (counts > 0).sum() == 25
    np.testing.assert_array_equal(counts[2], [3, 6, 9, 6, 3])


def test_alexnet_stack_sees_195_pixels():
    rf = receptive_field(alexnet_features(), input_size=(227, 227))
    assert rf.size == (195, 195) and rf.stride == (32, 32)
    assert rf.layers[-1].output == (6, 6)


def test_vgg16_stack_sees_212_pixels():
    rf = receptive_field(vgg16_features(), input_size=(224, 224))
    assert rf.size == (212, 212) and rf.stride == (32, 32) and rf.padding == (90, 90)
    assert rf.layers[-1].output == (7, 7)
    assert [row.size[0] for row in rf.layers[:3]] == [3, 5, 6]


def test_three_3x3_equal_one_7x7():
    three = nn.Sequential(*[nn.Conv2d(4, 4, 3) for _ in range(3)])
    assert receptive_field(three).size == receptive_field(nn.Sequential(nn.Conv2d(4, 4, 7))).size == (7, 7)


def test_non_square_settings_and_nested_sequentials():
    stack = nn.Sequential(nn.Conv2d(1, 2, (3, 5), stride=(1, 2), padding=(1, 2)),
                          nn.Sequential(nn.BatchNorm2d(2), nn.MaxPool2d((2, 3), stride=(2, 1))),
                          nn.Dropout(0.1), nn.AvgPool2d(2))
    rf = receptive_field(stack, input_size=(20, 30))
    assert rf.size == (3 + 1 + 2, 5 + 2 * 2 + 1 * 2 * 1)
    assert rf.stride == (4, 4)
    out = stack(torch.zeros(1, 1, 20, 30))
    assert rf.layers[-1].output == tuple(out.shape[2:])


def random_stack(rng):
    layers, channels = [], 1
    for _ in range(rng.integers(1, 5)):
        kind = rng.choice(["conv", "conv", "max", "avg"])
        k = tuple(int(v) for v in rng.integers(1, 4, size=2))
        s = tuple(int(v) for v in rng.integers(1, 3, size=2))
        p = tuple(int(rng.integers(0, v // 2 + 1)) for v in k)
        if kind == "conv":
            d = tuple(int(v) for v in rng.integers(1, 3, size=2))
            layers += [nn.Conv2d(channels, 2, k, stride=s, padding=p, dilation=d), nn.ReLU()]
            channels = 2
        elif kind == "max":
            layers.append(nn.MaxPool2d(k, stride=s, padding=p))
        else:
            layers.append(nn.AvgPool2d(k, stride=s, padding=p))
    return nn.Sequential(*layers)


def no_gaps(stack):
    """True when every layer's kernel covers its stride and nothing is dilated."""
    spatial = [m for m in stack.modules() if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
    return all(np.all(np.array(_pair(m.kernel_size)) >= np.array(_pair(m.stride)))
               and _pair(getattr(m, "dilation", 1)) == (1, 1) for m in spatial)


def _pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


@pytest.mark.parametrize("seed", range(30))
def test_empirical_method_agrees_with_the_analytic_region(seed):
    rng = np.random.default_rng(seed)
    stack, size = random_stack(rng), (64, 61)
    rf = receptive_field(stack, input_size=size)
    out_h, out_w = rf.layers[-1].output
    units = {(0, 0), (out_h // 2, out_w // 2), (out_h - 1, out_w - 1), (out_h // 3, 2 * out_w // 3)}
    for unit in units:
        mask = empirical_receptive_field(stack, size, unit)
        (top, bottom), (left, right) = rf.region(*unit)
        outside = mask.copy()
        outside[top:bottom + 1, left:right + 1] = False
        assert mask.any() and not outside.any(), f"unit {unit} reaches outside its region\n{stack}"
        if rf.region(*unit) == rf.region(*unit, clip=False):  # no padding involved
            rows, cols = np.nonzero(mask)
            assert (rows.min(), rows.max(), cols.min(), cols.max()) == (top, bottom, left, right)
            if no_gaps(stack):  # then every pixel of the region is reached
                assert mask[top:bottom + 1, left:right + 1].all()


def test_the_random_stacks_include_interior_units():
    """The exact comparison above must not be vacuous: count the units it applies to."""
    interior = 0
    for seed in range(30):
        rf = receptive_field(random_stack(np.random.default_rng(seed)), input_size=(64, 61))
        out_h, out_w = rf.layers[-1].output
        units = {(0, 0), (out_h // 2, out_w // 2), (out_h - 1, out_w - 1), (out_h // 3, 2 * out_w // 3)}
        interior += sum(rf.region(*u) == rf.region(*u, clip=False) for u in units)
    assert interior >= 30


def test_region_of_an_unclipped_unit_has_the_rf_size():
    rf = receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, stride=2)))
    assert rf.region(0, 0) == ((-1, 3), (-1, 3))
    assert rf.region(2, 1) == ((3, 7), (1, 5))


@pytest.mark.parametrize("layer", [nn.Linear(4, 4), nn.Flatten(), nn.AdaptiveAvgPool2d(1), nn.Upsample(2)])
def test_unsupported_layer_is_named(layer):
    with pytest.raises(ValueError, match=type(layer).__name__):
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), layer))


def test_not_a_sequential_is_refused():
    with pytest.raises(ValueError, match="nn.Sequential"):
        receptive_field(nn.Conv2d(1, 1, 3))


def test_unit_outside_the_output_is_refused():
    with pytest.raises(ValueError, match="outside the output map"):
        path_counts(nn.Sequential(nn.Conv2d(1, 1, 3)), (5, 5), unit=(3, 0))


def test_table_lists_every_spatial_layer():
    rf = receptive_field(vgg16_features(width=0.1), input_size=(224, 224))
    lines = rf.table().splitlines()
    assert len(lines) == 1 + 13 + 5 and lines[-1].split()[-3:] == ["32", "90", "7x7"]


def test_uniform_linear_stack_erf_is_the_binomial_like_spread():
    # n uniform 3x3 kernels: the ERF is n box filters convolved, std = sqrt(n * 8 / 12).
    def build(n=6):
        stack = nn.Sequential(*[nn.Conv2d(1, 1, 3, bias=False) for _ in range(n)])
        for conv in stack:
            nn.init.ones_(conv.weight)
        return stack
    erf = effective_receptive_field(build, (31, 31), trials=2)
    sy, sx = spread(erf)
    assert np.isclose(sy, np.sqrt(6 * 8 / 12)) and np.isclose(sx, sy)
    assert np.isclose(erf.sum(), 1.0)


def test_random_erf_is_centred_and_reproducible():
    def build():
        return nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    a = effective_receptive_field(build, (15, 15), trials=4, seed=1)
    b = effective_receptive_field(build, (15, 15), trials=4, seed=1)
    np.testing.assert_array_equal(a, b)
    # the output is 11x11; its centre unit (5, 5) sees input rows and columns 5..9
    assert np.isclose(a[5:10, 5:10].sum(), 1.0) and a[5:10, 5:10].min() > 0


def test_composed_kernel_is_the_stack_as_one_convolution():
    kernels = torch.randn(3, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = torch.randn(1, 1, 12, 12, dtype=torch.float64)
    stacked = x
    for kernel in kernels:
        stacked = torch.nn.functional.conv2d(stacked, kernel[None, None])
    composed = compose_kernels(kernels.numpy())
    assert composed.shape == (7, 7)
    one = torch.nn.functional.conv2d(x, torch.tensor(composed)[None, None])
    torch.testing.assert_close(one, stacked)
    batch = compose_kernels(np.stack([kernels.numpy(), 2 * kernels.numpy()]))
    np.testing.assert_allclose(batch, [composed, 8 * composed])
    with pytest.raises(ValueError, match="n >= 1 kernels"):
        compose_kernels(np.ones((3, 3)))


def test_separable_targets_are_fitted_exactly():
    # a 7-tap 1-D kernel is a degree-6 polynomial: three real quadratics, so u v^T is exact
    u, v = np.random.default_rng(1).standard_normal((2, 7))
    for target in (np.ones((7, 7)), np.outer(u, v)):
        kernels, residual = fit_composition(target, starts=30, iterations=150)
        assert kernels.shape == (3, 3, 3) and residual < 1e-9
        np.testing.assert_allclose(compose_kernels(kernels), target, atol=1e-8)


def test_fit_of_a_random_target_reports_its_residual():
    target = np.random.default_rng(0).standard_normal((7, 7))
    kernels, residual = fit_composition(target, starts=10, iterations=100, seed=3)
    assert 0.3 < residual < 0.7
    assert np.isclose(residual, np.linalg.norm(compose_kernels(kernels) - target) / np.linalg.norm(target))
    assert fit_composition(target, starts=10, iterations=100, seed=3)[1] == residual


def test_fit_with_other_stack_shapes():
    target = np.random.default_rng(2).standard_normal((3, 3))
    assert fit_composition(target, n_kernels=1, starts=2, iterations=20)[1] < 1e-9
    five = compose_kernels(np.random.default_rng(3).standard_normal((2, 3, 3)))
    assert fit_composition(five, n_kernels=2, starts=10, iterations=100)[1] < 1e-9


@pytest.mark.parametrize("target,words", [(np.ones((5, 5)), "compose to a 7x7 kernel"),
                                          (np.zeros((7, 7)), "all zeros")])
def test_fit_composition_refuses_bad_targets(target, words):
    with pytest.raises(ValueError, match=words):
        fit_composition(target)
