"""Fixtures shared by the tests: ``stub`` and ``expect_failure`` for the exercise checks, ``one_thread``."""

import pytest
import torch

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


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread while a module's tests run (use with ``pytest.mark.usefixtures``): the
    tensors are tiny, and on a loaded machine spinning OpenMP threads made a 28×28 forward pass
    50× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
