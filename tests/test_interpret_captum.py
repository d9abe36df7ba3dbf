"""course_utils.interpret against Captum, the reference implementation of every method.

Tolerance: each result is within 1e-5 × (its largest absolute value) of Captum's, i.e. the
same numbers up to float32 summation order (SmoothGrad draws the very same noise; occlusion
and IG batch their forward passes differently from Captum). Occlusion's values are differences
of logits, so their rounding follows the logits: they may also differ by 1e-6 × (1 + the
largest |logit|). Captum is a test dependency only.
"""

import pytest
import torch

from course_utils.data import DatasetError, load_fashion_mnist
from course_utils.interpret import (
    deconvnet,
    grad_cam,
    guided_backprop,
    integrated_gradients,
    occlusion,
    saliency,
    smoothgrad,
)
from course_utils.pretrained import load_pretrained
from tests.tiny_nets import tiny_net

captum_attr = pytest.importorskip("captum.attr")

pytestmark = [pytest.mark.usefixtures("one_thread"),
              # Captum's notes that it set requires_grad or hooks for the call
              pytest.mark.filterwarnings("ignore:Input Tensor:UserWarning"),
              pytest.mark.filterwarnings("ignore:Setting backward hooks:UserWarning")]
RELATIVE_TOLERANCE = 1e-5


def fashion_images(count=3):
    """The first test images of Fashion-MNIST, or random images where the data set is missing."""
    try:
        return load_fashion_mnist("test", download=False)[0][:count].clone()
    except DatasetError:
        return torch.rand(count, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def cases():
    """(model, images, targets): the tiny random net, and two shipped models on test images."""
    tiny = (tiny_net(), torch.rand(3, 3, 12, 12, generator=torch.Generator().manual_seed(2)), [0, 3, 4])
    images = fashion_images()
    return [tiny, (load_pretrained("lenet_modern"), images, [9, 2, 1]),
            (load_pretrained("small_cnn"), images, [9, 2, 1])]


CASES = cases()
IDS = ["tiny", "lenet_modern", "small_cnn"]


def assert_matches(ours, theirs, floor=0.0):
    """``ours`` within RELATIVE_TOLERANCE × max |theirs| (+ ``floor``) of ``theirs`` everywhere."""
    assert ours.shape == theirs.shape
    scale = theirs.abs().max()
    assert scale > 0, "a reference of zeros proves nothing"
    error = (ours - theirs).abs().max()
    assert error <= RELATIVE_TOLERANCE * scale + floor, f"max difference {error:.3g}, scale {scale:.3g}"


def logit_rounding(model, images):
    with torch.no_grad():
        return 1e-6 * (1 + model(images).abs().max())


@pytest.fixture(params=range(len(CASES)), ids=IDS)
def case(request):
    return CASES[request.param]


def test_saliency_is_captums_saliency_without_abs(case):
    model, images, target = case
    expected = captum_attr.Saliency(model).attribute(images, target=target, abs=False)
    assert_matches(saliency(model, images, target), expected)


def test_smoothgrad_is_captums_noise_tunnel_with_the_same_noise(case):
    model, images, target = case
    # Each image spans exactly [0, 1], so noise·(max − min) is Captum's single stdev.
    low = images.amin(dim=(1, 2, 3), keepdim=True)
    high = images.amax(dim=(1, 2, 3), keepdim=True)
    images = (images - low) / (high - low)
    torch.manual_seed(5)
    expected = captum_attr.NoiseTunnel(captum_attr.Saliency(model)).attribute(
        images, nt_type="smoothgrad", nt_samples=4, stdevs=0.2, target=target, abs=False)
    assert_matches(smoothgrad(model, images, target, samples=4, noise=0.2, seed=5), expected)


def test_integrated_gradients_is_captums_gauss_legendre(case):
    model, images, target = case
    baseline = torch.full_like(images, 0.1)
    expected = captum_attr.IntegratedGradients(model).attribute(
        images, baselines=baseline, target=target, n_steps=16, method="gausslegendre")
    ours = integrated_gradients(model, images, target, baseline=0.1, steps=16)
    assert_matches(ours, expected)


def test_trapezoid_is_captums_rescaled_to_weights_that_sum_to_one():
    model, images, target = CASES[0]
    steps = 8
    expected = captum_attr.IntegratedGradients(model).attribute(
        images, target=target, n_steps=steps, method="riemann_trapezoid")
    ours = integrated_gradients(model, images, target, steps=steps, method="riemann_trapezoid")
    assert_matches(ours, expected * steps / (steps - 1))


def test_guided_backprop_and_deconvnet_are_captums(case):
    model, images, target = case
    expected_guided = captum_attr.GuidedBackprop(model).attribute(images, target=target)
    expected_deconv = captum_attr.Deconvolution(model).attribute(images, target=target)
    assert_matches(guided_backprop(model, images, target), expected_guided)
    assert_matches(deconvnet(model, images, target), expected_deconv)


@pytest.mark.parametrize("case_index, layer", [(0, "features.3"), (0, "features"),
                                               (1, "features.5"), (2, "features.8")])
def test_grad_cam_is_captums_layer_grad_cam_with_relu(case_index, layer):
    model, images, target = CASES[case_index]
    module = dict(model.named_modules())[layer]
    expected = captum_attr.LayerGradCam(model, module).attribute(
        images, target=target, relu_attributions=True)
    assert_matches(grad_cam(model, images, target, layer), expected[:, 0])


@pytest.mark.parametrize("case_index, window, stride, baseline", [
    (0, (3, 4, 4), (3, 3, 3), 0.0),   # 12 = 4 + 3·3 - 1: the last window is cut at the edge
    (0, (1, 5, 5), (1, 2, 2), 0.5),
    (1, (1, 6, 6), (1, 4, 4), 0.0),
])
def test_occlusion_is_captums(case_index, window, stride, baseline):
    model, images, target = CASES[case_index]
    expected = captum_attr.Occlusion(model).attribute(
        images, sliding_window_shapes=window, strides=stride, baselines=baseline, target=target)
    ours = occlusion(model, images, target, window=window, stride=stride, baseline=baseline)
    assert_matches(ours, expected, floor=logit_rounding(model, images))


def test_occlusion_int_window_and_stride_cover_all_channels_like_captums_triples():
    model, images, target = CASES[0]
    expected = captum_attr.Occlusion(model).attribute(
        images, sliding_window_shapes=(3, 5, 5), strides=(3, 2, 2), target=target)
    ours = occlusion(model, images, target, window=5, stride=2)
    assert_matches(ours, expected, floor=logit_rounding(model, images))
