"""course_utils.numpy_cnn conv and pool layers: forward and backward against torch autograd,
naive against fast, max-pool ties, and the error messages."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.numpy_cnn import (
    avg_pool2d,
    avg_pool2d_backward,
    conv2d,
    conv2d_backward,
    im2col,
    max_pool2d,
    max_pool2d_backward,
    numerical_gradient,
    relative_error,
)

METHODS = ["naive", "fast"]
TOL = 1e-10  # relative error, float64


def random_conv(rng):
    """A random (x, w, b, stride, padding) with non-square sizes, several channels and filters."""
    N, C, F_ = rng.integers(2, 4), rng.integers(1, 5), rng.integers(2, 5)
    kh, kw = (int(k) for k in rng.integers(1, 6, size=2))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    padding = tuple(int(p) for p in rng.integers(0, 3, size=2))
    H, W = kh + rng.integers(0, 8), kw + rng.integers(0, 8)
    return (rng.normal(size=(N, C, H, W)), rng.normal(size=(F_, C, kh, kw)), rng.normal(size=F_),
            stride, padding)


def torch_conv_grads(x, w, b, stride, padding, dout):
    """out, (dx, dw, db) of F.conv2d by autograd, as numpy arrays."""
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), (xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy())


def assert_close(ours, theirs):
    assert ours.shape == theirs.shape
    assert relative_error(ours, theirs) < TOL


# --- convolution ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(12))
def test_conv2d_forward_and_backward_match_torch(seed, method):
    rng = np.random.default_rng(seed)
    x, w, b, stride, padding = random_conv(rng)
    out = conv2d(x, w, b, stride, padding, method=method)
    dout = rng.normal(size=out.shape)
    expected_out, expected_grads = torch_conv_grads(x, w, b, stride, padding, dout)
    assert_close(out, expected_out)
    for ours, theirs in zip(conv2d_backward(dout, x, w, stride, padding, method=method), expected_grads):
        assert_close(ours, theirs)


@pytest.mark.parametrize("seed", range(6))
def test_conv2d_naive_and_fast_agree(seed):
    rng = np.random.default_rng(50 + seed)
    x, w, b, stride, padding = random_conv(rng)
    out = conv2d(x, w, b, stride, padding, method="naive")
    assert_close(conv2d(x, w, b, stride, padding, method="fast"), out)
    dout = rng.normal(size=out.shape)
    naive = conv2d_backward(dout, x, w, stride, padding, method="naive")
    fast = conv2d_backward(dout, x, w, stride, padding, method="fast")
    for a, b_ in zip(naive, fast):
        assert_close(a, b_)


def test_conv2d_course_shape_with_int_stride_and_padding():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(4, 3, 10, 10)), rng.normal(size=(6, 3, 3, 3)), rng.normal(size=6)
    out = conv2d(x, w, b, stride=2, padding=1)
    dout = rng.normal(size=out.shape)
    expected_out, expected_grads = torch_conv_grads(x, w, b, 2, 1, dout)
    assert out.shape == (4, 6, 5, 5)
    assert_close(out, expected_out)
    for ours, theirs in zip(conv2d_backward(dout, x, w, 2, 1), expected_grads):
        assert_close(ours, theirs)


def test_conv2d_without_bias_is_bias_zero():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 2, 2))
    assert_close(conv2d(x, w), conv2d(x, w, np.zeros(3)))


def test_conv2d_backward_passes_a_gradient_check():
    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(2, 2, 5, 4)), rng.normal(size=(3, 2, 3, 2)), rng.normal(size=3)
    dout = rng.normal(size=conv2d(x, w, b, 2, 1).shape)
    dx, dw, db = conv2d_backward(dout, x, w, 2, 1)
    assert relative_error(dx, numerical_gradient(lambda v: np.sum(conv2d(v, w, b, 2, 1) * dout), x)) < 1e-8
    assert relative_error(dw, numerical_gradient(lambda v: np.sum(conv2d(x, v, b, 2, 1) * dout), w)) < 1e-8
    assert relative_error(db, numerical_gradient(lambda v: np.sum(conv2d(x, w, v, 2, 1) * dout), b)) < 1e-8


def test_fast_conv_keeps_float32():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 8, 8)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    out = conv2d(x, w, b, padding=1)
    grads = conv2d_backward(np.ones_like(out), x, w, padding=1)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    assert out.flags.c_contiguous and grads[0].flags.c_contiguous


def test_im2col_follows_its_documented_layout():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 6, 5))
    (kh, kw), (sh, sw), (ph, pw) = (3, 2), (2, 1), (1, 0)
    cols = im2col(x, (kh, kw), (sh, sw), (ph, pw))
    N, C = x.shape[:2]
    Ho, Wo = (6 + 2 * ph - kh) // sh + 1, (5 + 2 * pw - kw) // sw + 1
    assert cols.shape == (C * kh * kw, Ho * Wo * N)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    for c, a, b, i, j, n in [(0, 0, 0, 0, 0, 0), (2, 2, 1, Ho - 1, Wo - 1, 1), (1, 1, 0, 1, 2, 0)]:
        assert cols[(c * kh + a) * kw + b, (i * Wo + j) * N + n] == xpad[n, c, i * sh + a, j * sw + b]


# --- pooling -------------------------------------------------------------------------------

POOL_CASES = [  # (shape, kernel_size, stride): overlapping, gapped, non-square, default stride
    ((2, 3, 8, 8), 2, None),
    ((2, 2, 7, 9), 3, 1),
    ((3, 2, 9, 11), (3, 2), (1, 2)),
    ((2, 3, 10, 7), (2, 3), (3, 2)),
    ((2, 1, 5, 5), 5, None),
]


def torch_pool_grads(fn, x, kernel_size, stride, dout):
    xt = torch.tensor(x, requires_grad=True)
    out = fn(xt, kernel_size, stride=kernel_size if stride is None else stride)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape,kernel_size,stride", POOL_CASES)
@pytest.mark.parametrize("ours,ours_backward,theirs", [
    (max_pool2d, max_pool2d_backward, F.max_pool2d),
    (avg_pool2d, avg_pool2d_backward, F.avg_pool2d),
])
def test_pooling_forward_and_backward_match_torch(ours, ours_backward, theirs, shape, kernel_size,
                                                  stride, method):
    rng = np.random.default_rng(sum(shape))
    x = rng.normal(size=shape)
    out = ours(x, kernel_size, stride, method=method)
    dout = rng.normal(size=out.shape)
    expected_out, expected_dx = torch_pool_grads(theirs, x, kernel_size, stride, dout)
    assert_close(out, expected_out)
    assert_close(ours_backward(dout, x, kernel_size, stride, method=method), expected_dx)


@pytest.mark.parametrize("shape,kernel_size,stride", POOL_CASES)
def test_pooling_naive_and_fast_agree(shape, kernel_size, stride):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, size=shape).astype(float)  # many ties
    for forward, backward in [(max_pool2d, max_pool2d_backward), (avg_pool2d, avg_pool2d_backward)]:
        out = forward(x, kernel_size, stride, method="fast")
        assert_close(forward(x, kernel_size, stride, method="naive"), out)
        dout = rng.normal(size=out.shape)
        assert_close(backward(dout, x, kernel_size, stride, method="naive"),
                     backward(dout, x, kernel_size, stride, method="fast"))


@pytest.mark.parametrize("method", METHODS)
def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order_as_in_torch(method):
    x = np.ones((1, 1, 3, 3))  # every window is one big tie
    dout = np.array([[[[1.0, 10.0], [100.0, 1000.0]]]])
    dx = max_pool2d_backward(dout, x, 2, 1, method=method)
    # window (i, j) starts at (i, j): its top-left element is its first maximum
    np.testing.assert_array_equal(dx[0, 0], [[1, 10, 0], [100, 1000, 0], [0, 0, 0]])
    np.testing.assert_array_equal(dx, torch_pool_grads(F.max_pool2d, x, 2, 1, dout)[1])
    # ties inside a window: a later equal value does not take the gradient
    x = np.array([[[[0.0, 5.0, 5.0], [5.0, 5.0, 0.0], [0.0, 0.0, 0.0]]]])
    dx = max_pool2d_backward(np.ones((1, 1, 1, 1)), x, 3, method=method)
    np.testing.assert_array_equal(dx[0, 0], [[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(dx, torch_pool_grads(F.max_pool2d, x, 3, None, np.ones((1, 1, 1, 1)))[1])


@pytest.mark.parametrize("method", METHODS)
def test_max_pool_input_that_wins_several_windows_gets_the_sum(method):
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 9.0  # the maximum of all four overlapping 2x2 windows
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = max_pool2d_backward(dout, x, 2, 1, method=method)
    assert dx[0, 0, 1, 1] == 10.0 and np.count_nonzero(dx) == 1
    np.testing.assert_array_equal(dx, torch_pool_grads(F.max_pool2d, x, 2, 1, dout)[1])


@pytest.mark.parametrize("method", METHODS)
def test_max_pool_ties_match_torch_on_random_integer_maps(method):
    rng = np.random.default_rng(8)
    x = rng.integers(0, 3, size=(2, 3, 9, 8)).astype(float)
    for kernel_size, stride in [(3, 1), (2, 1), ((3, 2), (2, 1)), (2, None)]:
        out = max_pool2d(x, kernel_size, stride, method=method)
        dout = rng.normal(size=out.shape)
        expected = torch_pool_grads(F.max_pool2d, x, kernel_size, stride, dout)[1]
        assert_close(max_pool2d_backward(dout, x, kernel_size, stride, method=method), expected)


def test_avg_pool_backward_spreads_dout_over_k_squared():
    dx = avg_pool2d_backward(np.array([[[[4.0]]]]), np.zeros((1, 1, 2, 2)), 2)
    np.testing.assert_array_equal(dx, np.ones((1, 1, 2, 2)))


def test_fast_pooling_keeps_float32():
    x = np.random.default_rng(9).normal(size=(2, 3, 6, 6)).astype(np.float32)
    for forward, backward in [(max_pool2d, max_pool2d_backward), (avg_pool2d, avg_pool2d_backward)]:
        out = forward(x, 2)
        assert out.dtype == np.float32
        assert backward(np.ones_like(out), x, 2).dtype == np.float32


# --- error messages ------------------------------------------------------------------------

X, W = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("call,message", [
    (lambda m: conv2d(X, np.zeros((4, 2, 3, 3)), method=m), "3 channels but the filter has 2"),
    (lambda m: conv2d(X, np.zeros((4, 3, 8, 3)), padding=1, method=m),
     "kernel of size 8 does not fit in an input of size 5 with padding 1"),
    (lambda m: conv2d(X[0], W, method=m), r"x must have shape \(N, C, H, W\), got 3 dimensions"),
    (lambda m: conv2d(X, W[0], method=m), r"w must have shape \(F, C, kh, kw\), got 3 dimensions"),
    (lambda m: conv2d(X, W, np.zeros(3), method=m), r"b must have shape \(4,\)"),
    (lambda m: conv2d_backward(np.zeros((2, 4, 3, 4)), X, W, method=m),
     r"dout must have the shape of the forward output \(2, 4, 3, 3\), got \(2, 4, 3, 4\)"),
    (lambda m: conv2d_backward(np.zeros((2, 4, 3, 3)), X, np.zeros((4, 2, 3, 3)), method=m),
     "3 channels but the filter has 2"),
    (lambda m: conv2d_backward(np.zeros((2, 4, 1, 1)), X, np.zeros((4, 3, 6, 6)), method=m),
     "kernel of size 6 does not fit"),
    (lambda m: max_pool2d(X, 6, method=m), r"pooling window \(6, 6\) is larger than the input"),
    (lambda m: avg_pool2d(X[0], 2, method=m), r"x must have shape \(N, C, H, W\), got 3 dimensions"),
    (lambda m: max_pool2d_backward(np.zeros((2, 3, 3, 3)), X, 2, method=m),
     r"dout must have the shape of the forward output \(2, 3, 2, 2\), got \(2, 3, 3, 3\)"),
    (lambda m: avg_pool2d_backward(np.zeros((2, 3, 2, 2)), X, 6, method=m), "larger than the input"),
])
def test_bad_input_raises_a_value_error_that_names_the_problem(call, message, method):
    with pytest.raises(ValueError, match=message):
        call(method)


@pytest.mark.parametrize("call", [
    lambda: conv2d(X, W, method="slow"),
    lambda: conv2d_backward(np.zeros((2, 4, 3, 3)), X, W, method="loops"),
    lambda: max_pool2d(X, 2, method="vectorised"),
    lambda: max_pool2d_backward(np.zeros((2, 3, 2, 2)), X, 2, method=None),
    lambda: avg_pool2d(X, 2, method="Fast"),
    lambda: avg_pool2d_backward(np.zeros((2, 3, 2, 2)), X, 2, method=""),
])
def test_unknown_method_is_refused(call):
    with pytest.raises(ValueError, match="method must be 'naive' .* or 'fast'"):
        call()
