"""Lesson 04's checks accept right answers and explain the typical wrong ones."""

import warnings

import numpy as np
import pytest

from course_utils.checks import (
    CheckFailed,
    check_conv_backward_dw,
    check_conv_backward_dx,
    check_max_pool_backward,
    check_softmax_cross_entropy_grad,
)
from course_utils.convolution import conv2d


def correlate(image, kernel, padding=0):
    """(C, H, W) x (kh, kw) -> (C, H', W'): each channel cross-correlated with one 2-D kernel."""
    return conv2d(image[:, None], kernel[None, None], padding=padding)[:, 0]


def dw_right(dout, image, kernel_size):
    return correlate(image, dout)


def dw_flipped(dout, image, kernel_size):
    return correlate(image, dout)[:, ::-1, ::-1]


def dx_right(dout, kernel):
    kh, kw = kernel.shape[1:]
    return np.stack([correlate(dout[None], k[::-1, ::-1], padding=(kh - 1, kw - 1))[0] for k in kernel])


def dx_unrotated(dout, kernel):
    kh, kw = kernel.shape[1:]
    return np.stack([correlate(dout[None], k, padding=(kh - 1, kw - 1))[0] for k in kernel])


def dx_valid(dout, kernel):
    return np.stack([correlate(dout[None], k[::-1, ::-1])[0] for k in kernel]) if min(dout.shape) >= max(
        kernel.shape[1:]) else np.zeros((len(kernel), 1, 1))


def pool_windows(x, k):
    H, W = x.shape
    return x[:H // k * k, :W // k * k].reshape(H // k, k, W // k, k)


def pool_right(dout, x, k):
    windows = pool_windows(x, k)
    mask = windows == windows.max(axis=(1, 3), keepdims=True)
    dx = np.zeros_like(x)
    dx[:x.shape[0] // k * k, :x.shape[1] // k * k] = (mask * dout[:, None, :, None]).reshape(
        x.shape[0] // k * k, x.shape[1] // k * k)
    return dx


def pool_everywhere(dout, x, k):
    return np.kron(dout, np.ones((k, k)))


def softmax_grad(logits, labels, shift=lambda logits: logits.max(axis=1, keepdims=True)):
    p = np.exp(logits - shift(logits))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(labels)), labels] -= 1
    return p / len(labels)


def softmax_unshifted(logits, labels):
    return softmax_grad(logits, labels, shift=lambda logits: 0)


def softmax_min_shift(logits, labels):
    return softmax_grad(logits, labels, shift=lambda logits: logits.min(axis=1, keepdims=True))


def softmax_batch_shift(logits, labels):
    return softmax_grad(logits, labels, shift=lambda logits: logits.max())


@pytest.mark.parametrize("check", [check_conv_backward_dw, check_conv_backward_dx, check_max_pool_backward,
                                   check_softmax_cross_entropy_grad])
def test_unfinished_exercises_are_named(check, stub, expect_failure):
    expect_failure(check, stub, "not implemented yet")


def test_right_answers_pass(capsys):
    check_conv_backward_dw(dw_right)
    check_conv_backward_dx(dx_right)
    check_max_pool_backward(pool_right)
    check_softmax_cross_entropy_grad(softmax_grad)
    assert capsys.readouterr().out.count("✓") == 4


@pytest.mark.parametrize("check,wrong,words", [
    (check_conv_backward_dw, dw_flipped, "no rotation"),
    (check_conv_backward_dw, lambda d, i, k: dw_right(d, i, k) / d.size, "gradients add up"),
    (check_conv_backward_dw, lambda d, i, k: dw_right(d, i, k)[0], "shape"),
    (check_conv_backward_dw, lambda d, i, k: np.broadcast_to(dw_right(d, i, k)[:1], (i.shape[0],) + tuple(k)),
     "only the first channel"),
    (check_conv_backward_dx, dx_unrotated, "rotate the kernel by 180°"),
    (check_conv_backward_dx, dx_valid, "full* convolution"),
    (check_conv_backward_dx, lambda d, k: dx_right(d, k).squeeze(), "axis of length 1 is missing"),
    (check_conv_backward_dw, lambda d, i, k: dw_right(d, i, k)[0] if len(i) == 1 else dw_right(d, i, k),
     "axis of length 1 is missing"),
    (check_max_pool_backward, lambda d, x, k: pool_right(d, x, k) if k > 1 else 0 * x, "k = 1"),
    (check_max_pool_backward, pool_everywhere, "every element of the window"),
    (check_max_pool_backward, lambda d, x, k: pool_everywhere(d, x, k) / k ** 2, "average* pooling"),
    (check_max_pool_backward, lambda d, x, k: pool_right(d, -x, k), "minimum"),
    (check_softmax_cross_entropy_grad, lambda l, y: -softmax_grad(l, y), "sign is flipped"),
    (check_softmax_cross_entropy_grad, lambda l, y: softmax_grad(l, y) * len(y), "batch size N"),
    (check_softmax_cross_entropy_grad, softmax_unshifted, "Subtract each row's maximum before np.exp"),
    (check_softmax_cross_entropy_grad, softmax_min_shift, "np.exp overflows"),
    (check_softmax_cross_entropy_grad, softmax_batch_shift, "one maximum for the whole batch"),
    (check_softmax_cross_entropy_grad, lambda l, y: softmax_unshifted(np.clip(l, -300, 300), y),
     "right on ordinary logits, wrong on large ones"),
])
def test_typical_mistakes_are_explained(check, wrong, words, expect_failure):
    expect_failure(check, wrong, words)


def test_an_unshifted_softmax_is_caught_with_the_cause_in_words(expect_failure):
    # The graded test uses logits in the hundreds; without the max shift np.exp overflows to nan.
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(softmax_unshifted(np.array([[1000.0, 0.0]]), np.array([0]))).all()
    for words in ["nan or inf for large logits", "Subtract each row's maximum before np.exp",
                  "softmax is unchanged by the shift", "(logits of shape (7, 5), large: around ±1000"]:
        expect_failure(check_softmax_cross_entropy_grad, softmax_unshifted, words)


def test_the_large_logits_do_not_warn_and_a_float32_softmax_passes(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckFailed):
            check_softmax_cross_entropy_grad(softmax_unshifted)
    check_softmax_cross_entropy_grad(lambda logits, labels: softmax_grad(logits.astype(np.float32), labels))
    stored = "✓ softmax_cross_entropy_grad matches torch.autograd on 3 random cases\n"  # in the solution
    assert capsys.readouterr().out == stored
