"""Fixtures shared by the tests: ``stub`` and ``expect_failure`` for the exercise checks."""

import pytest

from course_utils.checks import CheckFailed


def _unimplemented(*args):
    """What a student's untouched exercise does."""
    raise NotImplementedError()


def _expect_failure(check, fn, words):
    """``check(fn)`` must raise CheckFailed with ``words`` in its message."""
    with pytest.raises(CheckFailed) as error:
        check(fn)
    assert words in str(error.value), str(error.value)


@pytest.fixture
def stub():
    """A function that raises NotImplementedError, like an untouched exercise."""
    return _unimplemented


@pytest.fixture
def expect_failure():
    """``expect_failure(check, fn, words)``: ``check(fn)`` raises CheckFailed mentioning ``words``."""
    return _expect_failure
