"""Lesson 08's checks: the references agree with course_utils.interpret (itself held against
Captum) and with finite differences; the checks accept them and explain each typical wrong answer."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from course_utils import checks
from course_utils.checks.interpret import (
    reference_grad_cam_map,
    reference_occlusion_map,
    reference_vanilla_saliency,
)
from course_utils.interpret import grad_cam, occlusion, saliency, saliency_map

pytestmark = pytest.mark.usefixtures("one_thread")   # tests/conftest.py


def conv_net(channels, height, width, seed=0, activation=nn.ReLU):
    """conv -> BN -> activation -> pool -> conv -> activation -> linear, in eval mode, BN statistics
    away from their defaults."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.BatchNorm2d(4), activation(),
                        nn.MaxPool2d(2), nn.Conv2d(4, 5, 3, padding=1), activation(), nn.Flatten(),
                        nn.Linear(5 * (height // 2) * (width // 2), 6))
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
    return net.eval()


def image_of(channels, height, width, seed=1):
    return torch.rand(channels, height, width, generator=torch.Generator().manual_seed(seed))


# --- vanilla_saliency ---


@pytest.mark.parametrize("channels, height, width", [(1, 8, 8), (3, 10, 6)])
def test_reference_saliency_matches_interpret_saliency(channels, height, width):
    model, image = conv_net(channels, height, width).train(), image_of(channels, height, width)
    expected = saliency_map(saliency(model, image[None], 4))[0]  # runs in eval mode
    got = reference_vanilla_saliency(model, image, 4)
    assert got.shape == (height, width)
    assert torch.allclose(got, expected, atol=1e-7)
    assert not model.training  # the reference puts the model in eval mode, as students should


def test_reference_saliency_matches_finite_differences():
    model = conv_net(3, 6, 6, activation=nn.Tanh).double()  # smooth: no ReLU kinks
    image = image_of(3, 6, 6).double()
    step = 1e-6
    gradient = torch.zeros_like(image)
    for index in np.ndindex(*image.shape):
        up, down = image.clone(), image.clone()
        up[index] += step
        down[index] -= step
        with torch.no_grad():
            gradient[index] = (model(up[None])[0, 2] - model(down[None])[0, 2]) / (2 * step)
    got = reference_vanilla_saliency(model, image, 2)
    assert torch.allclose(got, gradient.abs().amax(0), rtol=1e-6, atol=1e-9)


def saliency_with(*, eval_mode=True, score="logit", absolute=True, reduce="max", abs_after=False,
                  predicted=False, keep_channels=False, backward=False, numpy=False):
    """A vanilla_saliency with one typical mistake (or, by default, none)."""
    def vanilla_saliency(model, image, target):
        if eval_mode:
            model.eval()
        x = image.clone().unsqueeze(0).requires_grad_(True)
        logits = model(x)
        if predicted:
            target = int(logits.argmax())
        if score == "loss":
            value = nn.functional.cross_entropy(logits, torch.tensor([target]))
        else:
            value = (logits.softmax(1) if score == "softmax" else logits)[0, target]
        if backward:
            value.backward()
            gradient = x.grad[0]
        else:
            gradient = torch.autograd.grad(value, x)[0][0]
        if keep_channels:
            return gradient.abs()
        magnitude = gradient.abs() if absolute and not abs_after else gradient
        result = {"max": lambda g: g.amax(0), "sum": lambda g: g.sum(0), "mean": lambda g: g.mean(0)}[reduce](
            magnitude)
        result = result.abs() if abs_after else result
        return result.detach().numpy() if numpy else result
    return vanilla_saliency


def test_saliency_check_accepts_the_reference_and_other_ways(stub, expect_failure, capsys):
    checks.check_vanilla_saliency(reference_vanilla_saliency)
    checks.check_vanilla_saliency(saliency_with())
    checks.check_vanilla_saliency(saliency_with(backward=True, numpy=True))
    checks.check_vanilla_saliency(lambda model, image, target:
                                  saliency_map(saliency(model, image[None], target))[0])
    assert capsys.readouterr().out.startswith("✓ ")
    expect_failure(checks.check_vanilla_saliency, stub, "not implemented yet")


def test_saliency_in_training_mode(expect_failure):
    expect_failure(checks.check_vanilla_saliency, saliency_with(eval_mode=False),
                   "you computed it in training mode: call model.eval() first")


@pytest.mark.parametrize("score, words", [("softmax", "softmax probability"),
                                          ("loss", "cross-entropy loss")])
def test_saliency_of_the_probability_or_the_loss(expect_failure, score, words):
    expect_failure(checks.check_vanilla_saliency, saliency_with(score=score), words)


def test_saliency_without_abs(expect_failure):
    expect_failure(checks.check_vanilla_saliency, saliency_with(absolute=False), "absolute value is missing")
    expect_failure(checks.check_vanilla_saliency, saliency_with(abs_after=True),
                   "absolute value before the max")


@pytest.mark.parametrize("reduce, words", [("sum", "summed over the channels"),
                                           ("mean", "averaged over the channels")])
def test_saliency_summed_or_averaged_over_channels(expect_failure, reduce, words):
    expect_failure(checks.check_vanilla_saliency, saliency_with(reduce=reduce), words)


def test_saliency_of_the_predicted_class(expect_failure):
    expect_failure(checks.check_vanilla_saliency, saliency_with(predicted=True), "map of the predicted class")


def test_saliency_shapes(expect_failure):
    def squeezed(model, image, target):  # right for one channel, (C, H, W) for three
        return saliency(model, image[None], target)[0].abs().squeeze()

    def batch_gradient(model, image, target):
        return saliency(model, image[None], target).abs()

    expect_failure(checks.check_vanilla_saliency, squeezed,
                   "returned shape (3, 10, 10), expected (10, 10) = (H, W): that is the gradient of every "
                   "channel; over the channels take the largest absolute gradient")
    expect_failure(checks.check_vanilla_saliency, batch_gradient,
                   "returned shape (1, 1, 8, 8), expected (8, 8) = (H, W): that is the gradient of "
                   "x = image[None]")
    for one_axis_too_many in (saliency_with(keep_channels=True),
                              lambda *args: saliency_map(saliency(args[0], args[1][None], args[2]))):
        expect_failure(checks.check_vanilla_saliency, one_axis_too_many,
                       "returned shape (1, 8, 8), expected (8, 8) = (H, W): one axis of length 1 too many")


def test_saliency_errors_get_a_hint(expect_failure):
    def unbatched(model, image, target):
        model.eval()
        return model(image)

    def no_requires_grad(model, image, target):
        model.eval()
        return torch.autograd.grad(model(image[None])[0, target], image)[0]

    def all_logits(model, image, target):
        model.eval()
        x = image[None].requires_grad_(True)
        model(x).backward()

    def logits_row(model, image, target):
        return model(image[None])[target]

    expect_failure(checks.check_vanilla_saliency, unbatched, "pass it image.unsqueeze(0)")
    expect_failure(checks.check_vanilla_saliency, no_requires_grad, "requires_grad_(True)")
    expect_failure(checks.check_vanilla_saliency, all_logits, "Backpropagate one number")
    expect_failure(checks.check_vanilla_saliency, logits_row, "take model(x)[0, target]")


def test_saliency_hints_come_from_a_model_the_student_cannot_change(expect_failure):
    def train_mode_then_spoil(model, image, target):
        result = saliency_with(eval_mode=False)(model, image, target)  # also moves BN's running statistics
        for parameter in model.parameters():
            parameter.data.zero_()
        return result

    expect_failure(checks.check_vanilla_saliency, train_mode_then_spoil, "computed it in training mode")


def test_saliency_check_passes_training_mode_and_keeps_the_random_state():
    modes = []
    state = torch.get_rng_state()
    checks.check_vanilla_saliency(lambda model, image, target: modes.append(model.training)
                                  or reference_vanilla_saliency(model, image, target))
    assert modes == [True, True, True]
    assert torch.equal(torch.get_rng_state(), state)


# --- occlusion_map ---


@pytest.mark.parametrize("channels, height, width, window, baseline",
                         [(1, 8, 8, 2, 0.0), (3, 12, 8, 4, 0.5), (2, 8, 12, 2, -1.0)])
def test_reference_occlusion_matches_interpret_occlusion(channels, height, width, window, baseline):
    model, image = conv_net(channels, height, width), image_of(channels, height, width)
    got = reference_occlusion_map(model, image, 3, window, baseline)
    assert got.shape == (height // window, width // window)
    # Windows stepped by their own size cover each pixel once, so each pixel of a patch gets its drop.
    per_pixel = occlusion(model, image[None], 3, window=window, stride=window, baseline=baseline)[0]
    expected = per_pixel[:, ::window, ::window]
    for channel in expected:
        assert torch.allclose(got, channel, atol=1e-5)
    assert torch.equal(per_pixel, per_pixel[:, ::window, ::window].repeat_interleave(window, 1)
                       .repeat_interleave(window, 2))


def test_reference_occlusion_entry_by_hand():
    model, image = conv_net(1, 8, 8), image_of(1, 8, 8)
    covered = image.clone()
    covered[:, 2:4, 6:8] = 0.25
    with torch.no_grad():
        drop = model(image[None])[0, 1] - model(covered[None])[0, 1]
    assert torch.isclose(reference_occlusion_map(model, image, 1, 2, 0.25)[1, 3], drop)


def occlusion_with(*, sign=1, probability=False, transpose=False, ignore_baseline=False, channel0=False,
                   stride=None, occluded_only=False):
    """An occlusion_map with one typical mistake (or, by default, none)."""
    def occlusion_map(model, image, target, window, baseline=0.0):
        model.eval()
        step = stride or window
        fill = 0.0 if ignore_baseline else baseline
        channels = slice(0, 1) if channel0 else slice(None)
        height, width = image.shape[1:]
        rows = range(0, height - window + 1, step)
        cols = range(0, width - window + 1, step)

        def score(x):
            logits = model(x[None])[0]
            return (logits.softmax(0) if probability else logits)[target]

        with torch.no_grad():
            clear = score(image)
            drops = torch.zeros(len(rows), len(cols))
            for i, top in enumerate(rows):
                for j, left in enumerate(cols):
                    covered = image.clone()
                    covered[channels, top:top + window, left:left + window] = fill
                    drops[i, j] = -score(covered) if occluded_only else sign * (clear - score(covered))
        return drops.T if transpose else drops
    return occlusion_map


def test_occlusion_check_accepts_the_reference_and_a_loop(stub, expect_failure, capsys):
    checks.check_occlusion_map(reference_occlusion_map)
    checks.check_occlusion_map(occlusion_with())
    assert capsys.readouterr().out.startswith("✓ ")
    expect_failure(checks.check_occlusion_map, stub, "not implemented yet")


@pytest.mark.parametrize("mistake, words", [
    ({"sign": -1}, "the sign is flipped"),
    ({"probability": True}, "you used the softmax probability"),
    ({"occluded_only": True}, "that is the occluded images' logit"),
    ({"transpose": True}, "the map is transposed: entry (i, j)"),
    ({"ignore_baseline": True}, "covered the patches with 0, not with baseline (0.5)"),
    ({"channel0": True}, "you covered channel 0 only"),
    ({"stride": 1}, "returned shape (7, 7), expected (4, 4) = (H // window, W // window): you slid the "
                    "window one pixel at a time"),
])
def test_occlusion_mistakes(expect_failure, mistake, words):
    expect_failure(checks.check_occlusion_map, occlusion_with(**mistake), words)


def test_occlusion_transposed_non_square_gets_a_shape_hint(expect_failure):
    def transposed_from_the_second_case(model, image, target, window, baseline=0.0):
        drops = reference_occlusion_map(model, image, target, window, baseline)
        return drops if image.shape[0] == 1 else drops.T

    expect_failure(checks.check_occlusion_map, transposed_from_the_second_case,
                   "returned shape (4, 6), expected (6, 4) = (H // window, W // window): the map is "
                   "transposed")


def test_occlusion_per_pixel_and_unbatched(expect_failure):
    def per_pixel(model, image, target, window, baseline=0.0):
        return occlusion(model, image[None], target, window=window, stride=window, baseline=baseline)[0, 0]

    def unbatched(model, image, target, window, baseline=0.0):
        return model(image)

    expect_failure(checks.check_occlusion_map, per_pixel, "one value per patch, not per pixel")
    expect_failure(checks.check_occlusion_map, unbatched, "pass it image.unsqueeze(0)")


def test_occlusion_default_baseline_is_tested(expect_failure):
    def baseline_one_by_default(model, image, target, window, baseline=1.0):
        return reference_occlusion_map(model, image, target, window, baseline)

    expect_failure(checks.check_occlusion_map, baseline_one_by_default,
                   "baseline left at its default 0.0")


# --- grad_cam_map ---


def test_reference_grad_cam_matches_interpret_grad_cam():
    model, images = conv_net(3, 8, 6), torch.rand(2, 3, 8, 6, generator=torch.Generator().manual_seed(5))
    kept = []
    handle = model[5].register_forward_hook(lambda module, inputs, output: kept.append(output))
    x = images.clone().requires_grad_(True)
    logits = model(x)
    handle.remove()
    targets = [1, 4]
    for index, target in enumerate(targets):
        (gradients,) = torch.autograd.grad(logits[index, target], kept[0], retain_graph=True)
        got = reference_grad_cam_map(kept[0][index].detach(), gradients[index])
        expected = grad_cam(model, images, targets, "5")[index]
        assert got.shape == (4, 3)
        assert torch.allclose(got, expected, atol=1e-6)


def test_reference_grad_cam_by_hand():
    maps = torch.tensor([[[1.0, 2.0]], [[3.0, 0.0]]])          # K = 2 maps of 1×2
    gradients = torch.tensor([[[0.5, 1.5]], [[-1.0, -1.0]]])   # α = (1, -1)
    assert torch.equal(reference_grad_cam_map(maps, gradients), torch.tensor([[0.0, 2.0]]))


def grad_cam_with(*, relu="map", reduce="mean", weights_from="gradients", axis="space", absolute=False,
                  broadcast=False, combine="sum"):
    """A grad_cam_map with one typical mistake (or, by default, none)."""
    def grad_cam_map(feature_maps, gradients):
        source = gradients.abs() if absolute else (feature_maps if weights_from == "maps" else gradients)
        if axis == "channels":
            alpha = source.mean(0)
        else:
            alpha = source.mean(dim=(1, 2)) if reduce == "mean" else source.sum(dim=(1, 2))
            alpha = alpha if broadcast else alpha[:, None, None]
        if relu == "weights":
            alpha = torch.relu(alpha)
        weighted = alpha * feature_maps
        total = weighted.sum(0) if combine == "sum" else weighted.mean(0)
        return torch.relu(total) if relu == "map" else total
    return grad_cam_map


def test_grad_cam_check_accepts_the_reference(stub, expect_failure, capsys):
    checks.check_grad_cam_map(reference_grad_cam_map)
    checks.check_grad_cam_map(grad_cam_with())
    checks.check_grad_cam_map(lambda maps, grads: torch.einsum("k,khw->hw", grads.mean((1, 2)), maps)
                              .clamp(min=0).numpy())
    assert capsys.readouterr().out.startswith("✓ ")
    expect_failure(checks.check_grad_cam_map, stub, "not implemented yet")


@pytest.mark.parametrize("mistake, words", [
    ({"relu": None}, "the ReLU is missing"),
    ({"relu": "weights"}, "the ReLU belongs on the map, not on the weights"),
    ({"reduce": "sum"}, "you summed the gradients over the places; α_k is their mean (the sum is h·w = 20"),
    ({"weights_from": "maps"}, "the weights come from the gradients, not from the feature maps"),
    ({"axis": "channels"}, "you averaged the gradients over the channels (weights of shape (h, w))"),
    ({"absolute": True}, "you used the absolute gradients"),
    ({"combine": "mean"}, "you averaged over the channels instead of summing them"),
    ({"broadcast": True}, "broadcast along the width, not the channels"),
])
def test_grad_cam_mistakes(expect_failure, mistake, words):
    expect_failure(checks.check_grad_cam_map, grad_cam_with(**mistake), words)


def test_grad_cam_relu_on_both_is_still_named():
    def both(maps, grads):
        return torch.relu(grad_cam_with(relu="weights")(maps, grads))

    with pytest.raises(checks.CheckFailed, match="not on the weights"):
        checks.check_grad_cam_map(both)


def test_grad_cam_shapes_and_errors(expect_failure):
    expect_failure(checks.check_grad_cam_map, lambda maps, grads: grads.mean((1, 2))[:, None, None] * maps,
                   "returned shape (5, 4, 5), expected (4, 5) = (h, w): you weighted the maps but did not")
    expect_failure(checks.check_grad_cam_map, lambda maps, grads: grads.mean((1, 2)),
                   "those are the weights α_k")
    expect_failure(checks.check_grad_cam_map, lambda maps, grads: torch.relu(
        (grads.mean((1, 2))[:, None, None] * maps).sum(0, keepdim=True)), "without keepdim")
    def weights_as_a_column(maps, grads):
        return (grads.mean((1, 2)).view(-1, 1) * maps).sum(0)

    expect_failure(checks.check_grad_cam_map, weights_as_a_column, "reshape them to (K, 1, 1)")


def test_grad_cam_cases_have_both_signs_before_the_relu(capsys):
    seen = []

    def record(maps, grads):
        weighted = (grads.mean((1, 2))[:, None, None] * maps).sum(0)
        seen.append((bool((weighted > 0).any()), bool((weighted < 0).any())))
        return torch.relu(weighted)

    checks.check_grad_cam_map(record)
    assert seen == [(True, True)] * 3


# --- answers no suspect explains ---


@pytest.mark.parametrize("check, reference, words", [
    (checks.check_vanilla_saliency, reference_vanilla_saliency, "the map is the max over the channels of"),
    (checks.check_occlusion_map, reference_occlusion_map, "entry (i, j) is logit(image) − logit(image with"),
    (checks.check_grad_cam_map, reference_grad_cam_map, "α_k = gradients[k].mean() over the h×w places"),
])
def test_other_wrong_values_get_the_first_mismatch_and_the_formula(expect_failure, check, reference, words):
    def scaled(*args):
        return 1.1 * reference(*args) + 0.01

    expect_failure(check, scaled, "returned wrong values: at index (0, 0) you have ")
    expect_failure(check, scaled, words)
