"""Lesson 10: seconds_to_target, its reference and its check (each typical wrong answer named)."""

import math

import numpy as np
import pytest

from course_utils import checks
from course_utils.training.time_to_accuracy import epoch_reaching, seconds_to_target


def test_reference_sums_the_epochs_up_to_the_first_that_reaches_the_target():
    assert seconds_to_target([0.85, 0.90, 0.92], [10, 11, 12], 0.90) == 21.0
    assert seconds_to_target([0.95, 0.80, 0.99], [3, 4, 5], 0.90) == 3.0
    assert seconds_to_target([0.85, 0.89], [10, 10], 0.90) == math.inf
    assert seconds_to_target([], [], 0.9) == math.inf
    assert epoch_reaching([0.85, 0.90, 0.95], 0.90) == 2 and epoch_reaching([0.5], 0.9) is None


def test_reference_refuses_curves_of_different_lengths():
    with pytest.raises(ValueError, match="one validation accuracy and one training time per epoch"):
        seconds_to_target([0.9, 0.95], [10.0], 0.9)


def right(val_accuracy, seconds, target):
    total = 0.0
    for accuracy, spent in zip(val_accuracy, seconds):
        total += spent
        if accuracy >= target:
            return total
    return math.inf


def strictly_above(val_accuracy, seconds, target):
    return right(val_accuracy, seconds, target + 1e-12)


def that_epoch_only(val_accuracy, seconds, target):
    for accuracy, spent in zip(val_accuracy, seconds):
        if accuracy >= target:
            return spent
    return math.inf


def epoch_before(val_accuracy, seconds, target):
    total = 0.0
    for accuracy, spent in zip(val_accuracy, seconds):
        if accuracy >= target:
            return total
        total += spent
    return math.inf


def whole_run(val_accuracy, seconds, target):
    return sum(seconds) if max(val_accuracy) >= target else math.inf


def to_best(val_accuracy, seconds, target):
    best = int(np.argmax(val_accuracy))
    return sum(seconds[:best + 1]) if val_accuracy[best] >= target else math.inf


def zero_when_never(val_accuracy, seconds, target):
    found = right(val_accuracy, seconds, target)
    return 0.0 if found == math.inf else found


def none_when_never(val_accuracy, seconds, target):
    found = right(val_accuracy, seconds, target)
    return None if found == math.inf else found


def test_the_check_accepts_the_reference_and_a_loop(capsys):
    checks.check_seconds_to_target(checks.time_to_accuracy.reference_seconds_to_target)
    checks.check_seconds_to_target(right)
    assert "✓ seconds_to_target" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (strictly_above, "compare with >=, not >"),
    (that_epoch_only, "the reaching epoch alone"),
    (epoch_before, "the epoch *before*"),
    (whole_run, "the whole run"),
    (to_best, "the *best* epoch"),
    (zero_when_never, "return math.inf"),
    (none_when_never, "return math.inf"),
    (lambda a, s, t: str(right(a, s, t)), "expected a number"),
])
def test_the_check_names_each_typical_mistake(expect_failure, wrong, words):
    expect_failure(checks.check_seconds_to_target, wrong, words)


def test_an_untouched_exercise_is_told_to_write_the_code(stub, expect_failure):
    expect_failure(checks.check_seconds_to_target, stub, "not implemented yet")


# --- one_cycle_lr ---

def one_cycle(step, total_steps, peak, pct_start):
    first, rise_end = peak / 25, pct_start * total_steps - 1
    start, end, fraction = (first, peak, step / rise_end) if step <= rise_end else \
        (peak, first / 1e4, (step - rise_end) / (total_steps - 1 - rise_end))
    return end + (start - end) / 2 * (math.cos(math.pi * fraction) + 1)


def test_one_cycle_formula_is_pytorchs_onecycle_at_every_step(capsys):
    from course_utils.checks.time_to_accuracy import torch_one_cycle
    for total, peak, pct in [(8, 0.01, 0.25), (37, 0.2, 0.3)]:
        assert np.allclose([one_cycle(s, total, peak, pct) for s in range(total)],
                           torch_one_cycle(total, peak, pct), rtol=1e-9, atol=0)
    checks.check_one_cycle_lr(one_cycle)
    assert "✓ one_cycle_lr" in capsys.readouterr().out


def linear_cycle(step, total_steps, peak, pct_start):
    first, rise_end = peak / 25, pct_start * total_steps - 1
    if step <= rise_end:
        return first + (peak - first) * step / rise_end
    return peak + (first / 1e4 - peak) * (step - rise_end) / (total_steps - 1 - rise_end)


def rise_too_long(step, total_steps, peak, pct_start):
    return _with_rise_end(step, total_steps, peak, pct_start * total_steps)


def _with_rise_end(step, total_steps, peak, rise_end):
    first = peak / 25
    start, end, fraction = (first, peak, step / rise_end) if step <= rise_end else \
        (peak, first / 1e4, (step - rise_end) / (total_steps - 1 - rise_end))
    return end + (start - end) / 2 * (math.cos(math.pi * fraction) + 1)


def ends_at_zero(step, total_steps, peak, pct_start):
    rise_end = pct_start * total_steps - 1
    if step <= rise_end:
        return one_cycle(step, total_steps, peak, pct_start)
    fraction = (step - rise_end) / (total_steps - 1 - rise_end)
    return peak / 2 * (math.cos(math.pi * fraction) + 1)


@pytest.mark.parametrize("wrong, words", [
    (linear_cycle, "half cosine"),
    (rise_too_long, "pct_start·total_steps - 1"),
    (ends_at_zero, "not at 0"),
    (lambda step, total, peak, pct: None, "returned None"),
    (lambda step, total, peak, pct: peak, "one_cycle_lr returned wrong values"),
])
def test_one_cycle_check_names_each_mistake(expect_failure, wrong, words):
    expect_failure(checks.check_one_cycle_lr, wrong, words)


def test_one_cycle_check_tells_an_untouched_exercise(stub, expect_failure):
    expect_failure(checks.check_one_cycle_lr, stub, "not implemented yet")


# --- difference_error ---

def test_reference_standard_error_and_verdicts():
    from course_utils.spread import compare_runs, difference_error
    assert difference_error([1.0, 3.0], [2.0, 2.0]) == pytest.approx(1.0)   # var 2 / 2 runs + 0
    assert compare_runs([0.9, 0.91, 0.92], [0.8, 0.81, 0.82])[2] == "larger"
    assert compare_runs([0.8, 0.81, 0.82], [0.9, 0.91, 0.92])[2] == "smaller"
    assert compare_runs([0.9, 0.92], [0.91, 0.90])[2] == "within noise"
    with pytest.raises(ValueError, match="at least two runs"):
        difference_error([0.9], [0.8, 0.85])


def error_right(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))


def test_difference_error_check_accepts_a_correct_one(capsys):
    checks.check_difference_error(error_right)
    assert "✓ difference_error" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (lambda a, b: math.sqrt(np.var(a) / len(a) + np.var(b) / len(b)), "ddof=1"),
    (lambda a, b: math.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1)), "divide each variance"),
    (lambda a, b: np.std(a, ddof=1) / math.sqrt(len(a)) + np.std(b, ddof=1) / math.sqrt(len(b)),
     "variances add"),
    (lambda a, b: np.std(a, ddof=1) / math.sqrt(len(a)), "mean(a) alone"),
])
def test_difference_error_check_names_each_mistake(expect_failure, wrong, words):
    expect_failure(checks.check_difference_error, wrong, words)
