"""Lesson 03's checks accept the reference and explain each typical wrong answer."""

import numpy as np
import pytest

from course_utils import checks, pooling
from course_utils.checks import CheckFailed


@pytest.mark.parametrize("check", [checks.check_max_pool2d_single, checks.check_avg_pool2d,
                                   checks.check_cross_channel_max])
def test_unfinished_exercises_are_named(check, stub, expect_failure):
    expect_failure(check, stub, "not implemented yet")


# --- max_pool2d_single ---

def max_single(image, k):
    return pooling.max_pool2d(image[None, None], k)[0, 0]


def max_stride_1(image, k):
    return pooling.max_pool2d(image[None, None], k, 1)[0, 0]


def max_ceil_mode(image, k):
    H, W = image.shape
    padded = np.pad(image, ((0, -H % k), (0, -W % k)), constant_values=-np.inf)
    return max_single(padded, k)


def max_loop_off_by_one(image, k):
    out = max_single(image, k)
    return out[:-1, :-1]


def max_rows_only(image, k):
    H, W = image.shape
    return image[:, :W // k * k].reshape(H, W // k, k).max(axis=2)


def test_max_pool2d_single_accepts_the_reference(capsys):
    checks.check_max_pool2d_single(max_single)
    assert capsys.readouterr().out.startswith("✓")


@pytest.mark.parametrize("wrong,words", [
    (max_stride_1, "stride 1"),
    (max_ceil_mode, "partial windows"),
    (max_loop_off_by_one, "off by one"),
    (max_rows_only, "one axis only"),
    (lambda image, k: image.max(), "whole image"),
    (lambda image, k: pooling.avg_pool2d(image[None, None], k)[0, 0], "you averaged"),
    (lambda image, k: pooling.avg_pool2d(image[None, None], k)[0, 0] * k * k, "you summed"),
    (lambda image, k: -max_single(-image, k), "minimum"),
    (lambda image, k: max_single(np.abs(image), k), "absolute value"),
    (lambda image, k: max_single(image, k).T, "swapped"),
    (lambda image, k: max_single(image, k) + 1, "at index (0, 0)"),
    (lambda image, k: None, "forget the `return`"),
    (lambda image, k: "a string", "numpy array of numbers"),
])
def test_max_pool2d_single_explains_wrong_answers(wrong, words, expect_failure):
    expect_failure(checks.check_max_pool2d_single, wrong, words)


# --- avg_pool2d ---

def avg_reshape(x, k):
    N, C, H, W = x.shape
    Ho, Wo = H // k, W // k
    return x[:, :, :Ho * k, :Wo * k].reshape(N, C, Ho, k, Wo, k).mean(axis=(3, 5))


def avg_strided_grouping(x, k):
    N, C, H, W = x.shape
    Ho, Wo = H // k, W // k
    return x[:, :, :Ho * k, :Wo * k].reshape(N, C, k, Ho, k, Wo).mean(axis=(2, 4))


def avg_ceil_mode(x, k):
    H, W = x.shape[2:]
    out = np.empty(x.shape[:2] + (-(-H // k), -(-W // k)))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k].mean(axis=(2, 3))
    return out


def test_avg_pool2d_accepts_the_reference_and_a_reshape_solution(capsys):
    checks.check_avg_pool2d(lambda x, k: pooling.avg_pool2d(x, k))
    checks.check_avg_pool2d(avg_reshape)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("wrong,words", [
    (lambda x, k: x.mean(axis=1), "averaged over the channels"),
    (lambda x, k: x.mean(axis=1, keepdims=True), "averaged over the channels"),
    (lambda x, k: x.mean(axis=(2, 3)), "global average pooling"),
    (lambda x, k: pooling.avg_pool2d(x, k, 1), "stride 1"),
    (avg_ceil_mode, "partial windows"),
    (lambda x, k: avg_reshape(x, k)[:, :, :-1, :-1], "off by one"),
    (lambda x, k: avg_reshape(x, k)[0], "only the first image"),
    (lambda x, k: pooling.max_pool2d(x, k), "maximum of each window"),
    (lambda x, k: avg_reshape(x, k) * k * k, "you summed"),
    (lambda x, k: avg_reshape(x, k) * k, "divided by k instead of k * k"),
    (avg_strided_grouping, "not blocks of neighbouring pixels"),
    (lambda x, k: avg_reshape(x, k) + 0.5, "at index (0, 0, 0, 0)"),
    (lambda x, k: None, "forget the `return`"),
    (lambda x, k: avg_reshape(x, k) if k > 1 else x.mean(axis=(2, 3), keepdims=True), "k = 1"),
    (lambda x, k: x.reshape(*x.shape[:2], x.shape[2] // k, k, x.shape[3] // k, k).mean(axis=(3, 5)),
     "crop x to (H // k) * k rows"),
])
def test_avg_pool2d_explains_wrong_answers(wrong, words, expect_failure):
    expect_failure(checks.check_avg_pool2d, wrong, words)


# --- cross_channel_max ---

def ccm(maps, g):
    return pooling.cross_channel_max(maps[None], g)[0]


def test_cross_channel_max_accepts_the_reference(capsys):
    checks.check_cross_channel_max(ccm)
    assert capsys.readouterr().out.startswith("✓")


@pytest.mark.parametrize("wrong,words", [
    (lambda maps, g: maps.reshape(g, -1, *maps.shape[1:]).max(axis=0), "wrong grouping"),
    (lambda maps, g: maps.reshape(-1, g, *maps.shape[1:]).mean(axis=1), "averaged"),
    (lambda maps, g: maps.reshape(g, -1, *maps.shape[1:]).max(axis=1), "groups"),
    (lambda maps, g: maps.max(axis=0), "all channels at once"),
    (lambda maps, g: pooling.max_pool2d(maps[None], g)[0], "pooled over space"),
    (lambda maps, g: np.stack([maps[c:c + g].max(axis=0) for c in range(len(maps) - g + 1)]), "stride 1"),
    (lambda maps, g: ccm(np.abs(maps), g), "absolute value"),
    (lambda maps, g: ccm(maps, g) * 2, "at index"),
    (lambda maps, g: ccm(maps, g).squeeze(), "give 1 map, still of shape (1, H, W)"),
    (lambda maps, g: None, "forget the `return`"),
])
def test_cross_channel_max_explains_wrong_answers(wrong, words, expect_failure):
    expect_failure(checks.check_cross_channel_max, wrong, words)


def test_cross_channel_max_says_which_groups_when_they_are_too_many():
    with pytest.raises(CheckFailed, match="you made 3 groups"):
        checks.check_cross_channel_max(lambda maps, g: maps.reshape(g, -1, *maps.shape[1:]).max(axis=1))


def test_cross_channel_max_across_groups():
    # max over axis 0 of (C // g, g, ...) gives g maps: for C = 4, g = 2 it is the strided grouping,
    # for C = 6, g = 3 the shape tells it apart.
    with pytest.raises(CheckFailed, match="grouping|across the groups"):
        checks.check_cross_channel_max(lambda maps, g: maps.reshape(-1, g, *maps.shape[1:]).max(axis=0))
