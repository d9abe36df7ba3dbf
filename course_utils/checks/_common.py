"""What every exercise check shares: the failure type and calling the student's code."""

import numpy as np

__all__ = ["CheckFailed", "call_student", "as_float_array", "first_mismatch"]


class CheckFailed(AssertionError):
    """An exercise answer is wrong; the message says why."""


def call_student(fn, *args):
    """Run the student's function, turning its failures into readable messages."""
    name = getattr(fn, "__name__", "your function")
    try:
        return fn(*args)
    except NotImplementedError:
        raise CheckFailed(f"{name} is not implemented yet: replace "
                          "`raise NotImplementedError()` with your code, run that cell, "
                          "then run this check again.") from None
    except Exception as error:
        shapes = ", ".join(str(np.shape(a)) if np.ndim(a) else repr(a) for a in args)
        raise CheckFailed(f"{name} raised {type(error).__name__}: {error}\n"
                          f"(called with arguments of shapes {shapes})") from None


def as_float_array(result, name):
    """The student's result as a float array, or a CheckFailed saying it is not one."""
    try:
        return np.asarray(result, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} must return a numpy array of numbers, "
                          f"got {type(result).__name__}") from None


def first_mismatch(got, expected):
    """Words for the first entry where two same-shaped arrays differ."""
    index = tuple(int(i) for i in np.argwhere(~np.isclose(got, expected))[0])
    return f"at index {index} you have {got[index]:.4f}, expected {expected[index]:.4f}"
