"""Lesson 01's static diagrams draw what their captions say: counts of cells, filters and maps."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_utils.diagrams.convolution import filter_bank_figure, sliding_window_figure  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def patches(ax, gid):
    return [p for p in ax.patches if p.get_gid() == gid]


def texts(fig):
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts) + " ".join(
        t.get_text() for t in fig.texts)


def test_sliding_window_draws_padding_pixels_and_the_output_grid():
    fig = sliding_window_figure(size=5, kernel_size=3, padding=1, stride=2, positions=[(0, 0), (1, 2)])
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert len(patches(ax, "pixel")) == 25
        assert len(patches(ax, "padding")) == 7 * 7 - 25
        assert len(patches(ax, "output")) == 9  # (5 + 2 - 3) // 2 + 1 = 3 per axis
        paddings = {p.get_facecolor() for p in patches(ax, "padding")}
        pixels = {p.get_facecolor() for p in patches(ax, "pixel")}
        assert len(paddings) == len(pixels) == 1 and paddings != pixels  # padding looks different
    assert "stride 2" in fig._suptitle.get_text() and "padding 1" in fig._suptitle.get_text()


@pytest.mark.parametrize("position", [(0, 0), (1, 2), (2, 1)])
def test_the_window_sits_at_stride_times_the_output_index(position):
    fig = sliding_window_figure(size=5, kernel_size=3, padding=1, stride=2, positions=[position])
    ax = fig.axes[0]
    (window,) = patches(ax, "window")
    i, j = position
    assert window.get_width() == window.get_height() == 3
    assert window.get_x() == 2 * j
    assert window.get_y() + 3 == 7 - 2 * i  # row 0 at the top of the 7 x 7 padded grid
    current = [p for p in patches(ax, "output") if p.get_facecolor() == matplotlib.colors.to_rgba("#d62728")]
    assert len(current) == 1  # exactly one output cell is being computed


def test_default_positions_and_the_size_label_follow_the_arguments():
    fig = sliding_window_figure(size=6, kernel_size=2, padding=0, stride=1)
    assert len(fig.axes) == 4
    assert "output 5×5" in texts(fig) and "padded input 6×6" in texts(fig)
    assert not patches(fig.axes[0], "padding")


def test_sliding_window_refuses_what_cannot_be_drawn():
    with pytest.raises(ValueError, match="does not fit"):
        sliding_window_figure(size=2, kernel_size=5, padding=0)
    with pytest.raises(ValueError, match=r"outside the 3×3 output"):
        sliding_window_figure(positions=[(3, 0)])


def test_filter_bank_has_one_filter_and_one_map_per_filter():
    fig = filter_bank_figure(channels=3, size=7, kernel_size=3, n_filters=4)
    (ax,) = fig.axes
    for f in range(4):
        assert len(patches(ax, f"filter-{f}")) == 3  # a box: front, top and side faces
        assert len(patches(ax, f"map-{f}")) == 3
    assert not patches(ax, "filter-4") and not patches(ax, "map-4")
    words = texts(fig)
    assert "3×7×7" in words and "4×5×5" in words and "3×3×3" in words


def test_filter_bank_window_spans_the_whole_depth():
    fig = filter_bank_figure(channels=5, size=6, kernel_size=3, n_filters=2)
    ax = fig.axes[0]
    front_input, front_window = patches(ax, "input")[0], patches(ax, "window")[0]
    top_input, top_window = patches(ax, "input")[1], patches(ax, "window")[1]
    # the top faces of the input and of the window recede by the same depth (all 5 channels)
    depth = lambda top, front: top.get_xy()[2][0] - front.get_xy()[1][0]  # noqa: E731
    assert depth(top_window, front_window) == pytest.approx(depth(top_input, front_input))
    assert "5×6×6" in texts(fig) and "2×4×4" in texts(fig)


def test_filter_bank_refuses_bad_arguments():
    with pytest.raises(ValueError, match="n_filters"):
        filter_bank_figure(n_filters=0)
    with pytest.raises(ValueError, match="does not fit"):
        filter_bank_figure(size=2, kernel_size=3)
    with pytest.raises(ValueError, match="outside"):
        filter_bank_figure(size=5, kernel_size=3, position=(3, 0))
