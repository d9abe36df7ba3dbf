"""Pooling in numpy: the layers of lesson 03, written to be read.

Layout conventions (the same as PyTorch and ``course_utils.convolution``):

* a batch of feature maps ``x`` has shape ``(N, C, H, W)``;
* spatial pooling slides a ``kh x kw`` window over H and W of every channel
  separately and keeps one number per window (the maximum or the mean); the
  stride defaults to the window size, as in the lecture notes, so windows tile
  the map without overlap;
* along one axis the output has ``(n + 2p - k) // s + 1`` positions: a window that
  would hang over the edge is dropped (PyTorch's ``ceil_mode=False``);
* ``padding`` p (default 0) adds p rows and columns on each side, as in PyTorch: for
  max pooling they hold -inf (they can never be the maximum, so a border window keeps
  the maximum of its real values); for average pooling they hold 0 and, with
  ``count_include_pad=True`` (PyTorch's default), count in the divisor, so border
  averages shrink towards 0; with ``False`` the divisor is the number of real values;
  p may be at most half the window, so that no window sees padding alone;
* cross-channel pooling takes the maximum over consecutive groups of channels
  at every position (maxout): ``(N, C, H, W) -> (N, C // group_size, H, W)``.

Pooling has no weights: every function here is a fixed function of its input.
The checks of the arguments and the sliding-window view of every window
(``pool_windows``) are shared with ``course_utils.numpy_cnn`` through
``course_utils.geometry``.
"""

import numpy as np

from .geometry import as_pair, check_ndim, output_size, pool_windows, validate_pool_inputs

__all__ = [
    "pool_output_size",
    "max_pool2d_naive",
    "max_pool2d",
    "avg_pool2d_naive",
    "avg_pool2d",
    "global_avg_pool",
    "global_max_pool",
    "cross_channel_max_naive",
    "cross_channel_max",
]


def pool_output_size(n, kernel_size, stride=None, padding=0):
    """Positions of a pooling window along an axis of length n: (n + 2p - k) // s + 1.

    ``stride`` defaults to ``kernel_size`` (non-overlapping windows), giving n // k
    without padding.
    """
    return output_size(n, kernel_size, padding, kernel_size if stride is None else stride)


def _check_padding(x, kernel_size, padding):
    """x as an (N, C, H, W) array and padding as a checked (ph, pw) pair."""
    x = check_ndim(x, 4, "x", "(N, C, H, W)", hint="for a single (H, W) map use x[None, None]")
    (kh, kw), (ph, pw) = as_pair(kernel_size, "kernel_size"), as_pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding cannot be negative, got {padding!r}")
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"padding {padding!r} is more than half the window {kernel_size!r}: a "
                         "window could then cover padding only and have no value to pool; "
                         "use at most kernel_size // 2 (as PyTorch requires)")
    return x, (ph, pw)


def _lowest(dtype):
    """The value that never wins a maximum: -inf for floats, the smallest integer for ints."""
    if np.issubdtype(dtype, np.integer):
        return np.iinfo(dtype).min
    return False if dtype == np.bool_ else -np.inf


def _pad(x, padding, value):
    """x (N, C, H, W) with padding[0] rows and padding[1] columns of ``value`` on each side."""
    (ph, pw) = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _pool_naive(x, kernel_size, stride, padding, reduce):
    """Loops over every window, clipped to the input: reduce(window values, window size)."""
    x, (ph, pw) = _check_padding(x, kernel_size, padding)
    N, C, H, W = x.shape
    padded = np.broadcast_to(np.zeros((), x.dtype), (N, C, H + 2 * ph, W + 2 * pw))  # shape only
    _, (kh, kw), (sh, sw), (Ho, Wo) = validate_pool_inputs(padded, kernel_size, stride)
    out = np.zeros((N, C, Ho, Wo), dtype=np.result_type(x, np.float64) if reduce is not _max else x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    top, left = i * sh - ph, j * sw - pw  # window corner; negative: in the padding
                    window = x[n, c, max(top, 0):min(top + kh, H), max(left, 0):min(left + kw, W)]
                    out[n, c, i, j] = reduce(window, kh * kw)
    return out


def _max(window, window_size):
    return window.max()  # padding never wins a maximum, so only the real values count


def max_pool2d_naive(x, kernel_size, stride=None, padding=0):
    """Max pooling with explicit loops: out[n, c, i, j] = max of window (i, j).

    x: (N, C, H, W); kernel_size, stride, padding: int or (height, width), stride
    defaults to kernel_size -> (N, C, (H + 2ph - kh) // sh + 1, (W + 2pw - kw) // sw + 1).
    A window that reaches into the padding takes the maximum of its real values.
    """
    return _pool_naive(x, kernel_size, stride, padding, _max)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling, vectorized with a sliding-window view.

    x: (N, C, H, W); kernel_size, stride, padding: int or (height, width), stride
    defaults to kernel_size -> (N, C, (H + 2ph - kh) // sh + 1, (W + 2pw - kw) // sw + 1).
    The padding holds -inf (the smallest integer for integer input): it never wins.
    """
    x, padding = _check_padding(x, kernel_size, padding)
    if padding != (0, 0):
        x = _pad(x, padding, _lowest(x.dtype))
    windows = pool_windows(x, kernel_size, stride)  # (N, C, H_out, W_out, kh, kw), a view
    return windows.max(axis=(-2, -1))


def avg_pool2d_naive(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Average pooling with explicit loops: out[n, c, i, j] = mean of window (i, j).

    x: (N, C, H, W); kernel_size, stride, padding: int or (height, width), stride
    defaults to kernel_size -> (N, C, (H + 2ph - kh) // sh + 1, (W + 2pw - kw) // sw + 1).
    A window that reaches into the padding sums its real values and divides by
    kh * kw (``count_include_pad=True``, the zeros count) or by the number of real values.
    """
    def mean(window, window_size):
        return window.sum() / (window_size if count_include_pad else window.size)

    return _pool_naive(x, kernel_size, stride, padding, mean)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Average pooling, vectorized with a sliding-window view.

    x: (N, C, H, W); kernel_size, stride, padding: int or (height, width), stride
    defaults to kernel_size -> (N, C, (H + 2ph - kh) // sh + 1, (W + 2pw - kw) // sw + 1).
    The padding holds zeros; ``count_include_pad`` (PyTorch's default True) says whether
    they count in a window's divisor, or only the real values do.
    """
    x, padding = _check_padding(x, kernel_size, padding)
    if padding == (0, 0):
        return pool_windows(x, kernel_size, stride).mean(axis=(-2, -1))
    sums = pool_windows(_pad(x, padding, 0), kernel_size, stride).sum(axis=(-2, -1))
    if count_include_pad:
        kh, kw = as_pair(kernel_size, "kernel_size")
        return sums / (kh * kw)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    real = _pad(np.ones((1, 1) + x.shape[2:], dtype), padding, 0)  # 1 where a value is real, 0 in the padding
    return sums / pool_windows(real, kernel_size, stride).sum(axis=(-2, -1))


def global_avg_pool(x):
    """The mean of every map over all positions: (N, C, H, W) -> (N, C)."""
    return check_ndim(x, 4, "x", "(N, C, H, W)").mean(axis=(2, 3))


def global_max_pool(x):
    """The maximum of every map over all positions: (N, C, H, W) -> (N, C)."""
    return check_ndim(x, 4, "x", "(N, C, H, W)").max(axis=(2, 3))


def _check_groups(x, group_size):
    x = check_ndim(x, 4, "x", "(N, C, H, W)")
    if not isinstance(group_size, (int, np.integer)) or group_size < 1:
        raise ValueError(f"group_size must be a positive int, got {group_size!r}")
    if x.shape[1] % group_size:
        raise ValueError(f"{x.shape[1]} channels cannot be split into groups of {group_size}: "
                         "the number of channels must be a multiple of group_size")
    return x


def cross_channel_max_naive(x, group_size):
    """Maxout over consecutive channels, with a loop over the groups.

    out[:, g] = max(x[:, g * group_size], ..., x[:, (g + 1) * group_size - 1])
    x: (N, C, H, W) -> (N, C // group_size, H, W)
    """
    x = _check_groups(x, group_size)
    groups = [x[:, g:g + group_size].max(axis=1) for g in range(0, x.shape[1], group_size)]
    return np.stack(groups, axis=1)


def cross_channel_max(x, group_size):
    """Maxout over consecutive channels, vectorized with a reshape.

    Channels 0..group_size-1 form the first group, the next group_size the
    second, and so on; each output map is the elementwise maximum of its group.
    x: (N, C, H, W) -> (N, C // group_size, H, W)
    """
    x = _check_groups(x, group_size)
    N, C, H, W = x.shape
    return x.reshape(N, C // group_size, group_size, H, W).max(axis=2)
