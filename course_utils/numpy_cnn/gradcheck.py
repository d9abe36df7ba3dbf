"""Gradient checking: centered finite differences and the relative error."""

import numpy as np

__all__ = ["numerical_gradient", "relative_error", "elementwise_relative_error"]


def numerical_gradient(f, x, h=1e-6):
    """Centered finite differences: grad[k] = (f(x + h e_k) - f(x - h e_k)) / (2h).

    f: function of the array x returning a scalar; x: float array of any shape,
    changed in place one entry at a time and restored (also if f raises)
    -> grad: same shape as x. The error is O(h**2); use float64.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError("x must be a float numpy array (it is perturbed in place), "
                         f"got {type(x).__name__} of dtype {getattr(x, 'dtype', None)}")
    grad = np.zeros(x.shape, dtype=np.float64)
    for k in np.ndindex(x.shape):
        old = x[k]
        try:
            x[k] = old + h
            f_plus = _scalar(f(x))
            x[k] = old - h
            f_minus = _scalar(f(x))
        finally:
            x[k] = old
        grad[k] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a, b):
    """max |a - b| / max(|a| + |b|): one number for how far two arrays are apart.

    Both maxima are over all entries; the denominator is at least the smallest
    positive float64, so two zero arrays give 0.0. Roughly: 1e-7 or less for a
    correct float64 gradient check, near 1 when the arrays share nothing.

    It never exceeds :func:`elementwise_relative_error` (CS231n's) when the entry with the
    largest |a - b| has |a| + |b| >= 1e-8: the largest difference is divided by the largest
    scale instead of its own. So a value above a threshold here is above it there too, but a
    value below it here may not be (a wrong entry much smaller than the largest ones).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.max(np.abs(a) + np.abs(b)), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b)) / scale)


def elementwise_relative_error(a, b, floor=1e-8):
    """CS231n's definition: max over entries of |a - b| / max(floor, |a| + |b|).

    Every entry is measured against its own scale, so a wrong small entry counts as much as a
    wrong large one; an entry that should be 0 but carries rounding noise of size e counts as
    e / floor. Same shapes required; an empty pair gives 0.0.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if not floor > 0:
        raise ValueError(f"floor must be positive (it keeps 0 / 0 out), got {floor!r}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))))


def _scalar(value):
    value = np.asarray(value)
    if value.size != 1:
        raise ValueError(f"f must return a scalar, got an array of shape {value.shape}")
    return float(value.reshape(()))
