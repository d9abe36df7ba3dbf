"""Checking the plain arguments of the feature-visualisation functions: counts, numbers, sizes."""

import math

__all__ = ["positive_int", "non_negative_number", "positive_number", "image_size", "choice"]


def positive_int(value, name):
    """``value`` if it is an int >= 1 (not a bool), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def non_negative_number(value, name):
    """``value`` as a float if it is a finite number >= 0, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def positive_number(value, name):
    """``value`` as a float if it is a finite number > 0, else a ValueError naming ``name``."""
    if non_negative_number(value, name) == 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


def image_size(value, name="size"):
    """(C, H, W) from three positive ints, else a ValueError (e.g. (1, 28, 28) for Fashion-MNIST)."""
    try:
        size = tuple(value)
    except TypeError:
        size = ()
    if len(size) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size):
        raise ValueError(f"{name} must be three positive ints (channels, height, width) of one image, "
                         f"e.g. (1, 28, 28); got {value!r}")
    return size


def choice(value, options, name):
    """``value`` if it is one of ``options``, else a ValueError listing them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value
