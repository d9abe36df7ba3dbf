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


PADDED_CASES = [  # (shape, kernel_size, stride, padding)
    ((2, 3, 8, 8), 3, 2, 1),  # AlexNet's / ResNet's overlapping 3x3 stride-2 pooling, padded
    ((1, 2, 7, 9), 3, 2, 1),
    ((2, 1, 6, 5), 2, 2, 1),
    ((1, 2, 9, 11), (3, 5), (1, 2), (1, 2)),
    ((2, 2, 5, 6), (4, 2), None, (2, 0)),
    ((1, 1, 3, 3), 3, 1, 1),
    ((1, 3, 10, 7), 5, 3, (0, 2)),
]


@pytest.mark.parametrize("shape,kernel_size,stride,padding", PADDED_CASES)
@pytest.mark.parametrize("ours", [pooling.max_pool2d, pooling.max_pool2d_naive])
def test_padded_max_pooling_matches_torch(shape, kernel_size, stride, padding, ours):
    x = RNG.normal(size=shape) - 5.0  # all negative: padding with zeros would win every border window
    expected = F.max_pool2d(torch.tensor(x), kernel_size, stride=stride or kernel_size,
                            padding=padding).numpy()
    got = ours(x, kernel_size, stride, padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert np.all(np.isfinite(got))


@pytest.mark.parametrize("shape,kernel_size,stride,padding", PADDED_CASES)
@pytest.mark.parametrize("ours", [pooling.avg_pool2d, pooling.avg_pool2d_naive])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_padded_average_pooling_matches_torch(shape, kernel_size, stride, padding, ours, count_include_pad):
    x = RNG.normal(size=shape)
    expected = F.avg_pool2d(torch.tensor(x), kernel_size, stride=stride or kernel_size, padding=padding,
                            count_include_pad=count_include_pad).numpy()
    got = ours(x, kernel_size, stride, padding, count_include_pad=count_include_pad)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_random_padded_shapes_match_torch():
    rng = np.random.default_rng(3)
    for _ in range(40):
        kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
        ph, pw = int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1))
        H, W = int(rng.integers(max(kh - 2 * ph, 1), 12)), int(rng.integers(max(kw - 2 * pw, 1), 12))
        sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
        x = torch.tensor(rng.normal(size=(1, 2, H, W)))
        args = ((kh, kw), (sh, sw), (ph, pw))
        np.testing.assert_allclose(pooling.max_pool2d(x.numpy(), *args), F.max_pool2d(x, *args).numpy())
        for include in (True, False):
            np.testing.assert_allclose(pooling.avg_pool2d(x.numpy(), *args, count_include_pad=include),
                                       F.avg_pool2d(x, *args, count_include_pad=include).numpy())


def test_padding_at_the_border_exact_values():
    ones = np.ones((1, 1, 4, 4))
    # 3x3 windows, stride 2, padding 1: corner windows hold 4 real values, edge windows 6
    np.testing.assert_allclose(pooling.avg_pool2d(ones, 3, 2, 1)[0, 0], [[4 / 9, 6 / 9], [6 / 9, 1]])
    np.testing.assert_allclose(pooling.avg_pool2d(ones, 3, 2, 1, count_include_pad=False), 1.0)
    np.testing.assert_array_equal(pooling.max_pool2d(-ones, 3, 2, 1), -1.0)  # not 0: padding never wins


def test_padded_integer_and_float32_input_keep_their_type():
    x = -np.arange(16).reshape(1, 1, 4, 4)
    out = pooling.max_pool2d(x, 3, 2, 1)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out[0, 0], [[0, -1], [-4, -5]])
    np.testing.assert_array_equal(pooling.max_pool2d_naive(x, 3, 2, 1), out)
    x32 = RNG.normal(size=(1, 1, 5, 5)).astype(np.float32)
    assert pooling.max_pool2d(x32, 3, 2, 1).dtype == np.float32
    assert pooling.avg_pool2d(x32, 3, 2, 1, count_include_pad=False).dtype == np.float32


@pytest.mark.parametrize("n,k,s,p,expected", [(55, 3, 2, 0, 27), (112, 3, 2, 1, 56), (28, 3, 2, 1, 14),
                                              (28, 2, None, 0, 14), (5, 2, None, 1, 3)])
def test_pool_output_size_with_padding(n, k, s, p, expected):
    assert pooling.pool_output_size(n, k, s, p) == expected
    assert F.max_pool2d(torch.zeros(1, 1, n, n), k, s or k, p).shape[-1] == expected


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
    (lambda: pooling.max_pool2d(np.zeros((1, 1, 4, 4)), 3, 2, 2), "more than half the window 3"),
    (lambda: pooling.avg_pool2d_naive(np.zeros((1, 1, 4, 4)), (2, 4), 1, (2, 0)), "at most kernel_size // 2"),
    (lambda: pooling.avg_pool2d(np.zeros((1, 1, 4, 4)), 3, 1, -1), "padding cannot be negative"),
    (lambda: pooling.max_pool2d_naive(np.zeros((1, 1, 4, 4)), 2, 1, (1, 1, 1)), "padding must be an int"),
    (lambda: pooling.max_pool2d(np.zeros((4, 4)), 3, 2, 1), "x[None, None]"),
    (lambda: pooling.global_avg_pool(np.zeros((4, 4))), "(N, C, H, W)"),
    (lambda: pooling.cross_channel_max(np.zeros((1, 6, 2, 2)), 4), "cannot be split into groups of 4"),
    (lambda: pooling.cross_channel_max(np.zeros((1, 6, 2, 2)), 0), "positive int"),
    (lambda: pooling.cross_channel_max(np.zeros((6, 2, 2)), 2), "(N, C, H, W)"),
])
def test_bad_input_raises_a_clear_value_error(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value), str(error.value)
