"""Comparing runs that vary: a difference of means against its standard error (lessons 05, 10).

Runs of the same recipe with different seeds give different accuracies. Two recipes differ
*measurably* when the difference of their means is more than two standard errors of that
difference, where the standard error is sqrt(s_a²/n_a + s_b²/n_b) from the spreads over seeds
(sample variances, ddof=1); a smaller difference is within the noise of this many runs.
"""

import math

import numpy as np

__all__ = ["difference_error", "compare_runs"]


def _runs(values, name):
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"{name} must be one number per run, at least two runs (a spread needs two); "
                         f"got shape {values.shape}")
    return values


def difference_error(a, b):
    """Standard error of mean(a) - mean(b): sqrt(var(a)/len(a) + var(b)/len(b)), ddof=1.

    a, b: one measurement per run (seed), each at least two runs.
    """
    a, b = _runs(a, "a"), _runs(b, "b")
    return math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))


def compare_runs(a, b):
    """(mean(a) - mean(b), its standard error, verdict): 'larger' or 'smaller' when the
    difference exceeds two standard errors, else 'within noise'."""
    a, b = _runs(a, "a"), _runs(b, "b")
    difference, error = float(a.mean() - b.mean()), difference_error(a, b)
    if abs(difference) <= 2 * error:
        return difference, error, "within noise"
    return difference, error, "larger" if difference > 0 else "smaller"
