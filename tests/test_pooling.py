"""Pooling in numpy agrees with PyTorch, and refuses bad input with a clear message."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils import pooling

RNG = np.random.default_rng(0)


def torch_pool(fn, x, kernel_size, stride=None):
    return fn(torch.tensor(x), kernel_size, stride=stride if stride is not None else kernel_size).numpy()


CASES = [  # (shape, kernel_size, stride)
    ((2, 3, 8, 8), 2, None),
    ((1, 2, 7, 9), 3, None),
    ((3, 1, 10, 6), (2, 3), None),
    ((2, 2, 9, 11), (3, 2), (1, 2)),
    ((1, 4, 6, 6), 3, 1),
    ((2, 1, 5, 5), 5, None),
    ((1, 1, 4, 7), 1, None),
    ((2, 3, 12, 10), (4, 1), (2, 3)),
]


@pytest.mark.parametrize("shape,kernel_size,stride", CASES)
@pytest.mark.parametrize("ours,theirs", [
    (pooling.max_pool2d, F.max_pool2d), (pooling.max_pool2d_naive, F.max_pool2d),
    (pooling.avg_pool2d, F.avg_pool2d), (pooling.avg_pool2d_naive, F.avg_pool2d),
])
def test_pooling_matches_torch(shape, kernel_size, stride, ours, theirs):
    x = RNG.normal(size=shape)
    expected = torch_pool(theirs, x, kernel_size, stride)
    got = ours(x, kernel_size, stride)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_random_shapes_match_torch():
    rng = np.random.default_rng(1)
    for _ in range(30):
        H, W = rng.integers(1, 13, size=2)
        kh, kw = rng.integers(1, H + 1), rng.integers(1, W + 1)
        sh, sw = rng.integers(1, 4, size=2)
        x = rng.normal(size=(int(rng.integers(1, 3)), int(rng.integers(1, 4)), H, W))
        for ours, theirs in [(pooling.max_pool2d, F.max_pool2d), (pooling.avg_pool2d, F.avg_pool2d)]:
            got = ours(x, (int(kh), int(kw)), (int(sh), int(sw)))
            expected = theirs(torch.tensor(x), (int(kh), int(kw)), stride=(int(sh), int(sw))).numpy()
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_stride_defaults_to_the_window():
    x = RNG.normal(size=(1, 1, 9, 9))
    np.testing.assert_array_equal(pooling.max_pool2d(x, 3), pooling.max_pool2d(x, 3, 3))
    assert pooling.avg_pool2d(x, 2).shape == (1, 1, 4, 4)


def test_integer_input_averages_to_floats():
    x = np.arange(16).reshape(1, 1, 4, 4)
    np.testing.assert_allclose(pooling.avg_pool2d(x, 2)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(pooling.max_pool2d(x, 2)[0, 0], [[5, 7], [13, 15]])


@pytest.mark.parametrize("n,k,s,expected",
                         [(28, 2, None, 14), (28, 3, None, 9), (7, 3, 1, 5), (5, 5, None, 1)])
def test_pool_output_size(n, k, s, expected):
    assert pooling.pool_output_size(n, k, s) == expected


def test_global_pooling_matches_adaptive_pooling():
    x = RNG.normal(size=(3, 5, 7, 6))
    np.testing.assert_allclose(pooling.global_avg_pool(x),
                               F.adaptive_avg_pool2d(torch.tensor(x), 1).numpy()[:, :, 0, 0])
    np.testing.assert_allclose(pooling.global_max_pool(x),
                               F.adaptive_max_pool2d(torch.tensor(x), 1).numpy()[:, :, 0, 0])
    assert pooling.global_avg_pool(x).shape == (3, 5)


@pytest.mark.parametrize("fn", [pooling.cross_channel_max, pooling.cross_channel_max_naive])
@pytest.mark.parametrize("shape,group_size", [((2, 6, 4, 5), 2), ((1, 6, 3, 3), 3), ((2, 8, 2, 2), 8),
                                               ((1, 3, 4, 4), 1)])
def test_cross_channel_max_is_max_pooling_over_channels(fn, shape, group_size):
    x = RNG.normal(size=shape)
    expected = F.max_pool3d(torch.tensor(x)[:, None], (group_size, 1, 1))[:, 0].numpy()
    got = fn(x, group_size)
    assert got.shape == (shape[0], shape[1] // group_size) + shape[2:]
    np.testing.assert_array_equal(got, expected)


def test_cross_channel_max_groups_consecutive_channels():
    x = np.zeros((1, 4, 1, 1))
    x[0, :, 0, 0] = [1, 2, 30, 4]
    assert pooling.cross_channel_max(x, 2).ravel().tolist() == [2, 30]


@pytest.mark.parametrize("call,words", [
    (lambda: pooling.max_pool2d(np.zeros((4, 4)), 2), "must have shape (N, C, H, W)"),
    (lambda: pooling.avg_pool2d(np.zeros((1, 4, 4)), 2), "x[None, None]"),
    (lambda: pooling.max_pool2d(np.zeros((1, 1, 4, 4)), 5), "larger than the input (4, 4)"),
    (lambda: pooling.avg_pool2d(np.zeros((1, 1, 4, 6)), (2, 7)), "window (2, 7) is larger"),
    (lambda: pooling.max_pool2d(np.zeros((1, 1, 4, 4)), 0), "at least 1"),
    (lambda: pooling.max_pool2d(np.zeros((1, 1, 4, 4)), 2, 0), "stride must be at least 1"),
    (lambda: pooling.max_pool2d(np.zeros((1, 1, 4, 4)), (1, 2, 3)), "int or a pair"),
    (lambda: pooling.global_avg_pool(np.zeros((4, 4))), "(N, C, H, W)"),
    (lambda: pooling.cross_channel_max(np.zeros((1, 6, 2, 2)), 4), "cannot be split into groups of 4"),
    (lambda: pooling.cross_channel_max(np.zeros((1, 6, 2, 2)), 0), "positive int"),
    (lambda: pooling.cross_channel_max(np.zeros((6, 2, 2)), 2), "(N, C, H, W)"),
])
def test_bad_input_raises_a_clear_value_error(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value), str(error.value)
