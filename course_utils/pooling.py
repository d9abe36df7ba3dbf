"""Pooling in numpy: the layers of lesson 03, written to be read.

Layout conventions (the same as PyTorch and ``course_utils.convolution``):

* a batch of feature maps ``x`` has shape ``(N, C, H, W)``;
* spatial pooling slides a ``kh x kw`` window over H and W of every channel
  separately and keeps one number per window (the maximum or the mean); the
  stride defaults to the window size, as in the lecture notes, so windows tile
  the map without overlap;
* along one axis the output has ``(n - k) // s + 1`` positions: a window that
  would hang over the edge is dropped (PyTorch's ``ceil_mode=False``);
* cross-channel pooling takes the maximum over consecutive groups of channels
  at every position (maxout): ``(N, C, H, W) -> (N, C // group_size, H, W)``.

Pooling has no weights: every function here is a fixed function of its input.
The checks of the arguments and the sliding-window view of every window
(``pool_windows``) are shared with ``course_utils.numpy_cnn`` through
``course_utils.geometry``.
"""

import numpy as np

from .geometry import check_ndim, output_size, pool_windows, validate_pool_inputs

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


def pool_output_size(n, kernel_size, stride=None):
    """Positions of a pooling window along an axis of length n: (n - k) // s + 1.

    ``stride`` defaults to ``kernel_size`` (non-overlapping windows), giving n // k.
    """
    return output_size(n, kernel_size, 0, kernel_size if stride is None else stride)


def _pool_naive(x, kernel_size, stride, reduce):
    x, (kh, kw), (sh, sw), (Ho, Wo) = validate_pool_inputs(x, kernel_size, stride)
    N, C = x.shape[:2]
    out = np.zeros((N, C, Ho, Wo), dtype=np.result_type(x, np.float64) if reduce is np.mean else x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = reduce(x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out


def max_pool2d_naive(x, kernel_size, stride=None):
    """Max pooling with explicit loops: out[n, c, i, j] = max of window (i, j).

    x: (N, C, H, W); kernel_size, stride: int or (height, width), stride defaults
    to kernel_size -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)
    """
    return _pool_naive(x, kernel_size, stride, np.max)


def max_pool2d(x, kernel_size, stride=None):
    """Max pooling, vectorized with a sliding-window view.

    x: (N, C, H, W); kernel_size, stride: int or (height, width), stride defaults
    to kernel_size -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)
    """
    windows = pool_windows(x, kernel_size, stride)  # (N, C, H_out, W_out, kh, kw), a view
    return windows.max(axis=(-2, -1))


def avg_pool2d_naive(x, kernel_size, stride=None):
    """Average pooling with explicit loops: out[n, c, i, j] = mean of window (i, j).

    x: (N, C, H, W); kernel_size, stride: int or (height, width), stride defaults
    to kernel_size -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)
    """
    return _pool_naive(x, kernel_size, stride, np.mean)


def avg_pool2d(x, kernel_size, stride=None):
    """Average pooling, vectorized with a sliding-window view.

    x: (N, C, H, W); kernel_size, stride: int or (height, width), stride defaults
    to kernel_size -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)
    """
    windows = pool_windows(x, kernel_size, stride)  # (N, C, H_out, W_out, kh, kw), a view
    return windows.mean(axis=(-2, -1))


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
