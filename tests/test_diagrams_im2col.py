"""course_utils.diagrams.im2col: the numbers drawn are im2col's and col2im's."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils.convolution import im2col  # noqa: E402
from course_utils.diagrams.im2col import draw_col2im, draw_im2col, overlap_counts, patch_columns  # noqa: E402
from course_utils.numpy_cnn import conv2d_backward  # noqa: E402

SIZES = [(4, 3, 1), (5, 3, 2), (4, 2, 2), (3, 3, 1)]


@pytest.mark.parametrize("input_size,kernel_size,stride", SIZES)
def test_patch_columns_are_im2cols_matrix_of_the_pixel_numbers(input_size, kernel_size, stride):
    numbers = np.arange(input_size ** 2, dtype=float).reshape(1, 1, input_size, input_size)
    expected = im2col(numbers, kernel_size, stride)
    np.testing.assert_array_equal(patch_columns(input_size, kernel_size, stride), expected)


@pytest.mark.parametrize("input_size,kernel_size,stride", SIZES)
def test_overlap_counts_are_col2im_of_ones(input_size, kernel_size, stride):
    # dx of a conv with an all-ones filter and all-ones upstream gradient counts the patches per pixel
    x = np.zeros((1, 1, input_size, input_size))
    side = (input_size - kernel_size) // stride + 1
    dx, _, _ = conv2d_backward(np.ones((1, 1, side, side)), x, np.ones((1, 1, kernel_size, kernel_size)),
                               stride=stride)
    np.testing.assert_array_equal(overlap_counts(input_size, kernel_size, stride), dx[0, 0])


def test_the_default_example_has_a_centre_covered_four_times():
    np.testing.assert_array_equal(overlap_counts(), [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def texts(fig):
    return [text.get_text() for ax in fig.axes for text in ax.texts]


def test_the_im2col_diagram_shows_every_entry_of_the_matrix():
    fig = draw_im2col()
    labels = texts(fig)
    columns = patch_columns()
    # the input's 16 numbers, then the matrix's 36 entries, each as drawn
    for value in columns.ravel():
        assert str(value) in labels
    assert labels.count("5") == 1 + np.sum(columns == 5)  # once in the input, once per patch holding it
    assert "cols (9 × 4):\ncolumn = one patch" in labels
    plt.close(fig)


def test_the_col2im_diagram_labels_each_pixel_with_its_count():
    fig = draw_col2im(5, 3, 2)
    labels = texts(fig)
    counts = overlap_counts(5, 3, 2)
    for pixel, count in enumerate(counts.ravel()):
        assert f"{pixel}: {count}" in labels
    assert any("(12: 4 = pixel 12, 4 terms)" in label for label in labels)
    plt.close(fig)


@pytest.mark.parametrize("call,message", [
    (lambda: patch_columns(3, 4), "does not fit"),
    (lambda: patch_columns(0, 1), "input_size must be a positive int"),
    (lambda: patch_columns(4, 3, 1.5), "stride must be a positive int"),
    (lambda: patch_columns(8, 3), "too many to draw"),
])
def test_bad_sizes_raise_a_value_error_that_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
