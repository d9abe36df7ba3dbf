"""course_utils.interpret, lesson 09: activation maximisation, inversion, fooling images, dissection.

The measurements on small_cnn need Fashion-MNIST's test set; they are skipped without it.
"""

import pytest
import torch
import torch.nn as nn

from course_utils.data import DatasetError, load_fashion_mnist
from course_utils.interpret import (
    activations,
    concept_detectors,
    concept_masks,
    fooling_image,
    gaussian_blur,
    invert,
    jitter,
    l2_penalty,
    label_selectivity,
    maximize_activation,
    shuffled_weights,
    total_variation,
    unit_concept_iou,
)
from course_utils.interpret.invert import relative_error
from course_utils.interpret.layer_output import layer_output, resolve_layer
from course_utils.interpret.parametrizations import FourierImage, PixelImage
from course_utils.pretrained import load_pretrained

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_net():
    """1×12×12 -> 4 logits, with batch norm, an in-place ReLU and dropout (modes matter)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(inplace=True),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(3 * 6 * 6, 4))
    model[1].running_mean.uniform_(-0.2, 0.2)
    return model


def model_state(model):
    """Everything a call could leave changed: hooks, modes, flags, gradients."""
    return [(name, dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks),
             m.training) for name, m in model.named_modules()] + [
        (name, p.requires_grad, p.grad) for name, p in model.named_parameters()]


@pytest.fixture(scope="module")
def test_images():
    try:
        images, labels = load_fashion_mnist("test", download=False)
    except DatasetError as error:
        pytest.skip(f"Fashion-MNIST is not available: {error}")
    return images[:1000], labels[:1000]


@pytest.fixture(scope="module")
def small_cnn():
    return load_pretrained("small_cnn")


@pytest.fixture(scope="module")
def recorded(small_cnn, test_images):
    """The outputs of the units' layers for the 1,000 test images (one forward pass)."""
    return activations(small_cnn, test_images[0], ["features.6", "features.13", "classifier"])


# --- regularisers and parametrisations --------------------------------------------------------

def test_total_variation_and_l2_by_hand():
    x = torch.tensor([[[[0.0, 1.0], [3.0, 1.0]]]])
    # one 1×1 corner: down difference 3, right difference 1
    assert total_variation(x).item() == pytest.approx(10.0)
    assert total_variation(x, beta=1).item() == pytest.approx(10 ** 0.5, rel=1e-6)
    assert l2_penalty(x).item() == 11.0
    assert total_variation(torch.full((2, 1, 5, 5), 0.3)).abs().max() == 0


def test_jitter_is_a_seeded_roll_within_the_shift():
    x = torch.arange(49.0).view(1, 1, 7, 7)
    first = jitter(x, 2, torch.Generator().manual_seed(3))
    assert torch.equal(first, jitter(x, 2, torch.Generator().manual_seed(3)))
    shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
              if torch.equal(first, torch.roll(x, (dy, dx), (2, 3)))]
    assert len(shifts) == 1 and torch.equal(jitter(x, 0, torch.Generator()), x)


def test_gaussian_blur_keeps_constants_and_spreads_a_point_symmetrically():
    assert torch.allclose(gaussian_blur(torch.full((1, 2, 6, 6), 0.4), 1.0), torch.tensor(0.4))
    point = torch.zeros(1, 1, 9, 9)
    point[0, 0, 4, 4] = 1
    blurred = gaussian_blur(point, 1.0)[0, 0]
    assert blurred.sum().item() == pytest.approx(1.0, abs=1e-6) and blurred.argmax() == 40
    torch.testing.assert_close(blurred, blurred.t())
    torch.testing.assert_close(blurred, blurred.flip(0))


def test_fourier_and_pixel_parametrisations_start_from_the_same_image():
    noise = torch.randn(1, 1, 12, 10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(FourierImage(noise).image(), PixelImage(noise).image())
    assert FourierImage(noise).image().shape == (1, 1, 12, 10)


def test_layer_output_is_what_activations_record_and_logits_are_the_output():
    model, x = tiny_net().eval(), torch.rand(2, 1, 12, 12)
    name, module = resolve_layer(model, "1")
    torch.testing.assert_close(layer_output(model, name, module, x), activations(model, x, "1")["1"])
    assert resolve_layer(model, "logits") == ("logits", None)
    torch.testing.assert_close(layer_output(model, "logits", None, x), model(x))
    assert not module._forward_hooks


# --- activation maximisation -----------------------------------------------------------------

UNITS = [("features.6", 3), ("features.13", 20), ("logits", 7)]


@pytest.mark.parametrize("layer, channel", UNITS)
def test_maximize_activation_beats_every_test_image(small_cnn, recorded, layer, channel):
    """Measured with these settings: 2.1×, 3.1× and 1.26× the best of the first 1,000 test images."""
    output = recorded["classifier" if layer == "logits" else layer]
    best = (output[:, channel].mean(dim=(1, 2)) if output.dim() == 4 else output[:, channel]).max()
    result = maximize_activation(small_cnn, layer, channel, steps=128)
    assert result.activation > best, (result.activation, float(best))
    assert result.image.shape == (1, 28, 28) and 0 < result.image.min() and result.image.max() < 1
    assert len(result.history) == 128 and result.history[-1] > result.history[0]


def test_regularisers_make_the_image_smoother(small_cnn):
    plain = maximize_activation(small_cnn, "logits", 1, steps=64, regularizers=())
    regular = maximize_activation(small_cnn, "logits", 1, steps=64, weights={"tv": 0.03})
    # measured: total variation 80 with the prior, 169 without
    assert total_variation(regular.image[None]) < 0.6 * total_variation(plain.image[None])


def test_maximize_activation_is_seeded_and_leaves_the_model_as_it_was():
    model = tiny_net().train()
    model[1].eval()
    before = model_state(model)
    options = dict(steps=5, size=(1, 12, 12), regularizers=("l2", "tv", "jitter", "blur"), blur_every=2)
    first = maximize_activation(model, "2", 1, seed=3, **options)
    assert model_state(model) == before
    assert torch.equal(first.image, maximize_activation(model, "2", 1, seed=3, **options).image)
    assert not torch.equal(first.image, maximize_activation(model, "2", 1, seed=4, **options).image)
    with torch.no_grad():
        fourier = maximize_activation(model, "logits", 0, parametrization="fourier", **options)
    assert len(fourier.history) == 5 and model_state(model) == before


@pytest.mark.parametrize("kwargs, words", [
    (dict(layer="2", channel=3), "channel must be an int from 0 to 2"),
    (dict(layer="logits", channel=-1), "from 0 to 3"),
    (dict(layer="9", channel=0), "no layer '9'"),
    (dict(layer="2", channel=0, regularizers=("l1",)), "unknown regularizers"),
    (dict(layer="2", channel=0, size=(12, 12)), "three positive ints"),
    (dict(layer="2", channel=0, parametrization="wavelet"), "parametrization must be one of"),
    (dict(layer="2", channel=0, steps=0), "steps must be a positive int"),
])
def test_maximize_activation_errors_are_clear(kwargs, words):
    model = tiny_net()
    before = model_state(model)
    with pytest.raises(ValueError, match=words):
        maximize_activation(model, size=kwargs.pop("size", (1, 12, 12)), **kwargs)
    assert model_state(model) == before


# --- inversion -------------------------------------------------------------------------------

def test_invert_matches_mid_layer_features_of_a_test_image(small_cnn, test_images):
    """Measured: feature error 0.046 (random image: 1.73), pixel error 0.08."""
    image = test_images[0][0]
    target = activations(small_cnn, image[None], "features.6")["features.6"]
    result = invert(small_cnn, "features.6", target[0])
    random_features = activations(small_cnn, torch.rand(1, 1, 28, 28), "features.6")["features.6"]
    assert result.relative_error < 0.15
    assert result.relative_error < relative_error(random_features, target) / 5
    assert relative_error(result.image, image) < 0.3
    assert result.history[-1] < result.history[0]


def test_invert_leaves_the_model_as_it_was_and_names_a_wrong_target():
    model = tiny_net().train()
    before = model_state(model)
    target = activations(model, torch.rand(1, 1, 12, 12), "3")["3"]
    result = invert(model, "3", target, steps=3, size=(1, 12, 12))
    assert result.image.shape == (1, 12, 12) and model_state(model) == before
    with pytest.raises(ValueError, match=r"gives \(3, 6, 6\)"):
        invert(model, "3", torch.rand(3, 5, 5), size=(1, 12, 12))
    with pytest.raises(ValueError, match="prior must be one of"):
        invert(model, "3", target, prior="tv2", size=(1, 12, 12))
    assert model_state(model) == before


# --- fooling images --------------------------------------------------------------------------

@pytest.mark.parametrize("index, target", [(0, 1), (1, 5), (2, 8)])
def test_fooling_image_flips_the_prediction_with_a_small_change(small_cnn, test_images, index, target):
    """Measured: L2 norms 1.0, 1.4, 1.1 against image norms 8.9, 18.8, 13.3."""
    image = test_images[0][index]
    before = image.clone()
    result = fooling_image(small_cnn, image, target, shrink=True)
    assert result.success and result.predicted == target
    assert small_cnn(result.image[None]).argmax().item() == target
    assert 0 <= result.image.min() and result.image.max() <= 1 and torch.equal(image, before)
    torch.testing.assert_close(result.image - image, result.perturbation)
    assert result.norm["l2"] < 0.25 * image.norm() and result.norm["linf"] <= 1
    assert result.norm["l2"] == pytest.approx(float(result.perturbation.norm()))


def test_fooling_image_reports_failure_and_bad_arguments():
    model = tiny_net()
    image = torch.rand(1, 12, 12)
    with torch.no_grad():
        start = model.eval()(image[None]).argmax().item()
    model.train()
    before = model_state(model)
    target = (start + 1) % 4
    result = fooling_image(model, image, target, max_steps=1, step=1e-6)
    assert not result.success and result.steps == 1 and result.predicted == start
    assert model_state(model) == before
    with pytest.raises(ValueError, match="out of range"):
        fooling_image(model, image, 4)
    with pytest.raises(ValueError, match="norm must be one of"):
        fooling_image(model, image, 1, norm="l1")
    with pytest.raises(ValueError, match="one image C×H×W"):
        fooling_image(model, torch.rand(2, 1, 12, 12), 1)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        fooling_image(model, image - 0.5, 1)
    assert model_state(model) == before


# --- concepts and dissection -----------------------------------------------------------------

def test_concept_masks_of_a_rectangle():
    image = torch.zeros(1, 1, 12, 12)
    image[0, 0, 2:10, 2:10] = 0.5
    masks = concept_masks(image)
    garment = masks["garment"][0]
    assert garment.sum() == 64 and torch.equal(masks["background"][0], ~garment)
    assert torch.equal(masks["upper half"][0] | masks["lower half"][0], garment)
    assert masks["upper half"][0, 2:6, 2:10].all() and not masks["upper half"][0, 6:].any()
    assert masks["left sleeve region"][0].nonzero()[:, 1].max() == 3
    assert masks["right sleeve region"][0].nonzero()[:, 1].min() == 8
    assert not masks["bright"].any() and not masks["texture"].any()
    assert masks["edge"][0, 5, 1:3].all() and not masks["edge"][0, 5, 5]


def test_a_unit_that_copies_a_mask_has_iou_one():
    generator = torch.Generator().manual_seed(0)
    first = torch.rand(6, 8, 8, generator=generator) > 0.7
    second = torch.rand(6, 8, 8, generator=generator) > 0.5
    images = torch.stack([first, second], dim=1).float()  # unit k of the identity copies mask k
    model = nn.Sequential(nn.Identity())
    iou = unit_concept_iou(model, "0", images, {"first": first, "second": second})
    overlap = (first & second).sum() / (first | second).sum()
    torch.testing.assert_close(iou, torch.tensor([[1.0, overlap], [overlap, 1.0]]))


def test_trained_small_cnn_has_more_edge_detectors_than_its_shuffled_twin(small_cnn, test_images):
    """Measured on 300 test images at features.13, quantile 0.9, IoU > 0.1: 121 of 128 trained
    units are detectors, 49 of them for "edge"; shuffled: 104, 3 for "edge" (its units follow
    intensity: 41 "background", 22 "bright"). Stable at 500 and 1,000 images."""
    images = test_images[0][:300]
    masks = concept_masks(images)
    shuffled = shuffled_weights(small_cnn)
    assert not torch.equal(shuffled.features[0].weight, small_cnn.features[0].weight)
    torch.testing.assert_close(shuffled.features[0].weight.flatten().sort().values,
                               small_cnn.features[0].weight.flatten().sort().values)
    found = {}
    for name, model in (("trained", small_cnn), ("shuffled", shuffled)):
        iou = unit_concept_iou(model, "features.13", images, masks, quantile=0.9)
        assert iou.shape == (128, len(masks)) and 0 <= iou.min() and iou.max() <= 1
        found[name] = concept_detectors(iou, masks, threshold=0.1)
    count = {name: sum(map(len, detectors.values())) for name, detectors in found.items()}
    assert count["trained"] > count["shuffled"], count
    assert len(found["trained"]["edge"]) > 4 * len(found["shuffled"]["edge"]), found


def test_concept_detectors_count_each_unit_under_its_best_concept():
    iou = torch.tensor([[0.3, 0.5], [0.05, 0.02], [0.2, 0.1]])
    assert concept_detectors(iou, ["a", "b"], threshold=0.1) == {"a": [2], "b": [0]}
    with pytest.raises(ValueError, match="units × 3 concepts"):
        concept_detectors(iou, ["a", "b", "c"])


def test_label_selectivity_is_the_auroc():
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    in_group = torch.isin(labels, torch.tensor([1, 2])).float()
    values = torch.stack([in_group, -in_group, torch.zeros(6), torch.tensor([1.0, 2, 3, 4, 5, 6])], dim=1)
    model = nn.Sequential(nn.Flatten())
    scores = label_selectivity(model, "0", values.view(6, 4, 1, 1), labels, {"g": (1, 2)})
    # column 3: in-group values {2, 3, 5, 6} beat out-group {1, 4} in 6 of 8 pairs
    torch.testing.assert_close(scores[:, 0], torch.tensor([1.0, 0.0, 0.5, 0.75]))
    with pytest.raises(ValueError, match="some but not all"):
        label_selectivity(model, "0", values.view(6, 4, 1, 1), labels, {"all": (0, 1, 2)})

