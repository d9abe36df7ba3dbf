"""The attribution explorer of lesson 08 follows its controls (no browser needed): each method's
map is the course_utils.interpret function's, shown as the docstring says."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from course_utils.data import CLASS_NAMES  # noqa: E402
from course_utils.interpret import (  # noqa: E402
    cam,
    deconvnet,
    grad_cam,
    guided_backprop,
    integrated_gradients,
    occlusion,
    saliency,
    saliency_map,
    smoothgrad,
    upsample,
)
from course_utils.models import MLP, LeNet5  # noqa: E402
from course_utils.pretrained import load_pretrained  # noqa: E402
from course_utils.widgets import AttributionExplorer  # noqa: E402
from course_utils.widgets.attribution_explorer import METHODS, attribution_map, conv_layers  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


class PooledNet(nn.Module):
    """1×28×28 -> 10 logits: conv, BN, ReLU, max pool, conv, ReLU, global average pool, linear (CAM fits)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def pooled_net():
    torch.manual_seed(0)
    model = PooledNet()
    with torch.no_grad():
        model.features[1].running_mean.uniform_(-0.2, 0.2)
        model.fc.weight.mul_(20)   # logits of a few units, so that the prediction is clear
    return model.eval()


def tanh_lenet():
    torch.manual_seed(1)
    return LeNet5().eval()


IMAGES = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(4))


def labels_unlike_the_predictions(model):
    """Labels that differ from ``model``'s predictions, so that "true label" and "predicted" differ."""
    with torch.no_grad():
        return (model(IMAGES).argmax(1) + 3) % 10


@pytest.fixture(scope="module")
def models():
    return {"pooled": pooled_net(), "lenet": tanh_lenet()}


def explorer_for(models, **choices):
    explorer = AttributionExplorer(models, IMAGES, labels_unlike_the_predictions(models["pooled"]))
    for control, value in choices.items():
        getattr(explorer, control).value = value
    return explorer


def expected_map(model, image, target, method, layer):
    """The map of ``method`` computed with the interpret functions directly."""
    x = image[None]
    pixel = {"saliency": lambda: saliency(model, x, target),
             "SmoothGrad": lambda: smoothgrad(model, x, target, samples=10),
             "integrated gradients": lambda: integrated_gradients(model, x, target, steps=32),
             "guided backprop": lambda: guided_backprop(model, x, target),
             "deconvnet": lambda: deconvnet(model, x, target)}
    if method in pixel:
        return saliency_map(pixel[method]())[0]
    if method == "Grad-CAM":
        return upsample(grad_cam(model, x, target, layer), 28)[0]
    if method == "CAM":
        return upsample(cam(model, x, target), 28)[0]
    return occlusion(model, x, target, window=4, stride=2)[0, 0]  # one channel


@pytest.mark.parametrize("method", METHODS)
def test_each_method_shows_the_interpret_functions_map(models, method):
    explorer = explorer_for(models, index=2, method=method)
    model, label = models["pooled"], int(explorer.labels[2])
    assert explorer.message == "" and explorer.target == label
    assert explorer.attribution.shape == (28, 28)
    expected = expected_map(model, IMAGES[2], label, method, "features.4")
    assert torch.allclose(explorer.attribution, expected, rtol=1e-5, atol=1e-7)
    assert explorer.attribution.abs().max() > 0  # a map that shows something
    shown = explorer.figure.axes[1].images[0].get_array()
    assert torch.allclose(torch.as_tensor(shown.data), explorer.attribution)


def test_attribution_map_of_a_few_methods_on_lenet_modern():
    model = load_pretrained("lenet_modern")
    assert conv_layers(model) == ["features.0", "features.4"]
    image = IMAGES[0]
    assert torch.equal(attribution_map(model, image, 3, "saliency"),
                       saliency(model, image[None], 3)[0, 0].abs())
    assert torch.allclose(attribution_map(model, image, 3, "Grad-CAM", "features.0"),
                          grad_cam(model, image[None], 3, "features.0")[0])  # 28×28 already
    with pytest.raises(ValueError, match="cam needs a network that ends in global average pooling"):
        attribution_map(model, image, 3, "CAM")


def test_prediction_probability_and_the_target_toggle(models):
    explorer = explorer_for(models, index=1)
    with torch.no_grad():
        probabilities = models["pooled"](IMAGES[1:2])[0].softmax(0)
    assert explorer.prediction == int(probabilities.argmax())
    assert explorer.probability == pytest.approx(float(probabilities.max()))
    label = int(explorer.labels[1])
    assert explorer.target == label != explorer.prediction
    explorer.target_choice.value = "predicted"
    assert explorer.target == explorer.prediction
    expected = saliency_map(saliency(models["pooled"], IMAGES[1:2], explorer.prediction))[0]
    assert torch.allclose(explorer.attribution, expected)
    title = " ".join(text.get_text() for text in explorer.figure.texts)  # the suptitle
    assert f"pooled predicts {CLASS_NAMES[explorer.prediction]} ({explorer.probability:.0%})" in title
    explorer.index.value = 0
    assert torch.allclose(explorer.attribution,
                          saliency_map(saliency(models["pooled"], IMAGES[:1], explorer.prediction))[0])


def test_layer_dropdown_lists_conv_layers_and_is_enabled_for_grad_cam_only(models):
    explorer = explorer_for(models)
    assert explorer.layer.options == ("features.0", "features.4")
    assert explorer.layer.value == "features.4"  # the last conv by default
    assert explorer.layer.disabled
    explorer.method.value = "Grad-CAM"
    assert not explorer.layer.disabled
    explorer.layer.value = "features.0"
    label = int(explorer.labels[0])
    expected = grad_cam(models["pooled"], IMAGES[:1], label, "features.0")[0]  # 28×28: no upsampling
    assert torch.allclose(explorer.attribution, expected)
    assert "at layer features.0" in explorer.caption.value
    explorer.method.value = "occlusion"
    assert explorer.layer.disabled
    explorer.model.value = "lenet"
    assert explorer.layer.options == ("features.0", "features.3")


def test_cam_is_offered_only_where_it_applies(models):
    explorer = explorer_for(models)
    assert "CAM" in explorer.method.options
    explorer.method.value = "CAM"
    explorer.model.value = "lenet"
    assert "CAM" not in explorer.method.options and explorer.method.value == "Grad-CAM"
    assert explorer.message.startswith("CAM does not apply to lenet: cam needs a network that ends in "
                                       "global average pooling")
    assert "Showing Grad-CAM" in explorer.message
    label = int(explorer.labels[0])
    expected = upsample(grad_cam(models["lenet"], IMAGES[:1], label, "features.3"), 28)[0]
    assert torch.allclose(explorer.attribution, expected)
    explorer.model.value = "pooled"
    assert "CAM" in explorer.method.options and explorer.method.value == "Grad-CAM"
    assert explorer.message == ""


def test_a_method_that_fails_explains_and_keeps_the_last_picture(models):
    explorer = explorer_for(models, model="lenet")
    figure, attribution = explorer.figure, explorer.attribution
    explorer.method.value = "guided backprop"
    assert "guided backprop does not work for lenet" in explorer.message
    assert "has no nn.ReLU modules" in explorer.message and "Pick another method" in explorer.message
    assert explorer.message in explorer.caption.value
    assert explorer.figure is figure and explorer.attribution is attribution
    explorer.method.value = "saliency"
    assert explorer.message == "" and explorer.figure is not figure


def test_a_model_without_conv_layers_gets_a_message_for_grad_cam():
    torch.manual_seed(2)
    explorer = AttributionExplorer({"mlp": MLP().eval()}, IMAGES, [0, 1, 2])
    assert explorer.layer.options == () and explorer.layer.value is None
    assert "CAM" not in explorer.method.options
    explorer.method.value = "Grad-CAM"
    assert "Grad-CAM needs a conv layer and MLP has none" in explorer.message


def test_models_keep_their_modes():
    model = pooled_net().train()
    explorer = AttributionExplorer({"pooled": model}, IMAGES, [0, 1, 2])
    for method in ("saliency", "CAM", "occlusion"):
        explorer.method.value = method
    assert all(module.training for module in model.modules())


@pytest.mark.parametrize("arguments, words", [
    (({}, IMAGES, [0, 1, 2]), "models must be a non-empty dict"),
    (({"x": "lenet"}, IMAGES, [0, 1, 2]), "models['x'] is a str, not a torch nn.Module"),
    (({"pooled": pooled_net()}, IMAGES[0], [0]), "images must be N×C×H×W"),
    (({"pooled": pooled_net()}, IMAGES, [0, 1]), "one class index per image: 3 for 3 images"),
    (({"pooled": pooled_net()}, IMAGES, [0, 1, 2], CLASS_NAMES[:5]),
     "has 10 outputs but class_names names only 5"),
    (({"lenet": tanh_lenet()}, torch.rand(2, 3, 28, 28), [0, 1]),
     "model 'lenet' cannot classify these images"),
])
def test_bad_arguments_are_explained(arguments, words):
    with pytest.raises(ValueError) as error:
        AttributionExplorer(*arguments)
    assert words in str(error.value)


def test_figure_shows_image_map_and_overlay_with_the_sign_where_it_matters(models):
    explorer = explorer_for(models, method="occlusion")
    image, heat, overlay = explorer.figure.axes
    assert torch.allclose(torch.as_tensor(image.images[0].get_array().data), IMAGES[0, 0])
    assert len(overlay.images) == 2
    low, high = heat.images[0].get_clim()
    assert low == -high and high == pytest.approx(float(explorer.attribution.abs().max()))
    explorer.method.value = "saliency"
    assert explorer.figure.axes[1].images[0].get_clim()[0] == 0


def test_layout_fits_a_window_1000_pixels_high(models):
    explorer = explorer_for(models)
    controls, right = explorer.widget.children
    assert controls is explorer.controls  # the controls left of the figure
    assert right.children == (explorer.caption, explorer.output)
    rows = controls.children
    assert {c.style.description_width for c in rows} == {"60px"}  # the controls line up
    assert all(int(c.layout.width.removesuffix("px")) >= 300 for c in rows)
    width, height = explorer.figure.get_size_inches() * explorer.figure.dpi
    assert explorer.figure.dpi >= 100 and height <= 500 and 300 + width <= 1000
    caption = int(explorer.caption.layout.height.removesuffix("px"))
    assert caption + height + 8 <= 500
    assert 32 * len(rows) <= 500  # an ipywidgets control row is about 32 px high


def test_the_map_title_says_whose_score_it_explains_even_when_they_agree(models):
    model = models["pooled"]
    with torch.no_grad():
        predictions = model(IMAGES).argmax(1)
    explorer = AttributionExplorer({"pooled": model}, IMAGES, predictions)  # every label predicted
    name = CLASS_NAMES[int(predictions[0])]
    explorer.target_choice.value = "true label"
    assert explorer.figure.axes[1].get_title().endswith(f"for the true label '{name}'")
    explorer.target_choice.value = "predicted"
    assert explorer.figure.axes[1].get_title().endswith(f"for the prediction '{name}'")
