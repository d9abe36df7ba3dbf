"""The check harness: every check answers the same common mistake with the same words."""

import numpy as np
import pytest
import torch

from course_utils import checks
from course_utils.checks import CheckFailed
from course_utils.checks.harness import ARRAY, Case, Number, Pair, answer, run_cases

ALL_CHECKS = [getattr(checks, name) for name in checks.__all__ if name.startswith("check_")]


def failure(check, fn):
    """The message of the CheckFailed that ``check(fn)`` raises."""
    with pytest.raises(CheckFailed) as error:
        check(fn)
    return str(error.value)


def test_every_check_is_covered():
    assert len(ALL_CHECKS) == 32


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda check: check.__name__)
def test_none_gets_the_same_words(check):
    assert "returned None: did you forget the `return` at the end?" in failure(check, lambda *args: None)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda check: check.__name__)
def test_a_wrong_type_gets_the_same_words(check):
    assert "returned 'a string' (type str); expected " in failure(check, lambda *args: "a string")


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda check: check.__name__)
def test_a_wrong_shape_gets_the_same_words(check):
    message = failure(check, lambda *args: np.zeros((1, 2, 3, 4, 5)))
    assert "returned shape (1, 2, 3, 4, 5), expected " in message


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda check: check.__name__)
def test_the_message_names_the_exercise(check):
    name = check.__name__.removeprefix("check_")
    name = {"output_size": "conv_output_size", "conv_matrix": "conv_as_matrix"}.get(name, name)
    assert failure(check, lambda *args: None).startswith(f"{name} returned None")


def test_an_unimplemented_function_is_named(stub):
    with pytest.raises(CheckFailed, match=f"^{stub.__name__} is not implemented yet: "):
        answer(stub, "exercise", (1,))


# --- run_cases on toy cases ---

SQUARES = [Case((x,), x * x, f"x = {x}") for x in (1, 2, 3)]


def test_run_cases_accepts_right_answers():
    run_cases(lambda x: x * x, "square", SQUARES, Number(whole=True))


def test_a_mistake_must_explain_every_answer():
    mistakes = [("you doubled.", lambda x: 2 * x), ("you added one.", lambda x: x + 1)]
    message = failure(lambda fn: run_cases(fn, "square", SQUARES, Number(), mistakes=mistakes),
                      lambda x: x + 1)
    assert message == "square returned 2, expected 1: you added one.\n(x = 1)"


def test_without_a_hint_the_wrong_cases_are_counted():
    message = failure(lambda fn: run_cases(fn, "square", SQUARES, Number(), mistakes=[("no.", abs)]),
                      lambda x: 4)
    assert message == "square returned 4, expected 1 (2 of 3 cases wrong).\n(x = 1)"


def test_whole_numbers_are_asked_for_once_the_values_are_right():
    message = failure(lambda fn: run_cases(fn, "square", SQUARES, Number(whole=True)), lambda x: float(x * x))
    assert "square returned 1.0 (type float); expected a whole number: the values are right" in message


def test_a_one_element_tensor_counts_as_a_number_unless_forbidden():
    run_cases(lambda x: torch.tensor(x * x), "square", SQUARES, Number())
    message = failure(lambda fn: run_cases(fn, "square", SQUARES, Number(tensors=False)),
                      lambda x: torch.tensor(x * x))
    assert message.startswith("square returned a torch tensor; expected a Python number: ")


def test_arrays_get_suspects_then_the_first_mismatch():
    cases = [Case((np.arange(3.0),), np.arange(3.0) * 2, "x = [0, 1, 2]")]

    def run(fn):
        run_cases(fn, "double", cases, ARRAY, suspects=lambda x: [("you squared.", x * x)])

    assert failure(run, lambda x: x * x) == "double returned wrong values: you squared.\n(x = [0, 1, 2])"
    assert failure(run, lambda x: x * 3).startswith(
        "double returned wrong values: at index (1,) you have 3.0000, expected 2.0000")


def test_a_wrong_shape_gets_the_rule_and_the_topic_hint():
    cases = [Case((np.zeros((2, 3)),), np.zeros((3, 2)), "x of shape (2, 3)")]
    message = failure(lambda fn: run_cases(fn, "transpose", cases, shape_rule="(W, H)",
                                           explain_shape=lambda got, x: "you forgot to transpose."),
                      lambda x: x)
    assert message == ("transpose returned shape (2, 3), expected (3, 2) = (W, H): you forgot to transpose.\n"
                       "(x of shape (2, 3))")


def test_a_pair_must_be_a_tuple():
    cases = [Case((1,), (1, 2))]
    message = failure(lambda fn: run_cases(fn, "pair", cases, Pair("(a, b)")), lambda x: [1, 2])
    assert message == "pair returned [1, 2] (type list); expected a pair: return a pair (a, b) as a tuple."


def test_the_arguments_are_copied_for_every_call():
    x = np.zeros(3)
    cases = [Case((x,), np.zeros(3))] * 2

    def spoil(array):
        result = array.copy()
        array += 1
        return result

    run_cases(spoil, "spoil", cases)
    assert not x.any()
