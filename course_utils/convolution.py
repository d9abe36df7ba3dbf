"""Convolution in numpy: the definitions of lesson 01, written to be read.

Layout conventions (the same as PyTorch):

* a batch of images ``x`` has shape ``(N, C, H, W)``: N images, C channels;
* a bank of filters ``w`` has shape ``(F, C, kh, kw)``: F filters, each spanning
  all C input channels;
* the bias ``b`` has shape ``(F,)``;
* the output has shape ``(N, F, H_out, W_out)`` with
  ``H_out = (H + 2 * padding - kh) // stride + 1`` (and the same for W).

"Convolution" in deep learning is cross-correlation: the filter is *not*
flipped. ``conv1d_flip_and_dot`` and ``conv1d_translate_and_scale`` compute the
signal-processing convolution (with the flip) for comparison.

Two versions of the layer teach the same arithmetic: ``conv2d_naive`` loops over
the outputs; ``conv2d`` copies every window into a column (``im2col``) and does
one matrix product. The shared shape checks live in ``course_utils.geometry``.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .geometry import (
    as_pair,
    check_channels,
    check_ndim,
    conv_output_shape,
    output_hw,
    output_size,
    validate_conv_inputs,
)

__all__ = [
    "output_size",
    "pad2d",
    "conv1d_translate_and_scale",
    "conv1d_flip_and_dot",
    "cross_correlate1d",
    "conv2d_single",
    "conv2d_naive",
    "conv2d",
    "im2col",
    "conv_matrix",
]


def pad2d(x, padding):
    """Zero-pad the last two axes of ``x`` (..., H, W) -> (..., H + 2ph, W + 2pw)."""
    ph, pw = as_pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding cannot be negative, got {padding!r}")
    widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)]
    return np.pad(x, widths)


def conv1d_translate_and_scale(x, w):
    """Full 1-D convolution as a sum of shifted copies of ``x``, scaled by ``w``.

    (x * w)[t] = sum_tau x[t - tau] w[tau].  x: (n,), w: (k,) -> (n + k - 1,)
    """
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    out = np.zeros(len(x) + len(w) - 1)
    for tau, weight in enumerate(w):
        out[tau:tau + len(x)] += weight * x  # x shifted right by tau
    return out


def conv1d_flip_and_dot(x, w):
    """Full 1-D convolution as dot products of ``x`` with the flipped ``w``.

    (x * w)[t] = sum_tau x[tau] w[t - tau].  x: (n,), w: (k,) -> (n + k - 1,)
    """
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    k = len(w)
    padded = np.pad(x, (k - 1, k - 1))
    flipped = w[::-1]
    return np.array([padded[t:t + k] @ flipped for t in range(len(x) + k - 1)])


def cross_correlate1d(x, w):
    """What deep learning calls 1-D convolution: no flip, valid positions only.

    z[t] = sum_tau x[t + tau] w[tau].  x: (n,), w: (k,) -> (n - k + 1,)
    """
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    return sliding_window_view(x, len(w)) @ w


def conv2d_single(image, kernel):
    """The lecture notes' definition, with loops: one image, one filter, no padding.

    L[x, y] = sum_a sum_b sum_c I_c[x + a, y + b] G_c[a, b]

    image: (C, H, W) or (H, W); kernel: (C, kh, kw) or (kh, kw)
    returns: (H - kh + 1, W - kw + 1)
    """
    image, kernel = _as_chw(image, "image"), _as_chw(kernel, "kernel")
    check_channels(image.shape[0], kernel.shape[0])
    C, H, W = image.shape
    _, kh, kw = kernel.shape
    out = np.zeros((output_size(H, kh), output_size(W, kw)))
    for x in range(out.shape[0]):
        for y in range(out.shape[1]):
            for a in range(kh):
                for b in range(kw):
                    for c in range(C):
                        out[x, y] += image[c, x + a, y + b] * kernel[c, a, b]
    return out


def conv2d_naive(x, w, b=None, stride=1, padding=0):
    """Convolution layer forward pass with explicit loops over outputs.

    x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) or None -> (N, F, H_out, W_out)
    """
    x, w, b = validate_conv_inputs(x, w, b)
    (sh, sw), xp = as_pair(stride, "stride"), pad2d(x, padding)
    N, F, Ho, Wo = conv_output_shape(x.shape, w.shape, stride, padding)
    kh, kw = w.shape[2:]
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, w))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def conv2d(x, w, b=None, stride=1, padding=0):
    """Convolution layer forward pass, vectorized: im2col, then one matrix product.

    Column (i*W_out + j)*N + n of ``im2col(x, ...)`` holds window (i, j) of padded image n,
    row f of ``w.reshape(F, -1)`` holds filter f, both flattened in the order (c, a, b):
    out[n, f, i, j] is the dot product of that row and that column.

    x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) or None -> (N, F, H_out, W_out)
    """
    x, w, b = validate_conv_inputs(x, w, b)
    N, F, Ho, Wo = conv_output_shape(x.shape, w.shape, stride, padding)
    cols = im2col(x, w.shape[2:], stride, padding)  # (C*kh*kw, H_out*W_out*N)
    out = (w.reshape(F, -1) @ cols).reshape(F, Ho, Wo, N)  # batch last, as in the columns
    result = np.empty((N, F, Ho, Wo), dtype=np.result_type(out, b))
    np.add(out.transpose(3, 0, 1, 2), b[:, None, None], out=result)  # bias, and back to NCHW
    return result


def im2col(x, kernel_size, stride=1, padding=0):
    """Every window of the zero-padded input as one column of a matrix.

    x: (N, C, H, W); kernel_size, stride, padding: int or (height, width)
    -> cols: (C*kh*kw, H_out*W_out*N) with
    cols[(c*kh + a)*kw + b, (i*W_out + j)*N + n] = xpad[n, c, i*sh + a, j*sw + b]

    The batch index varies fastest along a row: the input is copied batch last,
    (C, H, W, N), so a window slice copies rows of W_out*N contiguous numbers
    instead of rows of W_out, which saves numpy's per-row overhead.
    """
    x = check_ndim(x, 4, "x", "(N, C, H, W)")
    (kh, kw), (sh, sw), (ph, pw) = (as_pair(kernel_size, "kernel_size"), as_pair(stride, "stride"),
                                    as_pair(padding, "padding"))
    output_hw(x.shape[2:], (kh, kw), stride, padding)  # a clear error if the kernel does not fit
    N, C, H, W = x.shape
    xp = np.zeros((C, H + 2 * ph, W + 2 * pw, N), dtype=x.dtype)  # padded, batch last
    xp[:, ph:ph + H, pw:pw + W] = x.transpose(1, 2, 3, 0)
    # every window as a view, (C, Ho, Wo, N, kh, kw); then one copy into rows (c, a, b)
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    return windows.transpose(0, 4, 5, 1, 2, 3).reshape(C * kh * kw, -1)


def conv_matrix(kernel, input_shape, stride=1, padding=0):
    """The dense matrix M that a single-channel convolution equals.

    conv2d(image, kernel).ravel() == M @ image.ravel()

    kernel: (kh, kw); input_shape: (H, W) -> M: (H_out * W_out, H * W).
    Row r holds the kernel's weights at the input pixels that output r sees
    (with padding, taps that land on padded zeros are dropped) and zeros elsewhere.
    """
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D (kh, kw), got shape {kernel.shape}")
    H, W = input_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel.shape, as_pair(stride, "stride"), as_pair(padding, "padding")
    Ho, Wo = output_size(H, kh, ph, sh), output_size(W, kw, pw, sw)
    M = np.zeros((Ho * Wo, H * W))
    for i in range(Ho):
        for j in range(Wo):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * sh + a - ph, j * sw + b - pw
                    if 0 <= r < H and 0 <= c < W:
                        M[i * Wo + j, r * W + c] = kernel[a, b]
    return M


def _as_chw(array, name):
    array = np.asarray(array, dtype=float)
    if array.ndim == 2:
        return array[None]
    if array.ndim == 3:
        return array
    raise ValueError(f"{name} must have shape (C, H, W) or (H, W), got {array.shape}")
