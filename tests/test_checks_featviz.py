"""Lesson 09's checks: the references agree with course_utils.interpret (the fooling step with
fooling_image, the IoU with unit_concept_iou; the total variation's relation to interpret's TV^β
prior), with loops and finite differences; the checks accept them and explain each typical
wrong answer."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from course_utils import checks
from course_utils.checks.featviz import (
    reference_fooling_step,
    reference_total_variation,
    reference_unit_iou,
)
from course_utils.interpret import fooling_image, total_variation, unit_concept_iou

pytestmark = pytest.mark.usefixtures("one_thread")   # tests/conftest.py


def image_of(channels, height, width, seed=1):
    return torch.rand(channels, height, width, generator=torch.Generator().manual_seed(seed))


# --- total_variation ---


def test_reference_total_variation_matches_a_loop():
    image = image_of(2, 4, 5)
    expected = 0.0
    for c, i, j in np.ndindex(*image.shape):
        if i + 1 < 4:
            expected += abs(float(image[c, i + 1, j] - image[c, i, j]))
        if j + 1 < 5:
            expected += abs(float(image[c, i, j + 1] - image[c, i, j]))
    got = reference_total_variation(image)
    assert got.dim() == 0 and math.isclose(float(got), expected, rel_tol=1e-6)


def test_reference_total_variation_gradient_matches_finite_differences():
    image = image_of(2, 4, 3).double().requires_grad_(True)
    (gradient,) = torch.autograd.grad(reference_total_variation(image), image)
    step = 1e-7
    for index in np.ndindex(*image.shape):
        up, down = image.detach().clone(), image.detach().clone()
        up[index] += step
        down[index] -= step
        numeric = (reference_total_variation(up) - reference_total_variation(down)) / (2 * step)
        assert math.isclose(float(gradient[index]), float(numeric), abs_tol=1e-6)


def test_reference_total_variation_relates_to_interpret_tv_beta():
    # interpret.total_variation is Mahendran & Vedaldi's TV^β over the (H−1)×(W−1) corner: a different
    # prior. With a black last row and column (as Fashion-MNIST's border) no difference is left out,
    # and then β = 2 is the sum of *squared* differences and β = 1 the isotropic Σ √(dy² + dx²),
    # which lies between our anisotropic Σ |dy| + |dx| divided by √2 and it.
    image = torch.zeros(2, 6, 5)
    image[:, :-1, :-1] = image_of(2, 5, 4)
    down, right = image[:, 1:] - image[:, :-1], image[:, :, 1:] - image[:, :, :-1]
    squared = down.pow(2).sum() + right.pow(2).sum()
    assert torch.isclose(total_variation(image[None], beta=2)[0], squared)
    anisotropic, isotropic = reference_total_variation(image), total_variation(image[None], beta=1)[0]
    assert anisotropic / math.sqrt(2) - 1e-3 <= isotropic <= anisotropic + 1e-3
    assert not torch.isclose(isotropic, anisotropic)


def tv_with(*, directions="both", power=1, reduce="sum", wrap=False, signed=False, isotropic=False):
    """A total_variation with one typical mistake (or, by default, none)."""
    def total_variation(image):
        if wrap:
            down, right = image - image.roll(1, dims=1), image - image.roll(1, dims=2)
        else:
            down, right = image[:, 1:, :] - image[:, :-1, :], image[:, :, 1:] - image[:, :, :-1]
        if isotropic:
            return (down[:, :, :-1].pow(2) + right[:, :-1, :].pow(2)).sqrt().sum()
        size = (lambda d: d) if signed else (lambda d: d.abs().pow(power))
        parts = {"both": [down, right], "vertical": [down], "horizontal": [right]}[directions]
        return sum(size(d).sum() if reduce == "sum" else size(d).mean() for d in parts)
    return total_variation


def test_total_variation_check_accepts_the_reference_and_variants(stub, expect_failure, capsys):
    checks.check_total_variation(reference_total_variation)
    checks.check_total_variation(tv_with())
    checks.check_total_variation(lambda x: torch.diff(x, dim=1).abs().sum()
                                 + torch.diff(x, dim=2).abs().sum())
    assert capsys.readouterr().out.startswith("✓ ")
    expect_failure(checks.check_total_variation, stub, "not implemented yet")


@pytest.mark.parametrize("mistake, words", [
    ({"directions": "vertical"}, "you summed the vertical differences only"),
    ({"directions": "horizontal"}, "you summed the horizontal differences only"),
    ({"power": 2}, "you squared the differences"),
    ({"reduce": "mean"}, "you averaged; the total variation is a sum"),
    ({"wrap": True}, "torch.roll wraps around"),
    ({"signed": True}, "the absolute value is missing"),
    ({"isotropic": True}, "that is the isotropic total variation"),
])
def test_total_variation_mistakes(expect_failure, mistake, words):
    expect_failure(checks.check_total_variation, tv_with(**mistake), words)


def test_total_variation_other_mistakes(expect_failure):
    expect_failure(checks.check_total_variation, lambda x: x.abs().sum(), "that is Σ |x|")
    expect_failure(checks.check_total_variation, lambda x: (x.numel() ** 0.5) * tv_with()(x),
                   "expected Σ |x[:, i+1, j] − x[:, i, j]| + Σ |x[:, i, j+1] − x[:, i, j]|")
    expect_failure(checks.check_total_variation,
                   lambda x: (x[:, 1:] - x[:, :-1]).abs().sum(dim=(1, 2)) + (x[:, :, 1:] - x[:, :, :-1]).abs()
                   .sum(dim=(1, 2)),
                   "returned shape (3,), expected a single number: you summed each channel separately")


def test_total_variation_must_stay_differentiable(expect_failure):
    expect_failure(checks.check_total_variation, lambda x: tv_with()(x).item(),
                   "(type float); expected a torch tensor (one number): "
                   "autograd cannot differentiate a Python or numpy number")
    expect_failure(checks.check_total_variation, lambda x: np.float32(tv_with()(x).item()),
                   "autograd cannot differentiate a Python or numpy number")
    expect_failure(checks.check_total_variation, lambda x: tv_with()(x).detach(),
                   "The values are right, but total_variation returned a tensor that autograd cannot "
                   "differentiate (no grad_fn)")
    expect_failure(checks.check_total_variation, lambda x: tv_with()(x.detach()),
                   "returned a tensor that autograd cannot differentiate (no grad_fn)")
    expect_failure(checks.check_total_variation,
                   lambda x: torch.ones((), requires_grad=True) * tv_with()(x).item(),
                   "torch.autograd.grad of total_variation's result with respect to the image failed")

    def root_of_square(x):
        down, right = x[:, 1:] - x[:, :-1], x[:, :, 1:] - x[:, :, :-1]
        return down.pow(2).sqrt().sum() + right.pow(2).sqrt().sum()

    expect_failure(checks.check_total_variation, root_of_square, "has NaN or infinite entries")

    def in_place(x):
        x.clamp_(0, 1)
        return tv_with()(x)

    expect_failure(checks.check_total_variation, in_place, "Do not change the image in place")


# --- fooling_step ---


def conv_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 5)).eval()


@pytest.mark.parametrize("step", [0.1, 3.0])
def test_reference_fooling_step_is_one_step_of_fooling_image(step):
    model, image = conv_net(), image_of(1, 8, 8)
    with torch.no_grad():
        target = (int(model(image[None]).argmax()) + 1) % 5
    x = image[None].clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(model(x)[0, target], x)
    expected = fooling_image(model, image, target, max_steps=1, step=step)
    assert expected.steps == 1
    got = reference_fooling_step(image, gradient[0], step)
    assert torch.allclose(got, expected.image, atol=1e-6)
    if step == 3.0:   # long enough for the clamp to matter
        raw = image + step * gradient[0] / gradient.norm()
        assert raw.min() < 0 or raw.max() > 1


def test_reference_fooling_step_by_hand():
    image = torch.tensor([[[0.5, 0.9]]])
    gradient = torch.tensor([[[3.0, 4.0]]])   # norm 5
    assert torch.allclose(reference_fooling_step(image, gradient, 0.5), torch.tensor([[[0.8, 1.0]]]))
    assert torch.allclose(reference_fooling_step(image, -gradient, 0.5), torch.tensor([[[0.2, 0.5]]]))


def fooling_with(*, sign=1, normalise="l2", clamp=(0, 1)):
    """A fooling_step with one typical mistake (or, by default, none)."""
    def fooling_step(image, gradient, step):
        scale = {"l2": gradient.norm(), "linf": gradient.abs().max(), None: 1.0}[normalise] \
            if normalise != "sign" else None
        direction = gradient.sign() if normalise == "sign" else gradient / scale
        moved = image + sign * step * direction
        return moved if clamp is None else moved.clamp(*clamp)
    return fooling_step


def test_fooling_step_check_accepts_the_reference_and_variants(stub, expect_failure, capsys):
    checks.check_fooling_step(reference_fooling_step)
    checks.check_fooling_step(fooling_with())
    checks.check_fooling_step(lambda image, g, step: np.clip(
        image.numpy() + step * g.numpy() / np.linalg.norm(g.numpy()), 0, 1))
    checks.check_fooling_step(lambda image, g, step: torch.clamp(
        image + step * g / torch.linalg.vector_norm(g), min=0.0, max=1.0))
    assert capsys.readouterr().out.startswith("✓ ")
    expect_failure(checks.check_fooling_step, stub, "not implemented yet")


@pytest.mark.parametrize("mistake, words", [
    ({"sign": -1}, "you stepped down the gradient"),
    ({"clamp": None}, "the clamp is missing"),
    ({"clamp": (-1, 1)}, "clamp to [0, 1], the range of the images, not to [-1, 1]"),
    ({"normalise": None}, "the gradient is not normalised"),
    ({"normalise": "linf"}, "you normalised by the largest |gradient| (an L∞ norm)"),
    ({"normalise": "sign"}, "that is a sign step (FGSM)"),
])
def test_fooling_step_mistakes(expect_failure, mistake, words):
    expect_failure(checks.check_fooling_step, fooling_with(**mistake), words)


def test_fooling_step_other_mistakes(expect_failure):
    check = checks.check_fooling_step
    expect_failure(check, lambda x, g, step: (x + step * g / g.pow(2).sum()).clamp(0, 1),
                   "you divided by the squared norm")
    expect_failure(check, lambda x, g, step: (x + step * g / g.abs().sum()).clamp(0, 1),
                   "you normalised by the L1 norm")
    expect_failure(check, lambda x, g, step: (x + step * g / g.norm(dim=(1, 2), keepdim=True)).clamp(0, 1),
                   "you normalised each channel separately")
    expect_failure(check, lambda x, g, step: reference_fooling_step(x, g, step)[None],
                   "returned shape (1, 1, 6, 6), expected (1, 6, 6) = image's (C, H, W): drop the batch axis")
    expect_failure(check, lambda x, g, step: 1.01 * reference_fooling_step(x, g, step),
                   "returned wrong values: at index (0, 0, 0) you have")


def test_fooling_step_cases_need_the_clamp_at_both_ends(capsys):
    seen = []

    def record(image, gradient, step):
        raw = image + step * gradient / gradient.norm()
        seen.append((bool((raw < 0).any()), bool((raw > 1).any())))
        return raw.clamp(0, 1)

    checks.check_fooling_step(record)
    assert seen == [(True, True)] * 3


# --- unit_iou ---


def test_reference_unit_iou_by_hand():
    activation = torch.tensor([[0.0, 1.0, 2.0], [3.0, 1.0, -1.0]])
    mask = torch.tensor([[False, True, False], [True, True, True]])
    # fires (> 1): (0, 2) and (1, 0); mask: 4 pixels; intersection (1, 0); union 5.
    assert reference_unit_iou(activation, 1.0, mask) == pytest.approx(1 / 5)
    assert reference_unit_iou(activation, 5.0, torch.zeros(2, 3, dtype=torch.bool)) == 0.0
    assert reference_unit_iou(activation, -2.0, torch.ones(2, 3, dtype=torch.bool)) == 1.0
    assert isinstance(reference_unit_iou(activation, 1.0, mask), float)


@pytest.mark.parametrize("quantile", [0.5, 0.8])
def test_reference_unit_iou_is_dissection_on_one_image(quantile):
    # unit_concept_iou fires where a >= T_k, T_k the rank-th smallest value (rank = round(q · pixels));
    # with distinct values that is a > the value just below T_k, our threshold rule.
    activation = torch.randperm(30, generator=torch.Generator().manual_seed(3)).float().view(5, 6)
    mask = torch.zeros(5, 6, dtype=torch.bool)
    mask[1:4, 2:5] = True
    model = nn.Sequential(nn.Identity())   # layer "0" gives the image: 1×1×5×6 feature maps
    dissected = unit_concept_iou(model, "0", activation[None, None], {"concept": mask[None]},
                                 quantile=quantile)
    rank = round(quantile * 30)
    below = float(activation.flatten().kthvalue(rank - 1).values)
    assert float(dissected[0, 0]) == pytest.approx(reference_unit_iou(activation, below, mask))


def iou_with(*, at_least=False, divide="union", inverted=False, guard=True, as_tensor=False):
    """A unit_iou with one typical mistake (or, by default, none)."""
    def unit_iou(activation, threshold, mask):
        firing = activation >= threshold if at_least else activation > threshold
        firing = ~firing if inverted else firing
        both, fires, masked = (firing & mask).sum(), firing.sum(), mask.sum()
        bottom = {"union": fires + masked - both, "mask": masked, "firing": fires, "sum": fires + masked,
                  "dice": (fires + masked) / 2}[divide]
        if as_tensor:
            return both.float() / bottom
        if guard and int(bottom) == 0:
            return 0.0
        return both.item() / bottom.item()
    return unit_iou


def test_unit_iou_check_accepts_the_reference_and_variants(stub, expect_failure, capsys):
    checks.check_unit_iou(reference_unit_iou)
    checks.check_unit_iou(iou_with())

    def with_numpy(activation, threshold, mask):
        firing, mask = activation.numpy() > threshold, mask.numpy()
        union = np.logical_or(firing, mask).sum()
        return float(np.logical_and(firing, mask).sum() / union) if union else 0.0

    checks.check_unit_iou(with_numpy)
    assert capsys.readouterr().out.startswith("✓ ")
    expect_failure(checks.check_unit_iou, stub, "not implemented yet")


@pytest.mark.parametrize("mistake, words", [
    ({"at_least": True}, "a pixel exactly at the threshold does not fire: use activation > threshold"),
    ({"divide": "mask"}, "you divided by the mask's area (that is recall)"),
    ({"divide": "firing"}, "you divided by the firing area (that is precision)"),
    ({"divide": "sum"}, "adding the two areas counts the intersection twice"),
    ({"divide": "dice"}, "that is the Dice coefficient"),
    ({"inverted": True}, "the threshold is inverted"),
    ({"inverted": True, "at_least": True}, "the threshold is inverted"),
])
def test_unit_iou_mistakes(expect_failure, mistake, words):
    expect_failure(checks.check_unit_iou, iou_with(**mistake), words)


def test_unit_iou_empty_union_and_types(expect_failure):
    expect_failure(checks.check_unit_iou, iou_with(guard=False),
                   "unit_iou raised ZeroDivisionError: division by zero")
    expect_failure(checks.check_unit_iou, iou_with(guard=False), "the union is empty; return 0.0")

    def numpy_nan(activation, threshold, mask):
        firing, mask = activation.numpy() > threshold, mask.numpy()
        with np.errstate(invalid="ignore"):
            return np.logical_and(firing, mask).sum() / np.float64(np.logical_or(firing, mask).sum())

    expect_failure(checks.check_unit_iou, numpy_nan,
                   "unit_iou returned nan, expected 0.0000: neither does the unit fire nor has the mask "
                   "a pixel")
    expect_failure(checks.check_unit_iou, iou_with(as_tensor=True),
                   "unit_iou returned a torch tensor; expected a Python number: return its value with "
                   ".item()")


def test_unit_iou_cases_have_values_at_the_threshold_and_an_empty_union(capsys):
    seen = []

    def record(activation, threshold, mask):
        seen.append((int((activation == threshold).sum()), int(((activation > threshold) | mask).sum())))
        return reference_unit_iou(activation, threshold, mask)

    checks.check_unit_iou(record)
    assert seen[0][0] > 0 and seen[1][0] > 0 and seen[2][1] == 0
