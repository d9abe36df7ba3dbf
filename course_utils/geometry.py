"""Shapes and argument checks shared by the numpy layers.

``course_utils.convolution``, ``course_utils.pooling``, ``course_utils.receptive_field``
and ``course_utils.numpy_cnn`` all take sizes as an int or a (height, width) pair, slide
windows over the last two axes of NCHW arrays and refuse bad input with the same
messages; the shared pieces live here, so that every layer says the same thing.

* sizes: ``as_pair``, ``output_size``, ``output_hw``, ``conv_output_shape``;
* convolution: ``check_channels``, ``validate_conv_inputs``;
* pooling: ``validate_pool_inputs``, ``pool_windows`` (every window as a view);
* any layer: ``check_ndim``, ``check_dout``, ``check_method``, ``span``.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "METHODS",
    "as_pair",
    "output_size",
    "output_hw",
    "conv_output_shape",
    "check_channels",
    "validate_conv_inputs",
    "validate_pool_inputs",
    "pool_windows",
    "check_ndim",
    "check_dout",
    "check_method",
    "span",
]

METHODS = ("naive", "fast")


def as_pair(value, name):
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


def output_hw(hw, kernel_size, stride=1, padding=0):
    """(H_out, W_out) of a kernel sliding over an (H, W) map.

    hw: (H, W); kernel_size, stride, padding: int or (height, width).
    """
    (kh, kw), (sh, sw), (ph, pw) = (as_pair(kernel_size, "kernel_size"), as_pair(stride, "stride"),
                                    as_pair(padding, "padding"))
    return output_size(hw[0], kh, ph, sh), output_size(hw[1], kw, pw, sw)


def conv_output_shape(x_shape, w_shape, stride, padding):
    """(N, F, H_out, W_out) of a convolution of x (N, C, H, W) with filters w (F, C, kh, kw)."""
    return (x_shape[0], w_shape[0], *output_hw(x_shape[2:], w_shape[2:], stride, padding))


def check_channels(image_channels, kernel_channels):
    """Raise a ValueError unless the image and the filter have the same number of channels."""
    if image_channels != kernel_channels:
        raise ValueError(
            f"the image has {image_channels} channels but the filter has {kernel_channels}: "
            "a filter must span every input channel")


def validate_conv_inputs(x, w, b):
    """Check the arguments of a convolution layer; returns x, w, b as arrays.

    x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) or None (then zeros of w's dtype).
    """
    x = check_ndim(x, 4, "x", "(N, C, H, W)", hint="for a single image use x[None]")
    w = check_ndim(w, 4, "w", "(F, C, kh, kw)")
    check_channels(x.shape[1], w.shape[1])
    b = np.zeros(w.shape[0], dtype=w.dtype) if b is None else np.asarray(b)
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), one bias per filter, got {b.shape}")
    return x, w, b


def validate_pool_inputs(x, kernel_size, stride):
    """Check a pooling call; returns x as an array, (kh, kw), (sh, sw), (H_out, W_out).

    ``stride`` None means the window size (non-overlapping windows); no padding.
    """
    x = check_ndim(x, 4, "x", "(N, C, H, W)", hint="for a single (H, W) map use x[None, None]")
    kh, kw = as_pair(kernel_size, "kernel_size")
    sh, sw = (kh, kw) if stride is None else as_pair(stride, "stride")
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel_size must be at least 1, got {kernel_size!r}")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be at least 1, got {stride!r}")
    H, W = x.shape[2:]
    if kh > H or kw > W:
        raise ValueError(f"the pooling window ({kh}, {kw}) is larger than the input ({H}, {W}): "
                         "use a smaller window, or global pooling")
    return x, (kh, kw), (sh, sw), (output_size(H, kh, 0, sh), output_size(W, kw, 0, sw))


def pool_windows(x, kernel_size, stride=None):
    """Every pooling window as a view: (N, C, H_out, W_out, kh, kw), no copy."""
    x, (kh, kw), (sh, sw), _ = validate_pool_inputs(x, kernel_size, stride)
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def check_ndim(array, ndim, name, layout, hint=None):
    """``array`` as a numpy array, or a ValueError naming the expected layout (and a hint)."""
    array = np.asarray(array)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have shape {layout}, "
                         f"got {array.ndim} dimensions {array.shape}" + (f"; {hint}" if hint else ""))
    return array


def check_dout(dout, expected_shape):
    """``dout`` as an array, or a ValueError when it is not shaped like the forward output."""
    dout = np.asarray(dout)
    if dout.shape != tuple(expected_shape):
        raise ValueError(f"dout must have the shape of the forward output {tuple(expected_shape)}, "
                         f"got {dout.shape}")
    return dout


def check_method(method):
    """Raise a ValueError unless ``method`` is "naive" or "fast"."""
    if method not in METHODS:
        raise ValueError(f"method must be 'naive' (loops) or 'fast' (vectorized), got {method!r}")


def span(offset, stride, count):
    """The slice offset, offset + stride, ...: the ``count`` input rows (or columns)
    that kernel offset ``offset`` touches as the kernel slides with ``stride``."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)
