"""The numpy convolutions against torch (the reference) and against each other."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.convolution import (
    conv1d_flip_and_dot,
    conv1d_translate_and_scale,
    conv2d,
    conv2d_naive,
    conv2d_single,
    conv_matrix,
    cross_correlate1d,
    output_size,
    pad2d,
)


def torch_conv(x, w, b, stride, padding):
    return F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                    stride=stride, padding=padding).numpy()


def random_layer(rng):
    """A random (x, w, b, stride, padding) with non-square sizes and several channels."""
    N, C, F_ = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 5)
    kh, kw = rng.integers(1, 6, size=2)
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    padding = tuple(int(p) for p in rng.integers(0, 3, size=2))
    H, W = kh + rng.integers(0, 9), kw + rng.integers(0, 9)
    x = rng.normal(size=(N, C, H, W))
    w = rng.normal(size=(F_, C, kh, kw))
    return x, w, rng.normal(size=F_), stride, padding


@pytest.mark.parametrize("seed", range(25))
def test_conv2d_matches_torch_on_random_shapes(seed):
    x, w, b, stride, padding = random_layer(np.random.default_rng(seed))
    expected = torch_conv(x, w, b, stride, padding)
    np.testing.assert_allclose(conv2d(x, w, b, stride, padding), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("seed", range(8))
def test_naive_and_vectorized_agree(seed):
    x, w, b, stride, padding = random_layer(np.random.default_rng(100 + seed))
    np.testing.assert_allclose(conv2d_naive(x, w, b, stride, padding),
                               conv2d(x, w, b, stride, padding), rtol=1e-10, atol=1e-10)


def test_int_stride_and_padding_and_no_bias():
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(2, 3, 11, 9)), rng.normal(size=(4, 3, 3, 3))
    expected = torch_conv(x, w, np.zeros(4), 2, 1)
    np.testing.assert_allclose(conv2d(x, w, stride=2, padding=1), expected, atol=1e-10)


def test_conv2d_single_is_the_notes_definition():
    rng = np.random.default_rng(4)
    image, kernel = rng.normal(size=(3, 7, 6)), rng.normal(size=(3, 3, 2))
    expected = torch_conv(image[None], kernel[None], np.zeros(1), 1, 0)[0, 0]
    np.testing.assert_allclose(conv2d_single(image, kernel), expected, atol=1e-12)
    # one channel given as plain 2-D arrays
    np.testing.assert_allclose(conv2d_single(image[0], kernel[0]),
                               conv2d_single(image[:1], kernel[:1]), atol=1e-12)


@pytest.mark.parametrize("n,k,p,s", [(n, k, p, s) for n in (1, 4, 7, 28) for k in (1, 2, 3, 5)
                                     for p in (0, 1, 2) for s in (1, 2, 3) if k <= n + 2 * p])
def test_output_size_matches_torch(n, k, p, s):
    out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p)
    assert output_size(n, k, p, s) == out.shape[-1]


@pytest.mark.parametrize("seed", range(6))
def test_conv_matrix_equals_the_convolution(seed):
    rng = np.random.default_rng(seed)
    kh, kw = rng.integers(1, 4, size=2)
    H, W = kh + rng.integers(0, 5), kw + rng.integers(0, 5)
    stride, padding = int(rng.integers(1, 3)), int(rng.integers(0, 2))
    kernel, image = rng.normal(size=(kh, kw)), rng.normal(size=(H, W))
    M = conv_matrix(kernel, (H, W), stride, padding)
    expected = conv2d(image[None, None], kernel[None, None], stride=stride, padding=padding)
    np.testing.assert_allclose(M @ image.ravel(), expected.ravel(), atol=1e-12)


def test_conv_matrix_is_sparse_with_shared_weights():
    kernel = np.arange(1.0, 10.0).reshape(3, 3)
    M = conv_matrix(kernel, (7, 7))
    assert M.shape == (25, 49)
    assert (np.count_nonzero(M, axis=1) == 9).all()
    for row in M:  # every row holds exactly the same nine weights
        np.testing.assert_array_equal(np.sort(row[row != 0]), np.arange(1.0, 10.0))


def test_1d_convolution_views_agree_with_numpy_and_commute():
    rng = np.random.default_rng(5)
    x, w = rng.normal(size=9), rng.normal(size=4)
    np.testing.assert_allclose(conv1d_translate_and_scale(x, w), np.convolve(x, w), atol=1e-12)
    np.testing.assert_allclose(conv1d_flip_and_dot(x, w), np.convolve(x, w), atol=1e-12)
    np.testing.assert_allclose(conv1d_flip_and_dot(w, x), conv1d_flip_and_dot(x, w), atol=1e-12)
    np.testing.assert_allclose(cross_correlate1d(x, w), np.correlate(x, w, mode="valid"),
                               atol=1e-12)


def test_pad2d_pads_only_the_spatial_axes():
    padded = pad2d(np.ones((2, 3, 4, 5)), (1, 2))
    assert padded.shape == (2, 3, 6, 9)
    assert padded.sum() == 2 * 3 * 4 * 5


@pytest.mark.parametrize("x_shape,w_shape,kwargs,words", [
    ((1, 3, 8, 8), (2, 1, 3, 3), {}, "3 channels but the filter has 1"),
    ((3, 8, 8), (2, 3, 3, 3), {}, "x must have shape (N, C, H, W)"),
    ((1, 3, 8, 8), (3, 3, 3), {}, "w must have shape (F, C, kh, kw)"),
    ((1, 1, 4, 4), (1, 1, 7, 7), {"padding": 1}, "does not fit"),
    ((1, 1, 8, 8), (1, 1, 3, 3), {"stride": 0}, "stride must be at least 1"),
    ((1, 1, 8, 8), (1, 1, 3, 3), {"b": np.zeros(3)}, "one bias per filter"),
])
def test_bad_input_gets_a_clear_error(x_shape, w_shape, kwargs, words):
    with pytest.raises(ValueError, match=None) as error:
        conv2d(np.zeros(x_shape), np.zeros(w_shape), **kwargs)
    assert words in str(error.value)
