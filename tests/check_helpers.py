"""Shared by the tests of course_utils.checks: a stub answer and the failure expectation."""

import pytest

from course_utils.checks import CheckFailed


def stub(*args):
    """What a student's untouched exercise does."""
    raise NotImplementedError()


def expect_failure(check, fn, words):
    """``check(fn)`` must raise CheckFailed with ``words`` in its message."""
    with pytest.raises(CheckFailed) as error:
        check(fn)
    assert words in str(error.value), str(error.value)
