"""Shifts and rotations move content the way the docstrings say, for numpy and torch."""

import numpy as np
import pytest
import torch

from course_utils.transforms import glyph_image, pad_to_canvas, rotate_image, shift_image

RNG = np.random.default_rng(0)


def test_shift_moves_content_down_and_right_with_zero_fill():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    out = shift_image(x, 1, 2)
    np.testing.assert_array_equal(out, [[0, 0, 0, 0], [0, 0, 1, 2], [0, 0, 5, 6]])
    np.testing.assert_array_equal(shift_image(x, 0, 0), x)
    np.testing.assert_array_equal(shift_image(x, -3, 0), np.zeros_like(x))  # everything left
    np.testing.assert_array_equal(shift_image(x, 0, 9), np.zeros_like(x))


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("axis", ["dy", "dx", "both"])
def test_shift_then_shift_back_restores_the_interior(k, axis):
    x = RNG.normal(size=(2, 3, 10, 12))
    dy, dx = {"dy": (k, 0), "dx": (0, k), "both": (k, -k)}[axis]
    back = shift_image(shift_image(x, dy, dx), -dy, -dx)
    inner = (Ellipsis, slice(abs(dy), 10 - abs(dy)), slice(abs(dx), 12 - abs(dx)))
    np.testing.assert_array_equal(back[inner], x[inner])
    lost = np.ones_like(x, dtype=bool)
    lost[inner] = False
    assert np.all(back[lost & (back != x)] == 0)  # what left the frame came back as zeros


def test_shift_keeps_type_dtype_and_batch_axes():
    x = torch.arange(2 * 5 * 5, dtype=torch.float32).reshape(2, 1, 5, 5)
    out = shift_image(x, -1, 1)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == x.shape
    np.testing.assert_array_equal(out.numpy(), shift_image(x.numpy(), -1, 1))


def test_rotation_by_zero_is_the_identity():
    x = RNG.random((3, 9, 7))
    np.testing.assert_allclose(rotate_image(x, 0), x, atol=1e-12)
    np.testing.assert_allclose(rotate_image(x, 360), x, atol=1e-12)


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_rotation_by_multiples_of_90_equals_rot90(quarter_turns):
    x = RNG.random((2, 11, 11))
    np.testing.assert_allclose(rotate_image(x, 90 * quarter_turns),
                               np.rot90(x, quarter_turns, axes=(-2, -1)), atol=1e-9)


@pytest.mark.parametrize("degrees", [90 + 1e-7, -270 - 1e-7])
def test_interpolated_rotation_near_90_agrees_with_rot90(degrees):
    # Off the exact shortcut, affine_grid + grid_sample must land on the same pixels.
    x = RNG.random((2, 12, 12))
    np.testing.assert_allclose(rotate_image(x, degrees), np.rot90(x, 1, axes=(-2, -1)), atol=1e-5)


def test_rotation_of_a_non_square_image_keeps_the_interior_unskewed():
    x = np.zeros((9, 15))
    x[4, 5:10] = 1.0  # a horizontal bar through the centre
    turned = rotate_image(x, 90)
    np.testing.assert_allclose(turned[2:7, 7], np.ones(5), atol=1e-9)  # now a vertical bar
    assert turned.sum() == pytest.approx(5.0)


def test_rotation_is_counter_clockwise_on_screen():
    x = np.zeros((5, 5))
    x[2, 4] = 1.0  # right of the centre
    assert rotate_image(x, 90)[0, 2] == pytest.approx(1.0)  # moves to the top


def test_rotation_interpolates_and_fills_with_zeros():
    x = np.ones((8, 8))
    out = rotate_image(x, 45)
    assert out[4, 4] == pytest.approx(1.0) and out[0, 0] == 0.0  # corners came from outside
    assert 0.0 <= out.min() and out.max() <= 1.0 + 1e-12


def test_rotation_keeps_type_and_dtype():
    x = torch.rand(2, 3, 6, 6)
    out = rotate_image(x, 30)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == x.shape
    out = rotate_image(x.numpy().astype(np.float64), 30)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64


@pytest.mark.parametrize("bad", [np.zeros(5), [[1.0, 2.0]]])
def test_transforms_refuse_bad_input(bad):
    with pytest.raises(ValueError):
        rotate_image(bad, 10)
    with pytest.raises(ValueError):
        shift_image(bad, 1, 1)


def test_glyph_is_a_centred_asymmetric_shape():
    five = glyph_image("5", 15)
    assert five.shape == (15, 15) and 0.0 <= five.min() and five.max() == 1.0
    assert np.all(five[0] == 0) and np.all(five[:, 0] == 0)  # a margin
    assert not np.allclose(five, np.rot90(five, 2))  # a "5" is not symmetric under 180°
    eight = glyph_image("8", 15)
    assert eight[4, 7] < 0.5 < eight[4, 4]  # the holes of an "8" stay empty
    np.testing.assert_array_equal(glyph_image("5", 15), five)  # deterministic


def test_pad_to_canvas_centres_and_keeps_every_pixel_under_shifts():
    images = torch.rand(3, 1, 28, 28) + 0.1          # ink everywhere, up to the frame
    canvas = pad_to_canvas(images, 36)
    assert canvas.shape == (3, 1, 36, 36) and canvas.dtype == images.dtype
    torch.testing.assert_close(canvas[..., 4:32, 4:32], images)
    assert canvas.sum() == pytest.approx(images.sum().item(), rel=1e-6)
    for dy, dx in [(4, 4), (-4, 4), (4, -4), (-4, -4), (0, 4)]:
        moved = shift_image(canvas, dy, dx)
        torch.testing.assert_close(moved.sum((-1, -2)), canvas.sum((-1, -2)))
    assert shift_image(images, 4, 0).sum() < images.sum()   # the 28×28 frame cuts instead
    np.testing.assert_array_equal(pad_to_canvas(np.ones((2, 2)), 3), [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("size", [27, 28.0, True, "36"])
def test_pad_to_canvas_rejects_a_size_that_cannot_hold_the_image(size):
    if size == 27:
        with pytest.raises(ValueError, match="at least as large as the images"):
            pad_to_canvas(torch.zeros(1, 28, 28), size)
    else:
        with pytest.raises(ValueError, match="size must be an integer"):
            pad_to_canvas(torch.zeros(1, 28, 28), size)
