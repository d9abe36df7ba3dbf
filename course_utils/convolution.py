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
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "output_size",
    "pad2d",
    "conv1d_translate_and_scale",
    "conv1d_flip_and_dot",
    "cross_correlate1d",
    "conv2d_single",
    "conv2d_naive",
    "conv2d",
    "conv_matrix",
]


def _pair(value, name):
    """Turn an int or a 2-tuple into a (height, width) pair of ints."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair (height, width), got {value!r}")


def output_size(n, kernel_size, padding=0, stride=1):
    """Number of positions a kernel takes along one axis: floor((n + 2p - k) / s) + 1.

    ``n`` is the input length, ``kernel_size`` the kernel length, ``padding``
    the zeros added on *each* side, ``stride`` the step between positions.
    """
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if padding < 0:
        raise ValueError(f"padding cannot be negative, got {padding}")
    if kernel_size < 1:
        raise ValueError(f"kernel_size must be at least 1, got {kernel_size}")
    if kernel_size > n + 2 * padding:
        raise ValueError(
            f"kernel of size {kernel_size} does not fit in an input of size {n} "
            f"with padding {padding} (padded size {n + 2 * padding}): "
            "use a smaller kernel or more padding")
    return (n + 2 * padding - kernel_size) // stride + 1


def pad2d(x, padding):
    """Zero-pad the last two axes of ``x`` (..., H, W) -> (..., H + 2ph, W + 2pw)."""
    ph, pw = _pair(padding, "padding")
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
    _check_channels(image.shape[0], kernel.shape[0])
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
    x, w, b = _validate_layer_inputs(x, w, b)
    (sh, sw), xp = _pair(stride, "stride"), pad2d(x, padding)
    N, F, Ho, Wo = _layer_output_shape(x, w, stride, padding)
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
    """Convolution layer forward pass, vectorized with a sliding-window view.

    x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) or None -> (N, F, H_out, W_out)
    """
    x, w, b = _validate_layer_inputs(x, w, b)
    sh, sw = _pair(stride, "stride")
    _layer_output_shape(x, w, stride, padding)  # validates sizes with a clear message
    kh, kw = w.shape[2:]
    windows = sliding_window_view(pad2d(x, padding), (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw]  # (N, C, H_out, W_out, kh, kw)
    out = np.einsum("nchwij,fcij->nfhw", windows, w, optimize=True)
    return out + b[None, :, None, None]


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
    (kh, kw), (sh, sw), (ph, pw) = kernel.shape, _pair(stride, "stride"), _pair(padding, "padding")
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


def _check_channels(image_channels, kernel_channels):
    if image_channels != kernel_channels:
        raise ValueError(
            f"the image has {image_channels} channels but the filter has {kernel_channels}: "
            "a filter must span every input channel")


def _validate_layer_inputs(x, w, b):
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {x.ndim} dimensions {x.shape}; "
                         "for a single image use x[None]")
    if w.ndim != 4:
        raise ValueError(f"w must have shape (F, C, kh, kw), got {w.ndim} dimensions {w.shape}")
    _check_channels(x.shape[1], w.shape[1])
    b = np.zeros(w.shape[0], dtype=w.dtype) if b is None else np.asarray(b)
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), one bias per filter, got {b.shape}")
    return x, w, b


def _layer_output_shape(x, w, stride, padding):
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding")
    Ho = output_size(x.shape[2], w.shape[2], ph, sh)
    Wo = output_size(x.shape[3], w.shape[3], pw, sw)
    return x.shape[0], w.shape[0], Ho, Wo
