"""The pooling explorer's state follows its sliders (no browser needed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils.convolution import conv2d  # noqa: E402
from course_utils.pooling import avg_pool2d, cross_channel_max, max_pool2d  # noqa: E402
from course_utils.transforms import glyph_image, rotate_image, shift_image  # noqa: E402
from course_utils.widgets import PoolingExplorer, relative_change  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def five_and_bank(K=4):
    image = np.pad(glyph_image("5", 11), 5)  # 21 x 21
    template = np.pad(glyph_image("5", 11), 1)  # 13 x 13
    filters = np.stack([rotate_image(template, 360 * k / K) for k in range(K)])
    return image, filters - filters.mean(axis=(1, 2), keepdims=True)


def pipeline(image, filters):
    return np.maximum(conv2d(image[None, None], filters[:, None], padding=6), 0)


def test_untransformed_input_changes_nothing():
    image, filters = five_and_bank()
    explorer = PoolingExplorer(image, filters)
    assert set(explorer.changes.values()) == {0.0}
    np.testing.assert_allclose(explorer.feature_maps, pipeline(image, filters)[0])
    assert explorer.spatially_pooled.shape == (4, 10, 10)  # window 2 by default
    assert explorer.cross_pooled.shape == (1, 21, 21)
    assert explorer.both_pooled.shape == (1, 10, 10)


def test_shift_updates_every_stage():
    image, filters = five_and_bank()
    explorer = PoolingExplorer(image, filters)
    explorer.dx.value = 2
    explorer.window.value = 4
    maps = pipeline(shift_image(image, 0, 2), filters)
    np.testing.assert_allclose(explorer.transformed, shift_image(image, 0, 2))
    np.testing.assert_allclose(explorer.spatially_pooled, max_pool2d(maps, 4)[0])
    np.testing.assert_allclose(explorer.both_pooled, max_pool2d(cross_channel_max(maps, 4), 4)[0])
    reference = max_pool2d(pipeline(image, filters), 4)[0]
    assert explorer.changes["spatially pooled"] == pytest.approx(
        relative_change(max_pool2d(maps, 4)[0], reference))
    assert explorer.changes["spatially pooled"] < explorer.changes["feature maps"]
    explorer.mode.value = "avg"
    np.testing.assert_allclose(explorer.spatially_pooled, avg_pool2d(maps, 4)[0])


def test_rotation_by_a_sampled_angle_leaves_cross_channel_pooling_nearly_unchanged():
    image, filters = five_and_bank(K=4)
    explorer = PoolingExplorer(image, filters)
    explorer.angle.value = 90
    np.testing.assert_allclose(explorer.transformed, rotate_image(image, 90), atol=1e-9)
    assert explorer.changes["feature maps"] > 0.5
    assert explorer.changes["cross-channel pooled"] > 0.3  # the map turns with the input
    assert explorer.changes["global max per map"] > 0.3  # the channels swap roles
    assert explorer.changes["cross-channel + global max"] < 1e-6  # invariant: the bank covers 90°
    assert "cross-channel pooled" in explorer.summary()


def test_group_size_and_bad_filters():
    image, filters = five_and_bank(K=4)
    assert PoolingExplorer(image, filters, group_size=2).cross_pooled.shape == (2, 21, 21)
    with pytest.raises(ValueError, match="odd"):
        PoolingExplorer(image, np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        PoolingExplorer(image[None], filters)


def test_relative_change():
    assert relative_change(np.array([3.0, 4.0]), np.array([0.0, 0.0])) == 1.0
    assert relative_change(np.array([1.0, 1.0]), np.array([1.0, 0.0])) == pytest.approx(1.0)
    assert relative_change(np.zeros(2), np.zeros(2)) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        relative_change(np.zeros(2), np.zeros(3))


def test_layout_fits_a_window_1000_pixels_high():
    image, filters = five_and_bank(K=8)
    explorer = PoolingExplorer(image, filters)
    controls, output = explorer.widget.children
    assert output is explorer.output
    columns = controls.children
    assert max(len(column.children) for column in columns) <= 3  # controls: three rows high
    all_controls = [c for column in columns for c in column.children]
    assert {c.style.description_width for c in all_controls} == {"80px"}  # labels line up
    for slider in (explorer.dy, explorer.dx, explorer.angle):
        assert int(slider.layout.width.removesuffix("px")) >= 400  # a track long enough to drag
    width, height = explorer.figure.get_size_inches() * explorer.figure.dpi
    assert explorer.figure.dpi >= 100
    assert height <= 400 and width <= 1000
    text_lines = 1 + len(explorer.changes)  # a header, then one line per stage
    # controls (3 rows of about 32 px) + text (about 17 px a line) + figure, with room to spare
    assert 3 * 32 + 17 * text_lines + height <= 700
