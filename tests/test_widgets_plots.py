import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils.convolution import conv2d  # noqa: E402
from course_utils.kernels import KERNELS  # noqa: E402
from course_utils.plots import show_images, show_kernel, signed_limit  # noqa: E402
from course_utils.widgets import ConvExplorer, parse_kernel  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image():
    return np.random.default_rng(0).random((20, 17))


def test_explorer_follows_kernel_stride_and_padding():
    explorer = ConvExplorer(image(), initial="sobel x")
    expected = conv2d(image()[None, None], KERNELS["sobel x"][None, None])[0, 0]
    np.testing.assert_allclose(explorer.feature_map, expected)
    explorer.stride.value, explorer.padding.value = 2, 1
    explorer.preset.value = "sharpen"
    expected = conv2d(image()[None, None], KERNELS["sharpen"][None, None], stride=2, padding=1)[0, 0]
    np.testing.assert_allclose(explorer.feature_map, expected)
    assert explorer.feature_map.shape == (10, 9)


def test_explorer_accepts_typed_weights_and_explains_bad_ones():
    explorer = ConvExplorer(image())
    explorer.text.value = "1, 2\n3 4"
    np.testing.assert_allclose(explorer.feature_map,
                               conv2d(image()[None, None], np.array([[[[1.0, 2], [3, 4]]]]))[0, 0])
    explorer.text.value = "1 2\n3"
    assert explorer.feature_map is None and "same number of values" in explorer.message
    explorer.text.value = "\n".join(["1 " * 25] * 25)
    assert explorer.feature_map is None and "does not fit" in explorer.message


@pytest.mark.parametrize("text,words", [("", "empty"), ("1 x", "could not read"), ("1 2\n3", "same number")])
def test_parse_kernel_errors(text, words):
    with pytest.raises(ValueError, match=words):
        parse_kernel(text)


def test_show_images_draws_one_axis_per_image_with_titles():
    fig = show_images([np.zeros((4, 4)), np.ones((3, 4, 4)), -np.ones((4, 4))],
                      titles=["a", "b", "c"], signed=False)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled == ["a", "b", "c"]


def test_signed_limit_ignores_a_few_outliers():
    values = np.ones(1000)
    values[0] = 1000.0
    assert signed_limit(values) == 1.0
    assert signed_limit(np.zeros(5)) == 1.0


def test_show_kernel_writes_every_weight():
    ax = show_kernel(np.array([[0.5, -1.0], [0.0, 1e-9]]))
    assert sorted(t.get_text() for t in ax.texts) == ["-1", "0", "0.5", "≈0"]


def test_receptive_field_explorer_follows_the_sliders():
    from course_utils.widgets import ReceptiveFieldExplorer
    explorer = ReceptiveFieldExplorer(np.zeros((28, 28)))
    assert explorer.rf.size == (7, 7) and explorer.counts.sum() == 9 ** 3  # 729 paths, 49 pixels
    assert (explorer.counts > 0).sum() == 49 and explorer.row.max == 21
    explorer.layers[1]["stride"].value = 2
    assert explorer.rf.size == (9, 9) and explorer.rf.stride == (2, 2) and explorer.row.max == 9
    explorer.row.value, explorer.col.value = 5, 4
    rows, cols = np.nonzero(explorer.counts)
    assert explorer.rf.region(5, 4) == ((rows.min(), rows.max()), (cols.min(), cols.max()))


def test_receptive_field_explorer_fits_a_1000px_high_window():
    from course_utils.widgets import ReceptiveFieldExplorer
    explorer = ReceptiveFieldExplorer(np.zeros((28, 28)))
    assert explorer.widget.children == (explorer.controls, explorer.output)  # side by side
    width, height = explorer.figure.get_size_inches() * explorer.figure.dpi
    assert explorer.figure.dpi >= 100 and height <= 500
    sliders = explorer.sliders()
    headings = [c for c in explorer.controls.children if c not in sliders]
    assert len(sliders) == 11 and len(headings) == 4
    # an ipywidgets slider row is about 32 px high (28 px and margins), a heading 24 px here
    assert 32 * len(sliders) + 24 * len(headings) <= 500
    assert {s.style.description_width for s in sliders} == {"70px"}  # the tracks line up
    assert all(int(s.layout.width.removesuffix("px")) >= 250 for s in sliders)  # long enough to drag


def test_receptive_field_explorer_explains_a_stack_too_big_for_the_image():
    from course_utils.widgets import ReceptiveFieldExplorer
    explorer = ReceptiveFieldExplorer(np.zeros((28, 28)))
    for layer in explorer.layers:
        layer["kernel"].value, layer["dilation"].value = 7, 3
    assert explorer.rf is None and "is smaller than the kernel span" in explorer.message
    assert "layer" in explorer.message


def test_explorer_controls_sit_above_the_figure_with_long_sliders_and_aligned_labels():
    from course_utils.widgets import conv_explorer
    explorer = ConvExplorer(image())
    assert explorer.widget.children[-1] is explorer.output  # controls first, the figure below them
    controls = (explorer.preset, explorer.text, explorer.stride, explorer.padding)
    assert {c.style.description_width for c in controls} == {conv_explorer.LABEL_WIDTH}
    for control in controls:
        assert int(control.layout.width.removesuffix("px")) >= 300
    # the figure and about 200 px of controls fit a 1000-px-high window
    width_in, height_in = conv_explorer.FIGSIZE
    assert conv_explorer.DPI >= 100 and height_in * conv_explorer.DPI + 200 <= 1000
    assert width_in * conv_explorer.DPI <= 1000
