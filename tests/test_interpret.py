"""course_utils.interpret: properties of each method, with autograd and plain torch as references.

(The comparisons with Captum are in test_interpret_captum.py.)
"""

import pytest
import torch
import torch.nn as nn

from course_utils.data import DatasetError, load_fashion_mnist
from course_utils.interpret import (
    activations,
    cam,
    deconvnet,
    grad_cam,
    guided_backprop,
    integrated_gradients,
    nearest_neighbours,
    occlusion,
    saliency,
    saliency_map,
    smoothgrad,
    upsample,
)
from course_utils.interpret.integrated_gradients import quadrature
from course_utils.models import LeNet5, SmallCNN
from course_utils.pretrained import load_pretrained
from tests.tiny_nets import tiny_net

pytestmark = pytest.mark.usefixtures("one_thread")


def random_images(count=3, channels=3, size=12, seed=2):
    return torch.rand(count, channels, size, size, generator=torch.Generator().manual_seed(seed))


def fashion_images(count=3):
    """The first test images of Fashion-MNIST, or random images where the data set is missing."""
    try:
        return load_fashion_mnist("test", download=False)[0][:count].clone()
    except DatasetError:
        return random_images(count, 1, 28)


TARGET = [0, 3, 4]
METHODS = {
    "saliency": lambda m, x, t: saliency(m, x, t),
    "smoothgrad": lambda m, x, t: smoothgrad(m, x, t, samples=2),
    "integrated_gradients": lambda m, x, t: integrated_gradients(m, x, t, steps=3),
    "guided_backprop": guided_backprop,
    "deconvnet": deconvnet,
    "grad_cam": lambda m, x, t: grad_cam(m, x, t, "features.4"),
    "cam": cam,
    "occlusion": lambda m, x, t: occlusion(m, x, t, window=4, stride=4),
}


def model_state(model):
    """Everything a call could leave changed: hooks, modes, flags, gradients."""
    return [(name, dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks),
             dict(m._backward_pre_hooks), m._is_full_backward_hook, m.training,
             getattr(m, "inplace", None)) for name, m in model.named_modules()] + [
        (name, p.requires_grad, p.grad) for name, p in model.named_parameters()]


# --- what every method promises --------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_a_call_leaves_model_and_images_as_they_were(method):
    model = tiny_net().train()
    model.features[4].eval()  # a mixed state: training, with batch norm frozen
    images = random_images()
    before_images = images.clone()
    with torch.no_grad():
        model.eval()
        before_logits = model(images)
        model.train()
        model.features[4].eval()
    before_state = model_state(model)
    result = METHODS[method](model, images, TARGET)
    assert model_state(model) == before_state
    assert torch.equal(images, before_images) and not images.requires_grad
    assert images.grad is None and result.device == images.device and not result.requires_grad
    with torch.no_grad():
        assert torch.equal(model.eval()(images), before_logits)


@pytest.mark.parametrize("method", METHODS)
def test_an_error_inside_the_call_leaves_no_hook_or_mode_behind(method):
    model = tiny_net().train()
    before = model_state(model)
    with pytest.raises(ValueError, match="out of range: the model has 5 outputs"):
        METHODS[method](model, random_images(), [0, 1, 7])
    assert model_state(model) == before


@pytest.mark.parametrize("method", METHODS)
def test_methods_run_under_no_grad_and_give_the_documented_shape(method):
    images = random_images()
    with torch.no_grad():
        result = METHODS[method](tiny_net(), images, TARGET)
    expected = (3, 6, 6) if method in ("grad_cam", "cam") else images.shape
    assert result.shape == expected and torch.isfinite(result).all()


def test_a_model_that_first_works_in_place_leaves_the_images_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 5)).eval()
    images = random_images() - 0.5
    before = images.clone()
    for name, method in METHODS.items():
        if name != "grad_cam":
            method(model, images, TARGET)
    grad_cam(model, images, TARGET, "1")
    activations(model, images, "0")
    assert torch.equal(images, before)


def test_one_int_target_means_that_class_for_every_image():
    model, images = tiny_net(), random_images()
    assert torch.equal(saliency(model, images, 2), saliency(model, images, torch.tensor([2, 2, 2])))


@pytest.mark.parametrize("images, words", [
    (torch.rand(1, 12, 12), "N×C×H×W"),
    (torch.zeros(2, 3, 12, 12, dtype=torch.uint8), "float tensor"),
    (torch.rand(0, 3, 12, 12), "empty"),
    ([[0.0]], "torch tensor"),
])
def test_bad_images_are_named(images, words):
    with pytest.raises(ValueError, match=words):
        saliency(tiny_net(), images, 0)


@pytest.mark.parametrize("target, words", [
    ([0, 1], "one class index per image: 3"),
    (torch.tensor([0.0, 1.0, 2.0]), "integer class indices"),
    ([0, -1, 2], ">= 0"),
    ([0, 1, 5], "target class 5 is out of range: the model has 5 outputs"),
    ("cat", "class indices"),
])
def test_bad_targets_are_named(target, words):
    with pytest.raises(ValueError, match=words):
        saliency(tiny_net(), random_images(), target)


# --- gradients -------------------------------------------------------------------------------

def test_saliency_is_the_autograd_gradient_of_each_target_logit():
    model, images = load_pretrained("lenet_modern"), fashion_images()
    target = [3, 0, 7]
    for i, cls in enumerate(target):
        x = images[i:i + 1].clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(model(x)[0, cls], x)
        torch.testing.assert_close(saliency(model, images, target)[i], expected[0], rtol=1e-5, atol=1e-7)


def test_saliency_map_is_the_max_absolute_gradient_over_channels():
    gradient = torch.tensor([[[[1.0, -3.0]], [[-2.0, 0.5]]]])  # 1×2×1×2
    assert torch.equal(saliency_map(gradient), torch.tensor([[[2.0, 3.0]]]))
    with pytest.raises(ValueError, match="N×C×H×W"):
        saliency_map(gradient[0])


def test_smoothgrad_is_seeded_and_is_saliency_without_noise():
    model, images = tiny_net(), random_images()
    first = smoothgrad(model, images, TARGET, samples=3, seed=4)
    assert torch.equal(first, smoothgrad(model, images, TARGET, samples=3, seed=4))
    assert not torch.allclose(first, smoothgrad(model, images, TARGET, samples=3, seed=5))
    torch.testing.assert_close(smoothgrad(model, images, TARGET, samples=2, noise=0.0),
                               saliency(model, images, TARGET))


def test_smoothgrad_noise_scales_with_each_images_range():
    """The noisy copies a probe model sees: the documented draws times noise · (max − min)."""
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.fc(x.flatten(1))

    images = torch.stack([torch.tensor([0.0, 1.0, 0.5, 0.2]), torch.tensor([0.0, 10.0, 5.0, 2.0])])
    images = images.view(2, 1, 2, 2)
    smoothgrad(Probe(), images, 0, samples=1, noise=0.1, seed=3)
    draws = torch.randn((2, 1, 1, 2, 2), generator=torch.Generator().manual_seed(3))[:, 0]
    expected = draws * 0.1 * torch.tensor([1.0, 10.0]).view(2, 1, 1, 1)
    torch.testing.assert_close(seen[0] - images, expected)


def test_quadrature_weights_sum_to_one_and_integrate_polynomials():
    for method in ("gausslegendre", "riemann_trapezoid"):
        alphas, weights = quadrature(5, method)
        assert abs(sum(weights) - 1) < 1e-12 and min(alphas) >= 0 and max(alphas) <= 1
    alphas, weights = quadrature(5)
    assert abs(sum(w * a ** 9 for a, w in zip(alphas, weights)) - 1 / 10) < 1e-12  # degree 2·5 − 1
    with pytest.raises(ValueError, match="method must be one of"):
        quadrature(5, "simpson")


@pytest.mark.parametrize("name, tolerance", [("lenet", 1e-4), ("lenet_modern", 0.03), ("small_cnn", 0.03)])
def test_integrated_gradients_are_complete(name, tolerance):
    """Attributions add up to f(x) − f(baseline), at 200 steps within ``tolerance`` × the largest
    |f(x) − f(x')|: 1e-4 for the smooth tanh LeNet; 3 % for the ReLU nets, whose gradient jumps
    along the path (measured: up to 0.6 % on test images, 2.3 % on random ones)."""
    model, images, target = load_pretrained(name), fashion_images(2), [0, 9]
    attributions = integrated_gradients(model, images, target, baseline=0.0, steps=200)
    with torch.no_grad():
        logits, base = model(images), model(torch.zeros_like(images))
    gap = logits[[0, 1], target] - base[[0, 1], target]
    error = (attributions.sum(dim=(1, 2, 3)) - gap).abs().max()
    assert error <= tolerance * gap.abs().max(), (error, gap)


def test_integrated_gradients_of_a_linear_model_are_weight_times_input():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    images = torch.rand(2, 1, 2, 2)
    result = integrated_gradients(model, images, [1, 2], steps=2)
    expected = model[1].weight[[1, 2]].detach().view(2, 1, 2, 2) * images
    torch.testing.assert_close(result, expected)


def test_guided_backprop_and_deconvnet_apply_their_relu_rules():
    """One hidden ReLU: the rules can be written out by hand."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(inplace=True), nn.Linear(8, 2))
    images = torch.randn(4, 1, 2, 3)
    w1, w2 = model[1].weight.detach(), model[3].weight.detach()
    hidden = images.flatten(1) @ w1.T + model[1].bias.detach()
    signal = w2[1].expand(4, 8)  # d logit_1 / d hidden activation
    guided = ((signal * (hidden > 0)).clamp(min=0) @ w1).view_as(images)
    deconv = (signal.clamp(min=0) @ w1).view_as(images)
    plain = ((signal * (hidden > 0)) @ w1).view_as(images)
    torch.testing.assert_close(guided_backprop(model, images, 1), guided)
    torch.testing.assert_close(deconvnet(model, images, 1), deconv)
    torch.testing.assert_close(saliency(model, images, 1), plain)
    assert model[2].inplace


def test_relu_rules_refuse_a_model_without_relu_modules():
    with pytest.raises(ValueError, match="no nn.ReLU modules.*Tanh|no nn.ReLU modules"):
        guided_backprop(LeNet5().eval(), torch.rand(1, 1, 28, 28), 0)


# --- class activation maps -------------------------------------------------------------------

def test_grad_cam_is_the_weighted_feature_maps_computed_by_hand():
    """small_cnn's features.8 is a batch norm followed by an in-place ReLU: the maps are its output."""
    model, images, target = load_pretrained("small_cnn"), fashion_images(), [9, 2, 1]
    maps = model.features[:9](images).detach().requires_grad_(True)
    logits = model.classifier(model.features[9:](maps.clone()))
    (gradients,) = torch.autograd.grad(logits[[0, 1, 2], target].sum(), maps)
    expected = torch.relu((gradients.mean(dim=(2, 3), keepdim=True) * maps).sum(dim=1))
    torch.testing.assert_close(grad_cam(model, images, target, model.features[8]), expected)
    assert expected.abs().max() > 0


def test_cam_adds_up_to_the_logit_and_is_grad_cam_times_the_map_size():
    model, images = tiny_net(), random_images()
    maps = cam(model, images, TARGET)
    with torch.no_grad():
        logits = model(images)[[0, 1, 2], TARGET]
    torch.testing.assert_close(maps.mean(dim=(1, 2)) + model.fc.bias[TARGET].detach(), logits)
    torch.testing.assert_close(grad_cam(model, images, TARGET, "features") * 36, torch.relu(maps))


def test_cam_works_on_the_lesson_07_resnet():
    from course_utils.architectures.resnet_small import resnet_small
    torch.manual_seed(0)
    model = resnet_small(8, width=4).eval()
    maps = cam(model, torch.rand(2, 1, 28, 28), [1, 2])
    assert maps.shape == (2, 7, 7)


@pytest.mark.parametrize("model", [LeNet5(), SmallCNN(width=4)], ids=["LeNet5", "SmallCNN"])
def test_cam_refuses_networks_without_global_average_pooling(model):
    with pytest.raises(ValueError, match="global average pooling.*Use grad_cam"):
        cam(model, torch.rand(1, 1, 28, 28), 0)


def test_cam_refuses_a_pooling_that_does_not_feed_the_last_linear():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 4),
                          nn.ReLU(), nn.Linear(4, 3)).eval()
    with pytest.raises(ValueError, match="does not take the global average pooling"):
        cam(model, torch.rand(1, 1, 8, 8), 0)


def test_grad_cam_layer_errors_are_clear():
    model, images = tiny_net(), random_images()
    with pytest.raises(ValueError, match="no layer 'features.9'.*named_modules"):
        grad_cam(model, images, TARGET, "features.9")
    with pytest.raises(ValueError, match="not feature maps N×K×h×w"):
        grad_cam(model, images, TARGET, "fc")
    with pytest.raises(ValueError, match="not a module of this TinyNet"):
        grad_cam(model, images, TARGET, nn.Conv2d(1, 1, 1))


def test_upsample_is_bilinear_to_the_image_size():
    maps = torch.rand(2, 3, 3)
    big = upsample(maps, 12)
    assert big.shape == (2, 12, 12) and upsample(maps[0], (6, 9)).shape == (6, 9)
    expected = torch.nn.functional.interpolate(maps[:, None], size=(12, 12), mode="bilinear")[:, 0]
    torch.testing.assert_close(big, expected)
    assert torch.allclose(upsample(torch.full((1, 2, 2), 0.7), 5), torch.tensor(0.7))


# --- occlusion -------------------------------------------------------------------------------

def test_occlusion_of_a_linear_model_is_the_weight_times_the_covered_values():
    """For f linear, covering a window drops f by Σ_window w·x; with windows that tile the image
    each pixel gets the drop of its one window."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    images = torch.rand(2, 1, 4, 4)
    result = occlusion(model, images, [0, 1], window=2, stride=2, batch_size=3)
    contribution = (model[1].weight[[0, 1]].detach().view(2, 1, 4, 4) * images)
    expected = contribution.view(2, 1, 2, 2, 2, 2).sum(dim=(3, 5), keepdim=True).expand(2, 1, 2, 2, 2, 2)
    torch.testing.assert_close(result, expected.reshape(2, 1, 4, 4))


@pytest.mark.parametrize("window, stride, words", [
    (13, 1, "between 1 and the image's size"),
    (3, 4, "stride 4 must be between 1 and the window 3"),
    ((1, 3), 1, "three ints"),
    (3, (1, 2), "three ints"),
])
def test_occlusion_window_errors_are_clear(window, stride, words):
    with pytest.raises(ValueError, match=words):
        occlusion(tiny_net(), random_images(), TARGET, window=window, stride=stride)


# --- activations and neighbours --------------------------------------------------------------

def test_activations_are_the_layers_outputs_before_later_in_place_layers():
    model, images = load_pretrained("small_cnn"), fashion_images(2)
    found = activations(model, images, ["features.1", model.features[2], "features"])
    assert list(found) == ["features.1", "features.2", "features"]
    with torch.no_grad():
        batch_norm = model.features[:2](images)
        torch.testing.assert_close(found["features.1"], batch_norm)  # not the ReLU's in-place result
        torch.testing.assert_close(found["features.2"], torch.relu(batch_norm))
        torch.testing.assert_close(found["features"], model.features(images))
    assert (found["features.1"] < 0).any()


def test_activations_remove_their_hooks_when_the_forward_pass_fails():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            self.conv(x)
            raise RuntimeError("broken forward")

    model = Broken()
    with pytest.raises(RuntimeError, match="broken forward"):
        activations(model, torch.rand(1, 1, 5, 5), "conv")
    assert not model.conv._forward_hooks and model.training


def test_activations_name_unused_layers():
    class Skips(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Conv2d(3, 2, 1), nn.Conv2d(3, 2, 1)

        def forward(self, x):
            return self.used(x)

    with pytest.raises(ValueError, match=r"\['unused'\] were not used in the model's forward pass"):
        activations(Skips(), random_images(), ["used", "unused"])


def test_nearest_neighbours_match_brute_force_and_find_themselves():
    generator = torch.Generator().manual_seed(0)
    features, queries = torch.randn(50, 8, generator=generator), torch.randn(7, 8, generator=generator)
    distances, indices = nearest_neighbours(features, queries, k=4, chunk=3)
    brute = ((queries[:, None] - features[None]) ** 2).sum(-1).sqrt()
    expected = brute.sort(dim=1)
    assert torch.equal(indices, expected.indices[:, :4])
    torch.testing.assert_close(distances, expected.values[:, :4])
    self_distances, self_indices = nearest_neighbours(features, features[[5, 9]], k=1)
    assert self_indices.flatten().tolist() == [5, 9] and self_distances.abs().max() < 1e-6


@pytest.mark.parametrize("features, queries, k, words", [
    (torch.rand(5, 3), torch.rand(2, 4), 1, "3 dimensions but queries have 4"),
    (torch.rand(5, 3), torch.rand(2, 3), 6, "k must be an int from 1 to the number of features"),
    (torch.rand(5, 3, 2), torch.rand(2, 3), 1, "flatten"),
])
def test_nearest_neighbours_errors_are_clear(features, queries, k, words):
    with pytest.raises(ValueError, match=words):
        nearest_neighbours(features, queries, k)
