"""The harness every instant check runs on: call the student's function on cases, compare
each answer with the reference, and explain the failures.

The common failures get the same words in every lesson:

* the function raised: ``NAME raised ValueError: ...`` (or "is not implemented yet");
* it returned None: ``NAME returned None: did you forget the `return` at the end?``;
* it returned the wrong type: ``NAME returned 'x' (type str); expected a number.``;
* it returned the wrong shape: ``NAME returned shape (4, 5), expected (4, 6) = RULE: HINT.``
  (without the topic's HINT, an answer that lacks an axis of length 1 is told so);
* it returned wrong values: ``NAME returned wrong values: HINT`` for an array,
  ``NAME returned 5, expected 6: HINT`` for a value, where HINT is the topic's words for the
  first suspect that fits, else (arrays) the first mismatch.

A topic module lists its cases (:class:`Case`), says what the exercise returns
(:class:`Array`, :class:`Number`, :class:`Pair`) and gives only its topic-specific words
to :func:`run_cases`: the suspects (typical wrong answers), the wrong formulas
(``mistakes``) and the hints for known wrong shapes.
"""

import numbers
import reprlib
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["CheckFailed", "Case", "Returns", "Array", "Number", "Pair", "ARRAY", "call_student", "answer",
           "run_cases", "same", "first_mismatch", "returned_none", "wrong_type", "wrong_shape"]


class CheckFailed(AssertionError):
    """An exercise answer is wrong; the message says why."""


# --- The words for the common failures --------------------------------------------------------

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
        shapes = ", ".join(_argument(a) for a in args)
        raise CheckFailed(f"{name} raised {type(error).__name__}: {error}\n"
                          f"(called with arguments of shapes {shapes})") from None


def _argument(value):
    """An argument in a few characters: an array by its shape, a model by its type."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return str(tuple(value.shape))
    text = reprlib.repr(value)
    return f"a {type(value).__name__}" if "\n" in repr(value) else text


def returned_none(name):
    """The words for a function that returned None."""
    return f"{name} returned None: did you forget the `return` at the end?"


def _describe(value):
    """A short description of a returned value, for the messages."""
    if isinstance(value, torch.Tensor):
        return "a torch tensor" + (f" of shape {tuple(value.shape)}" if value.dim() else "")
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"{reprlib.repr(value)} (type {type(value).__name__})"


def wrong_type(name, got, what, advice=""):
    """A CheckFailed for a result of the wrong type: ``NAME returned X; expected WHAT: ADVICE.``"""
    return CheckFailed(f"{name} returned {_describe(got)}; expected {what}"
                       + (f": {advice}" if advice else "") + ".")


def wrong_shape(name, got_shape, expected, hint=None):
    """The words for a result of the wrong shape; ``expected`` is a shape or words."""
    return f"{name} returned shape {tuple(got_shape)}, expected {expected}" + (f": {hint}" if hint else ".")


def first_mismatch(got, expected):
    """Words for the first entry where two same-shaped arrays differ."""
    index = tuple(int(i) for i in np.argwhere(~np.isclose(got, expected))[0])
    return f"at index {index} you have {got[index]:.4f}, expected {expected[index]:.4f}"


def _show(value):
    """A value as the value messages print it: ints with thousands separators, floats to 4 digits."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):.4f}"
    return repr(value)


# --- What an exercise returns -------------------------------------------------------------------

class Returns:
    """What an exercise returns. ``read`` turns the student's result into an answer to compare
    (or raises CheckFailed with the common words); ``check_all`` may object once every answer
    is right."""

    def read(self, got, name):
        """The answer to compare, from the student's result ``got``."""
        raise NotImplementedError

    def check_all(self, answers, name):
        """Nothing more to say once every answer is right."""


class Array(Returns):
    """The exercise returns a numpy array of numbers (a list or a CPU tensor is read as one too)."""

    what = "a numpy array of numbers"

    def read(self, got, name):
        """The student's result as a float array, or CheckFailed saying it is not one."""
        try:
            return np.asarray(got, dtype=float)
        except (TypeError, ValueError, RuntimeError):
            raise wrong_type(name, got, self.what) from None


ARRAY = Array()

_TENSOR_ADVICE = ("return its value with .item() (as in loss.item()); a tensor also keeps "
                  "the whole graph of the computation alive")

_NUMPY_ADVICE = ("return its value with .item() (as in loss.item()) or float(...); a numpy number "
                 "or 0-d array is not a Python float")


@dataclass(frozen=True)
class Number(Returns):
    """The exercise returns one number.

    ``whole``: it must be an int (said once the values are right, so that a wrong formula is
    explained first); ``tensors``: a one-element torch tensor counts as its number;
    ``python_float``: it must be a Python float (``isinstance(got, float)``, as a graded test may
    assert), not a numpy number, a 0-d array or a tensor.
    """

    whole: bool = False
    tensors: bool = True
    python_float: bool = False

    def read(self, got, name):
        """The student's result as a Python or numpy number, or CheckFailed saying why not."""
        if isinstance(got, torch.Tensor) and (self.python_float or not self.tensors):
            raise wrong_type(name, got, "a Python number", _TENSOR_ADVICE)
        if isinstance(got, (np.ndarray, torch.Tensor)) and got.ndim and np.prod(got.shape) != 1:
            raise CheckFailed(wrong_shape(name, got.shape, "a single number"))
        if self.python_float and isinstance(got, (np.ndarray, np.generic)) and not isinstance(got, float):
            raise wrong_type(name, got, "a Python float", _NUMPY_ADVICE)
        if isinstance(got, (np.ndarray, torch.Tensor)):
            got = got.item()
        if not isinstance(got, numbers.Real):
            raise wrong_type(name, got, "a number")
        return got

    def check_all(self, answers, name):
        """With ``whole``: every answer is right; CheckFailed if one is not an int."""
        not_int = [got for got in answers if not isinstance(got, numbers.Integral)]
        if self.whole and not_int:
            raise wrong_type(name, not_int[0], "a whole number", "the values are right; return an int "
                             "(a Python int; divide with //)")


@dataclass(frozen=True)
class Pair(Returns):
    """The exercise returns a tuple of two values; ``names`` says which, e.g. ``"(size, jump)"``."""

    names: str

    def read(self, got, name):
        """The student's result if it is a pair, else CheckFailed saying what to return."""
        advice = f"return a pair {self.names} as a tuple"
        if isinstance(got, (np.ndarray, torch.Tensor)):
            raise CheckFailed(wrong_shape(name, got.shape, "a pair", advice + "."))
        if not isinstance(got, tuple) or len(got) != 2:
            raise wrong_type(name, got, "a pair", advice)
        return got


# --- Running the cases --------------------------------------------------------------------------

def _fresh(value):
    """A copy of an array argument, so that the student's function cannot change the case."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, list):
        return list(value)
    return value


@dataclass(frozen=True, eq=False)
class Case:
    """One call of the student's function: its arguments, the reference answer, and words
    naming the case (printed in parentheses under a failure)."""

    args: tuple
    expected: object
    about: str = ""

    def fresh_args(self):
        """The arguments, arrays and tensors copied."""
        return tuple(_fresh(arg) for arg in self.args)

    def context(self):
        """The line that says which case failed."""
        return f"\n({self.about})" if self.about else ""


def answer(fn, name, args, returns=ARRAY):
    """Call ``fn(*args)`` and read its result as ``returns`` says, with the common failures
    (raised, not implemented, None, wrong type) as CheckFailed."""
    got = call_student(fn, *args)
    if got is None:
        raise CheckFailed(returned_none(name))
    return returns.read(got, name)


def same(got, expected):
    """The default comparison: arrays of the same shape and close values; anything else, ==."""
    if isinstance(expected, np.ndarray):
        return np.shape(got) == expected.shape and bool(np.allclose(got, expected))
    return bool(got == expected)


def _answers(fn, name, cases, returns, explain_error):
    """The student's answer for each case, in turn; a raised error gets the topic's words."""
    for case in cases:
        try:
            yield answer(fn, name, case.fresh_args(), returns)
        except CheckFailed as failure:
            extra = explain_error(str(failure), *case.args) if explain_error else None
            if extra:
                raise CheckFailed(f"{failure}\n{extra}") from None
            raise


def _first_fit(got, candidates, compare):
    """The hint of the first (hint, wrong answer) pair whose wrong answer equals ``got``."""
    return next((hint for hint, wrong in candidates if compare(got, wrong)), None)


def _mistake(cases, answers, mistakes, compare):
    """The hint of the first (hint, wrong function) that gives every one of the answers."""
    for hint, wrong_fn in mistakes:
        if all(compare(got, wrong_fn(*case.args)) for case, got in zip(cases, answers)):
            return hint
    return None


@dataclass(frozen=True)
class _Hints:
    """The topic-specific words of one check (see run_cases)."""

    compare: object
    shape_rule: str = None
    explain_shape: object = None
    suspects: object = None
    explain_values: object = None
    mistakes: tuple = ()


def _shape_failure(name, case, got, hints):
    """CheckFailed words for an array of the wrong shape, or None if the shape is right."""
    expected = case.expected
    if not isinstance(expected, np.ndarray) or got.shape == expected.shape:
        return None
    wanted = f"{expected.shape}" + (f" = {hints.shape_rule}" if hints.shape_rule else "")
    hint = hints.explain_shape(got.shape, *case.args) if hints.explain_shape else None
    if hint is None and got.shape == tuple(n for n in expected.shape if n != 1):
        hint = "an axis of length 1 is missing (np.squeeze, or indexing with [0], drops it)."
    return wrong_shape(name, got.shape, wanted, hint) + case.context()


def _hint(cases, answers, case, got, hints):
    """The topic's words for the wrong answer ``got`` to ``case``: a mistake that gives every
    answer, else the first suspect that fits, else explain_values; None without any."""
    hint = _mistake(cases, answers, hints.mistakes, hints.compare) if hints.mistakes else None
    if hint is None and hints.suspects:
        hint = _first_fit(got, hints.suspects(*case.args), hints.compare)
    if hint is None and hints.explain_values:
        hint = hints.explain_values(got, *case.args)
    return hint


def _value_failure(name, cases, answers, case, got, hints):
    """The words for a wrong answer: the topic's hint, else the first mismatch (arrays) or,
    when every answer is known, how many are wrong."""
    hint = _hint(cases, answers, case, got, hints)
    if isinstance(case.expected, np.ndarray):
        return f"{name} returned wrong values: {hint or first_mismatch(got, case.expected)}" + case.context()
    message = f"{name} returned {_show(got)}, expected {_show(case.expected)}"
    if hint:
        return f"{message}: {hint}" + case.context()
    if isinstance(answers, list):
        wrong = sum(not hints.compare(a, c.expected) for c, a in zip(cases, answers))
        message += f" ({wrong} of {len(cases)} cases wrong)"
    return f"{message}." + case.context()


def run_cases(fn, name, cases, returns=ARRAY, *, compare=same, shape_rule=None, explain_shape=None,
              suspects=None, explain_values=None, mistakes=(), explain_error=None):
    """Run the student's ``fn`` on every case; CheckFailed at the first wrong answer, saying why.

    fn: the student's function; name: the exercise's name, used in the messages;
    cases: :class:`Case` list; returns: what the exercise returns (``ARRAY``, ``Number()``,
    ``Pair("(a, b)")``); compare(got, expected) -> bool: right or not (default :func:`same`).
    The topic's words, all optional, get the case's arguments (``*args``):

    * shape_rule: how the expected shape follows from the input, e.g. ``"(H // k, W // k)"``;
    * explain_shape(got_shape, *args) -> hint or None, for a known wrong shape;
    * suspects(*args) -> (hint, wrong answer) pairs: the first that equals ``got`` explains it;
    * explain_values(got, *args) -> hint or None, when no suspect fits;
    * mistakes: (hint, wrong function) pairs; one that gives *every* answer explains them
      (the student's function then runs on every case before the first is judged);
    * explain_error(message, *args) -> extra words or None, for an error the function raised.

    Without a hint, a wrong array gets its first mismatch, a wrong value "NAME returned X,
    expected Y". A wrong shape or value ends with the case's ``about`` in parentheses.
    """
    hints = _Hints(compare, shape_rule, explain_shape, suspects, explain_values, tuple(mistakes))
    answers = _answers(fn, name, cases, returns, explain_error)
    if mistakes:
        answers = list(answers)
    checked = []
    for case, got in zip(cases, answers):
        failure = _shape_failure(name, case, got, hints) if isinstance(got, np.ndarray) else None
        if failure is None and not compare(got, case.expected):
            failure = _value_failure(name, cases, answers, case, got, hints)
        if failure:
            raise CheckFailed(failure)
        checked.append(got)
    returns.check_all(checked, name)
