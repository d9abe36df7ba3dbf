"""The unit explorer of lesson 09 follows its controls (no browser needed): "Visualise" runs
course_utils.interpret.maximize_activation once per setting, and the top images are the images
with the largest activation of the unit."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from course_utils.interpret import maximize_activation  # noqa: E402
from course_utils.widgets import UnitExplorer  # noqa: E402
from course_utils.widgets import unit_explorer as module  # noqa: E402
from course_utils.widgets.unit_explorer import PRIORS, relu_layers, unit_means  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = 12
IMAGES = torch.rand(20, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(0))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def small_net(seed=0):
    """1×12×12 -> 5 logits: conv, ReLU, pool, conv, ReLU, flatten, linear, ReLU, linear (eval mode)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(6 * 6 * 6, 8), nn.ReLU(), nn.Linear(8, 5)).eval()


@pytest.fixture
def calls(monkeypatch):
    """The arguments of every maximize_activation the explorer runs (it still runs)."""
    seen = []

    def counted(*args, **kwargs):
        seen.append((args, kwargs))
        return maximize_activation(*args, **kwargs)

    monkeypatch.setattr(module, "maximize_activation", counted)
    return seen


def explorer_for(model=None, **controls):
    explorer = UnitExplorer(model or small_net(), IMAGES)
    for name, value in controls.items():
        getattr(explorer, name).value = value
    return explorer


def test_layers_are_the_conv_relus_and_logits():
    explorer = explorer_for()
    assert explorer.layer.options == ("1", "4", "logits")
    assert explorer.units == {"1": 4, "4": 6, "logits": 5}
    assert explorer.unit.max == 3 and explorer.unit.description == "unit"
    explorer.layer.value = "logits"
    assert explorer.unit.max == 4 and explorer.unit.description == "class"


def test_relu_layers_skips_linear_and_unused_relus():
    model = small_net()
    model.spare = nn.ReLU()  # never called
    assert relu_layers(model, IMAGES[0]) == ["1", "4"]


def test_nothing_is_optimised_before_the_button_but_the_top_images_show(calls):
    explorer = explorer_for(layer="4", unit=2, steps=64)
    assert calls == [] and explorer.result is None
    assert "Press Visualise" in explorer.caption.value
    placeholder, *tops = explorer.figure.axes
    assert not placeholder.images and "press Visualise" in placeholder.texts[0].get_text()
    assert placeholder.get_title() == "priors L2 + TV + jitter, 64 steps"
    expected = unit_means(explorer.model, "4", IMAGES)[:, 2].topk(6)
    assert explorer.top_indices == expected.indices.tolist()
    assert [ax.get_title() for ax in tops] == [f"#{index}: {value:.3g}" for index, value
                                               in zip(explorer.top_indices, explorer.top_activations)]
    shown = explorer.figure
    explorer.priors.value = "none"
    assert explorer.figure is not shown and explorer.figure.axes[0].get_title().startswith("priors none")


def test_the_button_runs_maximize_activation_with_the_controls(calls):
    model = small_net()
    explorer = explorer_for(model, layer="4", unit=2, steps=32, priors="none")
    explorer.button.click()
    assert len(calls) == 1
    args, kwargs = calls[0]
    assert args == (model, "4", 2) and kwargs["steps"] == 32 and kwargs["regularizers"] == ()
    assert kwargs["size"] == (1, SIZE, SIZE)
    expected = maximize_activation(model, "4", 2, steps=32, regularizers=(), size=(1, SIZE, SIZE))
    assert torch.equal(explorer.result.image, expected.image)
    assert explorer.result.activation == pytest.approx(expected.activation)
    assert not explorer.button.disabled


def test_the_caption_says_running_while_it_optimises(monkeypatch):
    explorer = explorer_for(steps=32)
    captions = []

    def watched(*args, **kwargs):
        captions.append((explorer.caption.value, explorer.button.disabled))
        return maximize_activation(*args, **kwargs)

    monkeypatch.setattr(module, "maximize_activation", watched)
    explorer.button.click()
    assert captions[0][0].startswith("running… 32 steps") and captions[0][1]
    assert "running" not in explorer.caption.value


def test_the_cache_reuses_results_per_setting(calls):
    explorer = explorer_for(layer="1", unit=1, steps=32)
    explorer.button.click()
    first = explorer.result
    explorer.unit.value = 3
    assert explorer.result is None and "Press Visualise" in explorer.caption.value  # not computed
    explorer.button.click()
    second = explorer.result
    assert len(calls) == 2 and second is not first
    explorer.unit.value = 1   # back to a computed setting: shown at once
    assert explorer.result is first and len(calls) == 2
    explorer.button.click()
    assert explorer.result is first and len(calls) == 2
    for control, value in (("priors", "none"), ("steps", 64), ("layer", "logits")):
        getattr(explorer, control).value = value
        explorer.button.click()
    assert len(calls) == 5
    assert set(explorer.cache) == {("1", 1, "L2 + TV + jitter", 32), ("1", 3, "L2 + TV + jitter", 32),
                                   ("1", 1, "none", 32), ("1", 1, "none", 64), ("logits", 1, "none", 64)}


def test_priors_are_maximize_activations_regularizers(calls):
    explorer = explorer_for(steps=32)
    for priors in PRIORS:
        explorer.priors.value = priors
        explorer.button.click()
    assert [kwargs["regularizers"] for _, kwargs in calls] == [("l2", "tv", "jitter"), ()]


@pytest.mark.parametrize("layer, unit", [("1", 0), ("4", 5), ("logits", 3)])
def test_top_images_are_the_true_top_by_mean_activation(layer, unit):
    model = small_net()
    explorer = explorer_for(model, layer=layer, unit=unit, steps=32)
    explorer.button.click()
    with torch.no_grad():
        if layer == "logits":
            scores = model(IMAGES)[:, unit]
        else:
            scores = model[:int(layer) + 1](IMAGES)[:, unit].mean(dim=(1, 2))
    order = scores.argsort(descending=True)[:6]
    assert explorer.top_indices == order.tolist()
    assert explorer.top_activations == pytest.approx(scores[order].tolist(), abs=1e-6)
    assert explorer.top_activations == sorted(explorer.top_activations, reverse=True)


def test_unit_means_in_batches_equal_one_pass():
    model = small_net()
    assert torch.allclose(unit_means(model, "4", IMAGES, batch_size=7), unit_means(model, "4", IMAGES))
    assert unit_means(model, "logits", IMAGES).shape == (20, 5)


def test_figure_shows_the_image_and_the_top_six_with_their_activations():
    explorer = explorer_for(layer="4", unit=1, steps=32)
    explorer.button.click()
    synthetic, *tops = explorer.figure.axes
    assert len(tops) == 6
    assert torch.allclose(torch.as_tensor(synthetic.images[0].get_array().data), explorer.result.image[0])
    assert f"{explorer.result.activation:.3g}" in synthetic.get_title()
    for ax, index, value in zip(tops, explorer.top_indices, explorer.top_activations):
        assert ax.get_title() == f"#{index}: {value:.3g}"
        assert torch.allclose(torch.as_tensor(ax.images[0].get_array().data), IMAGES[index, 0])
    assert synthetic.get_title().startswith("maximises unit 1: ")
    assert (f"Unit 1 of 4, priors L2 + TV + jitter, 32 steps: the image reaches "
            f"{explorer.result.activation:.3g}; the best of the 20 images "
            f"{explorer.top_activations[0]:.3g}") in explorer.caption.value
    explorer.layer.value = "logits"
    explorer.button.click()
    assert explorer.figure.axes[0].get_title().startswith("maximises class 1: ")
    assert explorer.caption.value.startswith("Class 1 of logits")


def test_a_dead_unit_gets_a_message():
    model = small_net()
    with torch.no_grad():
        model[3].bias[2] = -100.0   # unit 2 of layer "4" is off for every image
    explorer = explorer_for(model, layer="4", unit=2, steps=32)
    explorer.button.click()
    assert explorer.message.startswith("Unit 2 is 0 on all 20 images")
    assert "dead unit" in explorer.caption.value
    explorer.unit.value = 0   # not computed yet: the note goes
    assert explorer.message == ""


def test_a_failed_optimisation_explains_and_keeps_the_picture(monkeypatch):
    explorer = explorer_for(steps=32)
    explorer.button.click()

    def failing(*args, **kwargs):
        raise ValueError("channel must be an int from 0 to 3")

    monkeypatch.setattr(module, "maximize_activation", failing)
    explorer.unit.value = 1
    figure = explorer.figure
    explorer.button.click()
    assert explorer.message.startswith("Could not optimise an image for unit 1 of 1: channel must be")
    assert explorer.message in explorer.caption.value
    assert explorer.figure is figure and explorer.result is None and not explorer.button.disabled


def test_models_keep_their_modes():
    model = small_net().train()
    explorer = UnitExplorer(model, IMAGES)
    explorer.steps.value = 32
    explorer.button.click()
    assert all(m.training for m in model.modules())


@pytest.mark.parametrize("arguments, words", [
    (("small_cnn", IMAGES), "model must be a torch nn.Module, got str"),
    ((small_net(), IMAGES[0]), "images must be N×C×H×W"),
    ((small_net(), torch.rand(2, 3, SIZE, SIZE)), "the explorer cannot use this model with these images"),
    ((small_net(), IMAGES, ["nope"]), "Sequential has no layer 'nope'"),
    ((nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(2), nn.Flatten(), nn.Linear(200, 3)), IMAGES, ["1"]),
     "layer '1' gives shape (2, 100) per image: the explorer needs feature maps K×h×w or features K"),
    ((small_net(), IMAGES, []), "layers is empty"),
])
def test_bad_arguments_are_explained(arguments, words):
    with pytest.raises(ValueError) as error:
        UnitExplorer(*arguments)
    assert words in str(error.value)


def test_explicit_layers_are_offered_as_given():
    explorer = UnitExplorer(small_net(), IMAGES, layers=["7", "4"])
    assert explorer.layer.options == ("7", "4") and explorer.units == {"7": 8, "4": 6}


def test_layout_fits_a_window_1000_pixels_high():
    explorer = explorer_for(steps=32)
    explorer.button.click()
    controls, right = explorer.widget.children
    assert controls is explorer.controls  # the controls left of the figure
    assert right.children == (explorer.caption, explorer.output)
    rows = controls.children
    assert rows[-1] is explorer.button
    assert {c.style.description_width for c in rows[:-1]} == {"60px"}  # the controls line up
    assert all(int(c.layout.width.removesuffix("px")) >= 300 for c in rows)
    assert explorer.steps.min == 32 and explorer.steps.max == 256
    width, height = explorer.figure.get_size_inches() * explorer.figure.dpi
    assert explorer.figure.dpi >= 100 and height <= 500 and 300 + width <= 1000
    caption = int(explorer.caption.layout.height.removesuffix("px"))
    assert caption + height + 8 <= 500
    assert 32 * len(rows) <= 500  # an ipywidgets control row is about 32 px high
