"""Lesson 02's checks accept right answers and explain the typical wrong ones."""

import pytest

from course_utils.checks import check_input_region, check_rf_recurrence, check_vgg_stack_rf


def rf_recurrence(layers):
    size, jump = 1, 1
    for kernel, stride, dilation in layers:
        size += dilation * (kernel - 1) * jump
        jump *= stride
    return size, jump


def vgg_stack_rf(convs_per_block):
    layers = [layer for n in convs_per_block for layer in [(3, 1, 1)] * n + [(2, 2, 1)]]
    return rf_recurrence(layers)[0]


@pytest.mark.parametrize("check", [check_rf_recurrence, check_input_region, check_vgg_stack_rf])
def test_unfinished_exercises_are_named(check, stub, expect_failure):
    expect_failure(check, stub, "not implemented yet")


def test_right_answers_pass(capsys):
    check_rf_recurrence(rf_recurrence)
    check_input_region(lambda i, r, j, p: (i * j - p, i * j - p + r - 1))
    check_vgg_stack_rf(vgg_stack_rf)
    assert capsys.readouterr().out.count("✓") == 3


def no_jump(layers):
    size, jump = 1, 1
    for k, s, d in layers:
        size += d * (k - 1)
        jump *= s
    return size, jump


def jump_first(layers):
    size, jump = 1, 1
    for k, s, d in layers:
        jump *= s
        size += d * (k - 1) * jump
    return size, jump


def no_dilation(layers):
    return rf_recurrence([(k, s, 1) for k, s, d in layers])


def summed_jump(layers):
    size, jump = 1, 1
    for k, s, d in layers:
        size += d * (k - 1) * jump
        jump += s
    return size, jump


@pytest.mark.parametrize("wrong,words", [
    (no_jump, "times the jump"),
    (jump_first, "*before* it"),
    (no_dilation, "k' = d (k - 1) + 1"),
    (summed_jump, "*product* of the strides"),
    (lambda layers: rf_recurrence(layers)[0], "return a pair"),
    (lambda layers: (rf_recurrence(layers)[0] + 1, rf_recurrence(layers)[1]), "the jump is right"),
    (lambda layers: rf_recurrence([layer for layer in layers if layer[0] > 1]), "stride still multiplies"),
])
def test_rf_recurrence_mistakes(wrong, words, expect_failure):
    expect_failure(check_rf_recurrence, wrong, words)


@pytest.mark.parametrize("wrong,words", [
    (lambda i, r, j, p: (i * j, i * j + r - 1), "ignored the padding"),
    (lambda i, r, j, p: (i * j - p, i * j - p + r), "off by one"),
    (lambda i, r, j, p: (i * j + p, i * j + p + r - 1), "subtract it"),
    (lambda i, r, j, p: (i * r - p, i * r - p + r - 1), "one *jump* apart"),
    (lambda i, r, j, p: [i * j - p, i * j - p + r - 1], "expected"),
])
def test_input_region_mistakes(wrong, words, expect_failure):
    expect_failure(check_input_region, wrong, words)


@pytest.mark.parametrize("wrong,words", [
    (lambda blocks: rf_recurrence([(3, 1, 1)] * sum(blocks))[0], "pooling layers count too"),
    (lambda blocks: rf_recurrence([l for n in blocks for l in [(3, 1, 1)] * n + [(1, 2, 1)]])[0],
     "widens the receptive field"),
    (lambda blocks: rf_recurrence([l for n in blocks for l in [(2, 2, 1)] + [(3, 1, 1)] * n])[0],
     "the convolutions come first"),
    (lambda blocks: 212, "expected"),
])
def test_vgg_stack_rf_mistakes(wrong, words, expect_failure):
    expect_failure(check_vgg_stack_rf, wrong, words)
