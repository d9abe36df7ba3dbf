"""Checks shared by the modules of ``course_utils.numpy_cnn``."""

import numpy as np

METHODS = ("naive", "fast")


def check_method(method):
    """Raise a ValueError unless ``method`` is "naive" or "fast"."""
    if method not in METHODS:
        raise ValueError(f"method must be 'naive' (loops) or 'fast' (vectorized), got {method!r}")


def check_ndim(array, ndim, name, layout):
    """``array`` as a numpy array, or a ValueError naming the expected layout."""
    array = np.asarray(array)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have shape {layout}, "
                         f"got {array.ndim} dimensions {array.shape}")
    return array


def check_dout(dout, expected_shape):
    """``dout`` as an array, or a ValueError when it is not shaped like the forward output."""
    dout = np.asarray(dout)
    if dout.shape != tuple(expected_shape):
        raise ValueError(f"dout must have the shape of the forward output {tuple(expected_shape)}, "
                         f"got {dout.shape}")
    return dout


def span(offset, stride, count):
    """The slice offset, offset + stride, ...: the ``count`` input rows (or columns)
    that kernel offset ``offset`` touches as the kernel slides with ``stride``."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)
