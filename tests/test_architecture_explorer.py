"""The architecture explorer of lesson 07 follows its controls (no browser needed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from course_utils.architectures import build, count_macs, count_parameters, layer_table  # noqa: E402
from course_utils.architectures.resnet_small import ResNetSmall  # noqa: E402
from course_utils.widgets import ArchitectureExplorer  # noqa: E402
from course_utils.widgets.architecture_explorer import (  # noqa: E402
    DEPTHS,
    TABLE_ROWS,
    build_small,
    main_path_receptive_fields,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def built(name):
    with torch.device("meta"):
        return build(name)


def hand_parameters(depth, width):
    """Parameters of the option-A ResNet (1 input channel, 10 classes) counted by hand: convs have
    no bias, every conv is followed by a BN (2 parameters a channel), the shortcuts have none."""
    n = (depth - 2) // 6
    total = 9 * width + 2 * width  # stem
    in_channels = width
    for stage_width in (width, 2 * width, 4 * width):
        total += 9 * in_channels * stage_width + 9 * stage_width ** 2 + 4 * stage_width  # first block
        total += (n - 1) * (18 * stage_width ** 2 + 4 * stage_width)
        in_channels = stage_width
    return total + 4 * width * 10 + 10  # fc


@pytest.mark.parametrize("family,depth,name", [
    ("ResNet", 20, "resnet20"), ("plain", 32, "plain32"), ("ResNet", 56, "resnet56"),
    ("alexnet_small", 20, "alexnet_small"), ("vgg_small", 20, "vgg_small"),
    ("googlenet_small", 20, "googlenet_small")])
def test_totals_are_those_of_the_built_model(family, depth, name):
    explorer = ArchitectureExplorer(family=family, depth=depth)
    model = built(name)
    assert explorer.model_name == name and explorer.message == ""
    assert explorer.summary["parameters"] == count_parameters(model)
    assert explorer.summary["macs"] == count_macs(model, (1, 28, 28))
    assert sum(row.parameters for row in explorer.rows) == count_parameters(model)
    assert explorer.rows == layer_table(model, (1, 28, 28))


def test_sliders_change_the_model_and_paper_width_is_the_registry_model():
    explorer = ArchitectureExplorer()
    assert explorer.summary["parameters"] == 269_434  # the docstring's ResNet-20 with 1 channel
    explorer.depth.value = 44
    assert explorer.model_name == "resnet44"
    assert explorer.summary["parameters"] == count_parameters(built("resnet44"))
    explorer.width.value = 32
    assert explorer.model_name == "resnet44-w32"
    assert explorer.summary["parameters"] == hand_parameters(44, 32)
    assert explorer.rows[-1].output_shape == (10,)
    assert [r.output_shape for r in explorer.rows if r.name == "stage3.6.conv2"] == [(128, 7, 7)]


@pytest.mark.parametrize("depth,width", [(8, 8), (20, 16), (20, 48), (110, 64)])
def test_resnet_small_width_matches_the_hand_count(depth, width):
    with torch.device("meta"):
        model = ResNetSmall(depth, width=width)
    assert count_parameters(model) == hand_parameters(depth, width)
    assert all(p.is_meta for p in model.parameters())  # nothing allocated


def test_width_16_is_the_papers_resnet_small():
    for shortcut, name in (("A", "resnet32"), ("none", "plain32")):
        with torch.device("meta"):
            model = ResNetSmall(32, shortcut=shortcut, width=16)
        assert layer_table(model, (1, 28, 28)) == layer_table(built(name), (1, 28, 28))


def test_weighted_layers_are_counted_like_the_paper():
    explorer = ArchitectureExplorer(depth=20)
    assert explorer.summary["weighted_layers"] == 20
    explorer.family.value = "plain"
    assert explorer.summary["weighted_layers"] == 20
    explorer.depth.value = 8
    assert explorer.summary["weighted_layers"] == 8
    explorer.family.value = "alexnet_small"
    assert explorer.summary["weighted_layers"] == 8  # 5 conv + 3 linear
    explorer.family.value = "vgg_small"
    assert explorer.summary["weighted_layers"] == 9  # 6 conv + 3 linear


def test_receptive_field_of_depth_8_by_hand():
    # stem 3; stage 1: +2, +2; stage 2: +2 (stride 2: jump 2), +4; stage 3: +4 (jump 4), +8
    explorer = ArchitectureExplorer(depth=8)
    assert list(explorer.receptive_fields.values()) == [3, 5, 7, 9, 13, 17, 25]
    assert list(explorer.receptive_fields) == ["conv1", "stage1.0.conv1", "stage1.0.conv2",
                                               "stage2.0.conv1", "stage2.0.conv2", "stage3.0.conv1",
                                               "stage3.0.conv2"]
    assert explorer.summary["receptive_field"] == 25
    assert "receptive field of the last conv 25 px" in explorer.summary_text()


@pytest.mark.parametrize("family", ["ResNet", "plain"])
def test_receptive_field_grows_as_28n_minus_3_with_or_without_shortcuts(family):
    for depth in DEPTHS:
        fields = main_path_receptive_fields(build_small(family, depth))
        assert len(fields) == depth - 1  # every conv; the fc has no receptive field of its own
        assert list(fields.values())[-1] == 28 * (depth - 2) // 6 - 3
    assert main_path_receptive_fields(build_small(family, 20, width=64)) == \
        main_path_receptive_fields(build_small(family, 20))  # width does not change it


def test_explorer_shows_the_receptive_field_of_depth_110():
    explorer = ArchitectureExplorer(depth=110, width=64)
    assert explorer.summary["receptive_field"] == 28 * 18 - 3
    assert explorer.summary["weighted_layers"] == 110
    assert explorer.summary["parameters"] == hand_parameters(110, 64)
    assert explorer.summary["macs"] == count_macs(build_small("ResNet", 110, 64), (1, 28, 28))


def test_receptive_field_of_depth_8_equals_the_pixels_autograd_reaches():
    """With all-ones conv weights and a positive input no ReLU blocks a gradient, so the input
    pixels one unit of the last stage depends on are its receptive field, shortcuts included."""
    model = ResNetSmall(8).double().eval()
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.ones_(module.weight)
    x = torch.ones(1, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    out = model.stage3(model.stage2(model.stage1(model.relu(model.bn1(model.conv1(x))))))
    out[0, 0, 3, 3].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    assert rows.max() - rows.min() + 1 == ArchitectureExplorer(depth=8).summary["receptive_field"]


def test_fixed_models_disable_depth_and_width():
    explorer = ArchitectureExplorer()
    assert not explorer.depth.disabled and not explorer.width.disabled
    explorer.family.value = "vgg_small"
    assert explorer.depth.disabled and explorer.width.disabled
    assert explorer.model_name == "vgg_small" and explorer.summary["receptive_field"] == 32
    explorer.width.value = 64  # ignored while disabled
    assert explorer.summary["parameters"] == count_parameters(built("vgg_small"))
    explorer.family.value = "googlenet_small"
    assert explorer.summary["receptive_field"] is None and explorer.receptive_fields == {}
    assert "not computed" in explorer.summary_text()
    explorer.family.value = "plain"
    assert not explorer.depth.disabled and explorer.model_name == "plain20-w64"


def test_invalid_choice_explains_and_keeps_the_last_picture():
    explorer = ArchitectureExplorer(depths=(20, 21), widths=(0, 32, 16))
    figure, rows, summary = explorer.figure, explorer.rows, explorer.summary
    explorer.depth.value = 21
    assert "6n + 2" in explorer.message and "Pick another depth" in explorer.message
    assert explorer.message in explorer.caption.value
    assert (explorer.figure, explorer.rows, explorer.summary) == (figure, rows, summary)
    assert explorer.model_name == "resnet20"
    explorer.depth.value = 20
    explorer.width.value = 0
    assert "width must be a positive integer" in explorer.message
    explorer.width.value = 32
    assert explorer.message == "" and explorer.model_name == "resnet20-w32"
    assert explorer.figure is not figure


def test_build_small_rejects_an_unknown_family():
    with pytest.raises(ValueError, match="family must be one of 'ResNet', 'plain'"):
        build_small("resnet")


def test_figure_shows_one_bar_per_weighted_layer_on_log_scales():
    explorer = ArchitectureExplorer(depth=8)
    params, macs, field = explorer.figure.axes
    assert params.get_yscale() == macs.get_yscale() == "log"
    assert len(params.patches) == len(macs.patches) == 8  # 7 convs + fc
    assert [bar.get_height() for bar in macs.patches] == [r.macs for r in explorer.rows if r.macs]
    assert list(field.lines[0].get_ydata()) == [3, 5, 7, 9, 13, 17, 25]


def test_table_shows_the_top_rows_with_parameters():
    explorer = ArchitectureExplorer(depth=20)
    text = explorer.table_text()
    assert text.splitlines()[0].split()[:2] == ["layer", "type"]
    assert "269,434" in text.splitlines()[-1]  # the whole table, with its total
    explorer.depth.value = 110
    lines = explorer.table_text().splitlines()
    assert len(lines) == 2 + TABLE_ROWS + 1 and "more layers with parameters" in lines[-1]
    assert "BatchNorm2d" in lines[3] and "ReLU" not in "\n".join(lines)  # rows with parameters


def test_layout_fits_a_window_1000_pixels_high():
    explorer = ArchitectureExplorer()
    controls, right = explorer.widget.children
    assert controls is explorer.controls  # the controls left of the figure
    assert right.children == (explorer.caption, explorer.output, explorer.table)
    sliders = controls.children
    assert {c.style.description_width for c in sliders} == {"60px"}  # the tracks line up
    assert all(int(c.layout.width.removesuffix("px")) >= 300 for c in sliders)  # long enough to drag
    width, height = explorer.figure.get_size_inches() * explorer.figure.dpi
    assert explorer.figure.dpi >= 100 and height <= 500 and 300 + width <= 1000
    table = int(explorer.table.layout.height.removesuffix("px"))
    assert explorer.table.layout.overflow == "auto"  # the table scrolls inside its box
    caption = int(explorer.caption.layout.height.removesuffix("px"))
    assert caption + height + table + 3 * 8 <= 1000  # with margins between the three
    assert 32 * len(sliders) <= height  # an ipywidgets control row is about 32 px high
