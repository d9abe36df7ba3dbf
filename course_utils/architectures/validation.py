"""Argument checks shared by the architecture builders, with the package's error messages."""

import numbers

__all__ = ["positive_int", "flag", "one_of", "probability"]


def positive_int(name, value):
    """Return ``value`` if it is an int >= 1, else raise a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer (1, 2, ...), got {value!r}")
    return int(value)


def flag(name, value):
    """Return ``value`` if it is True or False, else raise a ValueError naming ``name``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def one_of(name, value, allowed):
    """Return ``value`` if it is one of ``allowed``, else raise a ValueError listing them."""
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def probability(name, value):
    """Return ``value`` if it is a number in [0, 1), else raise a ValueError (a dropout rate)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}")
    return float(value)
