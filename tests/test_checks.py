"""Each exercise check accepts a right answer and explains the typical wrong ones."""

import numpy as np
import pytest

from course_utils import checks
from course_utils.convolution import conv2d, conv2d_single, conv_matrix, output_size


@pytest.mark.parametrize("check", [checks.check_conv2d_single, checks.check_output_size,
                                   checks.check_conv_matrix])
def test_unfinished_exercises_are_named(check, stub, expect_failure):
    expect_failure(check, stub, "not implemented yet")


# --- conv2d_single ---

def conv_flipped(image, kernel):
    return conv2d_single(image, np.asarray(kernel)[:, ::-1, ::-1])


def conv_per_channel(image, kernel):
    return np.stack([conv2d_single(i, k) for i, k in zip(image, kernel)])


def conv_off_by_one(image, kernel):
    return conv2d_single(image, kernel)[:-1, :-1]


def conv_first_channel(image, kernel):
    return conv2d_single(image[0], kernel[0])


def conv_same_padding(image, kernel):
    kh, kw = kernel.shape[1:]
    return conv2d(image[None], kernel[None], padding=(kh // 2, kw // 2))[0, 0]


def test_conv2d_single_accepts_the_reference(capsys):
    checks.check_conv2d_single(conv2d_single)
    assert capsys.readouterr().out.startswith("✓")


@pytest.mark.parametrize("wrong,words", [
    (conv_flipped, "you flipped the kernel"),
    (conv_per_channel, "sum over the channels"),
    (conv_off_by_one, "off by one"),
    (conv_first_channel, "only the first channel"),
    (conv_same_padding, "no padding here"),
    (lambda image, kernel: conv2d_single(image, kernel) / image.shape[0], "averaged"),
    (lambda image, kernel: conv2d_single(image, kernel).T, "swapped"),
    (lambda image, kernel: "a string", "numpy array of numbers"),
    (lambda image, kernel: image[0, 99], "raised IndexError"),
    (lambda image, kernel: conv2d_single(image, kernel) + 1, "at index (0, 0)"),
    # A kernel as large as the image gives a 1 x 1 output, as in the graded test.
    (lambda image, kernel: conv2d_single(image, kernel).squeeze(), "axis of length 1 is missing"),
])
def test_conv2d_single_explains_wrong_answers(wrong, words, expect_failure):
    expect_failure(checks.check_conv2d_single, wrong, words)


# --- conv_output_size ---

def test_output_size_accepts_the_reference(capsys):
    checks.check_output_size(output_size)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,words", [
    (lambda n, k, p, s: (n + 2 * p - k) // s, "forgot the + 1"),
    (lambda n, k, p, s: (n + p - k) // s + 1, "2 * padding"),
    (lambda n, k, p, s: (n - k) // s + 1, "ignored the padding"),
    (lambda n, k, p, s: (n + 2 * p - k) / s + 1, "floor"),
    (lambda n, k, p, s: -(-(n + 2 * p - k) // s) + 1, "rounded up"),
    (lambda n, k, p, s: n + 2 * p - k + 1, "ignored the stride"),
    (lambda n, k, p, s: float((n + 2 * p - k) // s + 1), "return an int"),
    (lambda n, k, p, s: 3, "cases wrong"),
    # The graded test has strides 4 and 5, padding 3 and n = 227: so do the check's settings.
    (lambda n, k, p, s: (n + 2 * p - k) // min(s, 3) + 1, "cases wrong"),
    (lambda n, k, p, s: (n + 2 * min(p, 2) - k) // s + 1, "cases wrong"),
    (lambda n, k, p, s: (min(n, 32) + 2 * p - k) // s + 1, "cases wrong"),
])
def test_output_size_explains_wrong_answers(wrong, words, expect_failure):
    expect_failure(checks.check_output_size, wrong, words)


# --- conv_as_matrix ---

def test_conv_matrix_accepts_the_reference(capsys):
    checks.check_conv_matrix(conv_matrix)
    assert "✓" in capsys.readouterr().out


def dense_everywhere(kernel, shape):
    M = conv_matrix(kernel, shape)
    return M + 0.1


@pytest.mark.parametrize("wrong,words", [
    (lambda kernel, shape: conv_matrix(kernel, shape).T, "you built the transpose"),
    (lambda kernel, shape: conv_matrix(kernel[::-1, ::-1], shape), "flipped the kernel"),
    (dense_everywhere, "outside its receptive field must be 0"),
    (lambda kernel, shape: np.roll(conv_matrix(kernel, shape), 1, axis=1), "row 0"),
    (lambda kernel, shape: np.zeros((shape[0] * shape[1],) * 2), "one row per output pixel"),
])
def test_conv_matrix_explains_wrong_answers(wrong, words, expect_failure):
    expect_failure(checks.check_conv_matrix, wrong, words)


# --- every exercise: a function that returns nothing ---

@pytest.mark.parametrize("check,name", [(checks.check_conv2d_single, "conv2d_single"),
                                        (checks.check_output_size, "conv_output_size"),
                                        (checks.check_conv_matrix, "conv_as_matrix")])
def test_a_function_that_returns_nothing_is_told_so(check, name, expect_failure):
    def forgot_return(*args):
        np.zeros(3)  # computes something, returns None

    expect_failure(check, forgot_return, f"{name} returned None: did you forget the `return` at the end?")
