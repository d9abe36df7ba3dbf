"""Lesson 04's checks accept right answers and explain the typical wrong ones."""

import warnings

import numpy as np
import pytest

from course_utils.checks import (
    CheckFailed,
    check_conv_backward,
    check_conv_backward_dw,
    check_conv_backward_dx,
    check_max_pool_backward,
    check_softmax_cross_entropy_grad,
)
from course_utils.convolution import conv2d
from course_utils.numpy_cnn import conv2d_backward


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


def layer_right(dout, x, w, stride, padding):
    return conv2d_backward(dout, x, w, stride=stride, padding=padding)


def layer_loops(dout, x, w, stride, padding, step=None, assign=False, flip=False, crop=True):
    """The scatter loops, with the knobs for typical mistakes; returns (dx, dw, db)."""
    step = stride if step is None else step
    k, p = w.shape[2], padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros(xp.shape), np.zeros(w.shape)
    for n, f, i, j in np.ndindex(dout.shape):
        rows, cols = slice(i * step, i * step + k), slice(j * step, j * step + k)
        dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
        contribution = dout[n, f, i, j] * (w[f, :, ::-1, ::-1] if flip else w[f])
        if assign:
            dxp[n, :, rows, cols] = contribution
        else:
            dxp[n, :, rows, cols] += contribution
    dx = dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]] if crop else dxp
    return dx, dw, dout.sum(axis=(0, 2, 3))


def layer_with(dx=None, dw=None, db=None):
    """The right gradients with some of them replaced by wrong ones (functions of the arguments)."""
    def wrong(*args):
        right = layer_right(*args)
        return tuple(right[i] if part is None else part(*args) for i, part in enumerate((dx, dw, db)))
    return wrong


@pytest.mark.parametrize("check", [check_conv_backward_dw, check_conv_backward_dx, check_max_pool_backward,
                                   check_softmax_cross_entropy_grad, check_conv_backward])
def test_unfinished_exercises_are_named(check, stub, expect_failure):
    expect_failure(check, stub, "not implemented yet")


def test_right_answers_pass(capsys):
    check_conv_backward_dw(dw_right)
    check_conv_backward_dx(dx_right)
    check_max_pool_backward(pool_right)
    check_softmax_cross_entropy_grad(softmax_grad)
    check_conv_backward(layer_right)
    check_conv_backward(layer_loops)
    check_conv_backward(lambda *args: [g.astype(np.float32) for g in layer_right(*args)])
    assert capsys.readouterr().out.count("✓") == 7


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


@pytest.mark.parametrize("wrong,words", [
    (lambda *a: layer_loops(*a, crop=False), "you forgot to un-pad dx"),
    (lambda *a: layer_loops(*a, crop=False), "expected (2, 3, 7, 7) = x's shape (N, C, H, W)"),
    (layer_with(dx=lambda d, x, w, s, p: layer_loops(d, x, w, s, p, crop=False)[0][:, :, :x.shape[2],
                                                                                   :x.shape[3]]),
     "cropped the padding from one side only"),
    (lambda *a: layer_loops(*a, step=1), "dx: you ignored the stride"),
    (lambda *a: layer_loops(*a, flip=True), "the filter is rotated the wrong way"),
    (lambda *a: layer_loops(*a, assign=True), "you assigned (=) instead of adding (+=)"),
    (layer_with(dx=lambda *a: layer_right(*a)[0][:1]), "expected (2, 3, 7, 7)"),
    (layer_with(dw=lambda *a: layer_right(*a)[1][:, :, ::-1, ::-1]), "dw: rotated by 180°"),
    (layer_with(dw=lambda *a: layer_loops(*a, step=1)[1]), "you ignored the stride"),
    (layer_with(dw=lambda d, x, *a: layer_right(d, x, *a)[1] / len(x)), "divided by the batch size"),
    (layer_with(dw=lambda d, x, w, s, p: layer_right(d[:1], x[:1], w, s, p)[1]), "only the first image"),
    (layer_with(dw=lambda *a: layer_right(*a)[1].sum(axis=0)), "w's shape (F, C, k, k)"),
    (layer_with(db=lambda d, *a: d[0].sum(axis=(1, 2))), "db: not summed over the batch"),
    (layer_with(db=lambda d, *a: d.mean(axis=(0, 2, 3))), "you averaged instead of adding"),
    (layer_with(db=lambda d, x, *a: d.sum(axis=(0, 2, 3)) / len(x)), "divided by the batch size N: db"),
    (layer_with(db=lambda d, *a: d.sum(axis=(2, 3))), "sum dout over the batch and both spatial axes"),
    (lambda *a: layer_right(*a)[:2], "expected a tuple (dx, dw, db) of three arrays"),
    (layer_with(db=lambda *a: None), "returned None as db"),
    (lambda *a: layer_right(*a)[0], "expected a tuple (dx, dw, db)"),
])
def test_typical_conv_layer_mistakes_are_explained(wrong, words, expect_failure):
    expect_failure(check_conv_backward, wrong, words)


def test_a_conv_layer_failure_says_which_gradient_and_case(expect_failure):
    expect_failure(check_conv_backward, layer_with(db=lambda d, *a: -d.sum(axis=(0, 2, 3))),
                   "(checking db; dout of shape (2, 4, 4, 4), x of shape (2, 3, 7, 7), "
                   "w of shape (4, 3, 3, 3), stride 2, padding 1)")


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
