"""Checks for lesson 04's exercises: conv backward (dw, dx), max-pool backward,
softmax cross-entropy gradient. The reference is torch.autograd."""

import numpy as np
import torch
import torch.nn.functional as F

from ._common import CheckFailed, as_float_array, call_student, first_mismatch

__all__ = ["check_conv_backward_dw", "check_conv_backward_dx", "check_max_pool_backward",
           "check_softmax_cross_entropy_grad"]


def _autograd(fn, *arrays):
    """Gradients of sum(fn(*tensors) * upstream) w.r.t. each array; upstream is the last one."""
    *inputs, upstream = [torch.tensor(a, dtype=torch.float64) for a in arrays]
    for tensor in inputs:
        tensor.requires_grad_(True)
    (fn(*inputs) * upstream).sum().backward()
    return [tensor.grad.numpy() for tensor in inputs]


def _single_conv(image, kernel):
    return F.conv2d(image[None], kernel[None])[0, 0]


def _diagnose(got, expected, suspects, name):
    if got.shape != expected.shape:
        raise CheckFailed(f"{name} has shape {got.shape}, expected {expected.shape}")
    for message, wrong in suspects:
        if wrong.shape == got.shape and np.allclose(got, wrong):
            raise CheckFailed(message)
    raise CheckFailed(first_mismatch(got, expected))


def _conv_cases(rng):
    for image_shape, kernel_shape in [((2, 6, 7), (2, 3, 2)), ((1, 5, 5), (1, 3, 3)), ((3, 7, 6), (3, 2, 4))]:
        image, kernel = rng.normal(size=image_shape), rng.normal(size=kernel_shape)
        out_shape = (image_shape[1] - kernel_shape[1] + 1, image_shape[2] - kernel_shape[2] + 1)
        yield image, kernel, rng.normal(size=out_shape)


def check_conv_backward_dw(fn):
    """Check ``fn(dout (Ho, Wo), image (C, H, W), kernel_size (kh, kw)) -> dw (C, kh, kw)``."""
    rng = np.random.default_rng(0)
    for image, kernel, dout in _conv_cases(rng):
        _, expected = _autograd(_single_conv, image, kernel, dout)
        got = as_float_array(call_student(fn, dout.copy(), image.copy(), kernel.shape[1:]), "conv_backward_dw")
        if got.shape == expected.shape and np.allclose(got, expected):
            continue
        flipped_dout = _autograd(_single_conv, image, kernel, dout[::-1, ::-1].copy())[1]
        suspects = [
            ("you flipped: dw is the cross-correlation of the input with the upstream gradient, "
             "dw_c[a, b] = Σ_ij dout[i, j] · I_c[i + a, j + b], with no rotation.", expected[:, ::-1, ::-1]),
            ("you flipped the upstream gradient: slide dout over the input as it is.", flipped_dout),
            ("you used only the first channel: each channel c of the filter gets its own gradient "
             "from input channel c.", np.broadcast_to(expected[:1], expected.shape)),
            ("you averaged over the output positions; the weight is shared by all of them, so the "
             "gradients add up.", expected / dout.size),
        ]
        _diagnose(got, expected, suspects, "your dw")
    print("✓ conv_backward_dw matches torch.autograd on 3 random cases")


def check_conv_backward_dx(fn):
    """Check ``fn(dout (Ho, Wo), kernel (C, kh, kw)) -> dx (C, Ho + kh - 1, Wo + kw - 1)``."""
    rng = np.random.default_rng(1)
    for image, kernel, dout in _conv_cases(rng):
        expected, _ = _autograd(_single_conv, image, kernel, dout)
        got = as_float_array(call_student(fn, dout.copy(), kernel.copy()), "conv_backward_dx")
        if got.shape == expected.shape and np.allclose(got, expected):
            continue
        kh, kw = kernel.shape[1:]
        unflipped = np.stack([F.conv2d(torch.tensor(dout)[None, None], torch.tensor(k)[None, None],
                                       padding=(kh - 1, kw - 1))[0, 0].numpy() for k in kernel])
        hint_shape = (f"dx must have the input's shape {expected.shape}: pad dout with kh - 1 rows "
                      f"and kw - 1 columns of zeros on each side (a *full* convolution), then "
                      "slide the rotated kernel over it.")
        if got.shape != expected.shape:
            raise CheckFailed(f"your dx has shape {got.shape}. " + hint_shape)
        suspects = [
            ("you forgot to rotate the kernel by 180°: dx is the full convolution of dout with the "
             "kernel, i.e. the full cross-correlation with the kernel rotated by 180°.", unflipped),
            ("you used only the first channel: every input channel c gets dout convolved with G_c.",
             np.broadcast_to(expected[:1], expected.shape)),
        ]
        _diagnose(got, expected, suspects, "your dx")
    print("✓ conv_backward_dx matches torch.autograd on 3 random cases")


def _max_pool(x, k):
    return F.max_pool2d(x[None, None], k)[0, 0]


def check_max_pool_backward(fn):
    """Check ``fn(dout (H // k, W // k), x (H, W), k) -> dx (H, W)`` for k x k max pooling, stride k."""
    rng = np.random.default_rng(2)
    for (H, W), k in [((4, 4), 2), ((6, 9), 3), ((8, 6), 2)]:
        x, dout = rng.normal(size=(H, W)), rng.normal(size=(H // k, W // k))
        expected, = _autograd(lambda t: _max_pool(t, k), x, dout)
        got = as_float_array(call_student(fn, dout.copy(), x.copy(), k), "max_pool_backward")
        if got.shape == expected.shape and np.allclose(got, expected):
            continue
        spread = np.kron(dout, np.ones((k, k)))
        suspects = [
            ("you sent the gradient to every element of the window; only the maximum affected the "
             "output, so only it gets dout (the others get 0).", spread),
            ("you spread dout / k² over the window: that is the gradient of *average* pooling.", spread / k ** 2),
            ("you sent the gradient to the minimum of each window.",
             _autograd(lambda t: -_max_pool(-t, k), x, dout)[0]),
        ]
        _diagnose(got, expected, suspects, "your dx")
    print("✓ max_pool_backward matches torch.autograd on 3 random cases")


def check_softmax_cross_entropy_grad(fn):
    """Check ``fn(logits (N, K), labels (N,)) -> dlogits (N, K)`` of the *mean* cross-entropy."""
    rng = np.random.default_rng(3)
    for N, K in [(4, 3), (1, 10), (7, 5)]:
        logits, labels = rng.normal(size=(N, K)) * 3, rng.integers(0, K, size=N)
        tensor = torch.tensor(logits, requires_grad=True)
        F.cross_entropy(tensor, torch.tensor(labels)).backward()
        expected = tensor.grad.numpy()
        got = as_float_array(call_student(fn, logits.copy(), labels.copy()), "softmax_cross_entropy_grad")
        if got.shape == expected.shape and np.allclose(got, expected):
            continue
        suspects = [
            ("the sign is flipped: the gradient is softmax(logits) − one_hot(labels).", -expected),
            ("you forgot to divide by the batch size N: the loss is the *mean* over the batch.", expected * N),
        ]
        _diagnose(got, expected, suspects, "your gradient")
    print("✓ softmax_cross_entropy_grad matches torch.autograd on 3 random cases")
