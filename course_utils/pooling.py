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
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .convolution import _pair, output_size

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


def _validate(x, kernel_size, stride):
    """Check a pooling call; returns x as an array, (kh, kw), (sh, sw), (H_out, W_out)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {x.ndim} dimensions {x.shape}; "
                         "for a single (H, W) map use x[None, None]")
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = (kh, kw) if stride is None else _pair(stride, "stride")
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel_size must be at least 1, got {kernel_size!r}")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be at least 1, got {stride!r}")
    H, W = x.shape[2:]
    if kh > H or kw > W:
        raise ValueError(f"the pooling window ({kh}, {kw}) is larger than the input ({H}, {W}): "
                         "use a smaller window, or global pooling")
    return x, (kh, kw), (sh, sw), (pool_output_size(H, kh, sh), pool_output_size(W, kw, sw))


def _pool_naive(x, kernel_size, stride, reduce):
    x, (kh, kw), (sh, sw), (Ho, Wo) = _validate(x, kernel_size, stride)
    N, C = x.shape[:2]
    out = np.zeros((N, C, Ho, Wo), dtype=np.result_type(x, np.float64) if reduce is np.mean else x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = reduce(x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out


def _windows(x, kernel_size, stride):
    """Every pooling window as a view: (N, C, H_out, W_out, kh, kw), no copy."""
    x, (kh, kw), (sh, sw), _ = _validate(x, kernel_size, stride)
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


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
    return _windows(x, kernel_size, stride).max(axis=(-2, -1))


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
    return _windows(x, kernel_size, stride).mean(axis=(-2, -1))


def _check_4d(x):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {x.ndim} dimensions {x.shape}")
    return x


def global_avg_pool(x):
    """The mean of every map over all positions: (N, C, H, W) -> (N, C)."""
    return _check_4d(x).mean(axis=(2, 3))


def global_max_pool(x):
    """The maximum of every map over all positions: (N, C, H, W) -> (N, C)."""
    return _check_4d(x).max(axis=(2, 3))


def _check_groups(x, group_size):
    x = _check_4d(x)
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
