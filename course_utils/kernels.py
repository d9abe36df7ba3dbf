"""Hand-designed 2-D filters used in lesson 01, as (kh, kw) float arrays.

Each kernel is applied with cross-correlation (no flip), as a conv layer does.
"""

import numpy as np

__all__ = ["KERNELS", "gaussian_kernel", "box_kernel", "get_kernel"]


def gaussian_kernel(size=5, sigma=1.0):
    """A normalised Gaussian blur (low-pass) kernel of shape (size, size)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd number, got {size}")
    r = np.arange(size) - size // 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def box_kernel(size=3):
    """A (size, size) moving average: every weight 1 / size**2."""
    return np.full((size, size), 1.0 / size ** 2)


KERNELS = {
    "identity": np.array([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    # The notes' "[1 -1]": left pixel minus right pixel under cross-correlation.
    "difference [1 -1]": np.array([[1.0, -1.0]]),
    # The notes' "45-degree" filter, copied as printed.
    "notes diagonal": np.array([[0.6, 0.2, 0.0], [0.2, 0.0, 0.2], [0.0, 0.2, 0.6]]),
    "box blur 3x3": box_kernel(3),
    "gaussian 5x5": gaussian_kernel(5, 1.0),
    "sharpen": np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "laplacian (high-pass)": np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "sobel x": np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]),
    "sobel y": np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]]),
}


def get_kernel(name):
    """A copy of the named kernel from ``KERNELS``."""
    try:
        return KERNELS[name].copy()
    except KeyError:
        raise ValueError(f"unknown kernel {name!r}; choose one of {sorted(KERNELS)}") from None
