"""Checks for lesson 10's exercises: seconds_to_target (how a recipe is timed), one_cycle_lr (the
schedule, against PyTorch's OneCycleLR) and difference_error (the spread of a difference of means)."""

import math

import numpy as np
import torch

from ..spread import difference_error
from ..training.time_to_accuracy import epoch_reaching, seconds_to_target
from .harness import Case, CheckFailed, Number, answer, run_cases

__all__ = ["check_seconds_to_target", "check_one_cycle_lr", "check_difference_error",
           "reference_seconds_to_target", "reference_difference_error", "torch_one_cycle"]

reference_seconds_to_target = seconds_to_target
reference_difference_error = difference_error

# (validation accuracy per epoch, training seconds per epoch, target, what the case tests)
REACHED = [
    ([0.85, 0.90, 0.92, 0.93], [10.0, 11.0, 12.0, 13.0], 0.91, "reached at epoch 3 of 4"),
    ([0.86, 0.895, 0.90, 0.91], [9.5, 9.0, 9.25, 9.75], 0.90, "epoch 3 equals the target exactly"),
    ([0.80, 0.93, 0.96, 0.94], [4.0, 5.0, 6.0, 7.0], 0.92, "reached at epoch 2, best at 3, lower at 4"),
    ([0.97, 0.98], [30.0, 2.0], 0.95, "reached at the first epoch"),
]
NEVER = ([0.80, 0.85, 0.88], [10.0, 10.0, 10.0], 0.90, "never reached")


def _first(val_accuracy, reaches):
    return next((epoch for epoch, accuracy in enumerate(val_accuracy, start=1) if reaches(accuracy)), None)


def _strictly_above(val_accuracy, seconds, target):
    epoch = _first(val_accuracy, lambda accuracy: accuracy > target)
    return math.inf if epoch is None else sum(seconds[:epoch])


def _that_epoch_only(val_accuracy, seconds, target):
    return seconds[epoch_reaching(val_accuracy, target) - 1]


def _epoch_before(val_accuracy, seconds, target):
    return sum(seconds[:epoch_reaching(val_accuracy, target) - 1])


def _whole_run(val_accuracy, seconds, target):
    return sum(seconds)


def _to_best(val_accuracy, seconds, target):
    return sum(seconds[:int(np.argmax(val_accuracy)) + 1])


# (hint, wrong function): a mistake that gives every answer is named (the cases tell them apart).
MISTAKES = (
    ("an epoch whose accuracy equals the target reaches it: compare with >=, not >.", _strictly_above),
    ("that is the time of the reaching epoch alone: add up every epoch's time up to and including "
     "it (training does not restart at each epoch).", _that_epoch_only),
    ("that is the time up to the epoch *before* the one that reaches the target: include the "
     "reaching epoch (its accuracy is measured at its end).", _epoch_before),
    ("that is the time to the *best* epoch: the target is reached at the first epoch at or above "
     "it, even if a later one is higher.", _to_best),
    ("that is the time of the whole run: stop adding at the first epoch that reaches the target.",
     _whole_run),
)


def _compare(got, expected):
    return bool(np.isclose(got, expected, rtol=1e-9, atol=1e-9))


def check_seconds_to_target(fn):
    """Run ``fn(val_accuracy, seconds, target)`` on runs that reach the target and one that does not."""
    cases = [Case((list(acc), list(sec), target), seconds_to_target(acc, sec, target),
                  f"val_accuracy={acc}, seconds={sec}, target={target}: {about}")
             for acc, sec, target, about in REACHED]
    run_cases(fn, "seconds_to_target", cases, Number(), compare=_compare, mistakes=MISTAKES)
    accuracies, seconds, target, _ = NEVER
    try:
        got = answer(fn, "seconds_to_target", (list(accuracies), list(seconds), target), Number())
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}\n(a run that never reaches the target, val_accuracy={accuracies}: "
                          "return math.inf)") from None
    if got != math.inf:
        raise CheckFailed(f"seconds_to_target returned {got!r} for a run that never reaches {target} "
                          f"(val_accuracy={accuracies}): return math.inf, so that it compares as "
                          "slower than every run that does (0 or -1 would look fastest).")
    print(f"✓ seconds_to_target agrees with the reference on {len(cases) + 1} runs, one that never "
          "reaches its target.")


# --- Exercise: one_cycle_lr --------------------------------------------------------------------

def torch_one_cycle(total_steps, peak, pct_start):
    """The learning rate of every step of PyTorch's OneCycleLR (its defaults otherwise)."""
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=peak)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=total_steps,
                                                    pct_start=pct_start)
    rates = []
    for _ in range(total_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.array(rates)


def _schedule(step_fn, total_steps, peak, pct_start):
    return np.array([step_fn(step, total_steps, peak, pct_start) for step in range(total_steps)])


def _cosine(start, end, fraction):
    return end + (start - end) / 2 * (math.cos(math.pi * fraction) + 1)


def _linear(start, end, fraction):
    return start + (end - start) * fraction


def _one_cycle(step, total_steps, peak, pct_start, anneal=_cosine, rise_end=None, final=None, first=None):
    first = peak / 25 if first is None else first
    final = first / 1e4 if final is None else final
    rise_end = pct_start * total_steps - 1 if rise_end is None else rise_end
    if step <= rise_end:
        return anneal(first, peak, step / rise_end)
    return anneal(peak, final, (step - rise_end) / (total_steps - 1 - rise_end))


def _one_cycle_mistakes():
    def wrap(**options):
        return lambda total, peak, pct: _schedule(
            lambda s, t, p, q: _one_cycle(s, t, p, q, **options), total, peak, pct)
    return (
        ("the rate follows straight lines; one-cycle anneals along a half cosine: "
         "end + (start - end)/2 · (cos(π·fraction) + 1).", wrap(anneal=_linear)),
        ("the rise ends at step pct_start·total_steps - 1 (steps count from 0), not at "
         "pct_start·total_steps.", lambda total, peak, pct: _schedule(
             lambda s, t, p, q: _one_cycle(s, t, p, q, rise_end=q * t), total, peak, pct)),
        ("the run ends at peak / 25 / 10⁴, not at 0.", wrap(final=0.0)),
        ("the run starts at peak / 25 (the warm-up), not at 0.", wrap(first=0.0)),
    )


def _close(got, expected):
    return np.shape(got) == np.shape(expected) and bool(np.allclose(got, expected, rtol=1e-6, atol=0))


def check_one_cycle_lr(fn):
    """Compare ``fn(step, total_steps, peak, pct_start)`` at every step with PyTorch's OneCycleLR."""
    settings = [(20, 0.01, 0.25), (12, 0.1, 0.25), (100, 3e-3, 0.3), (9, 1.0, 0.5)]
    cases = [Case((total, peak, pct), torch_one_cycle(total, peak, pct),
                  f"total_steps={total}, peak={peak}, pct_start={pct}: the rate at steps 0..{total - 1}")
             for total, peak, pct in settings]

    # Every step's rate first (an error, None or a non-number is explained as in every check),
    # then the schedules are judged as arrays.
    schedules = {setting: np.array([answer(fn, "one_cycle_lr", (step, *setting), Number())
                                    for step in range(setting[0])]) for setting in settings}
    run_cases(lambda *setting: schedules[setting], "one_cycle_lr", cases, compare=_close,
              mistakes=_one_cycle_mistakes())
    print(f"✓ one_cycle_lr agrees with torch.optim.lr_scheduler.OneCycleLR at every step of "
          f"{len(cases)} schedules.")


# --- Exercise: difference_error ----------------------------------------------------------------

def _error_mistakes():
    def stats(a, b):
        return np.asarray(a, dtype=float), np.asarray(b, dtype=float)

    def population(a, b):
        a, b = stats(a, b)
        return math.sqrt(a.var() / len(a) + b.var() / len(b))

    def spreads_only(a, b):
        a, b = stats(a, b)
        return math.sqrt(a.var(ddof=1) + b.var(ddof=1))

    def summed_errors(a, b):
        a, b = stats(a, b)
        return a.std(ddof=1) / math.sqrt(len(a)) + b.std(ddof=1) / math.sqrt(len(b))

    def one_side(a, b):
        a, b = stats(a, b)
        return a.std(ddof=1) / math.sqrt(len(a))

    return (
        ("that uses the population variance (np.var's default ddof=0); a spread estimated from a "
         "few runs needs ddof=1.", population),
        ("that is the spread of single runs: divide each variance by its number of runs "
         "(the mean of n runs varies n times less than one run).", spreads_only),
        ("you added the two standard errors; variances add, not standard deviations: "
         "sqrt(var_a/n_a + var_b/n_b).", summed_errors),
        ("that is the standard error of mean(a) alone; the difference has the errors of both means.",
         one_side),
    )


def check_difference_error(fn):
    """Compare ``fn(a, b)`` with the reference on runs of different sizes and spreads."""
    rng = np.random.default_rng(10)
    runs = [(rng.normal(0.90, 0.003, 3), rng.normal(0.89, 0.006, 3)),
            (rng.normal(0.5, 0.1, 5), rng.normal(0.6, 0.02, 4)),
            (np.array([0.9, 0.9]), np.array([0.8, 0.82]))]
    cases = [Case((a.copy(), b.copy()), reference_difference_error(a, b),
                  f"a={np.round(a, 4).tolist()}, b={np.round(b, 4).tolist()}") for a, b in runs]
    run_cases(fn, "difference_error", cases, Number(), compare=_compare, mistakes=_error_mistakes())
    print(f"✓ difference_error agrees with the reference on {len(cases)} pairs of runs.")
