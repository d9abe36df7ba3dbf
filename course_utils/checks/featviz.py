"""Checks for lesson 09's exercises: total_variation, fooling_step, unit_iou.

* ``total_variation(image)``: the anisotropic total variation of one image C×H×W, a scalar
  tensor that autograd can differentiate (a prior added to a loss);
* ``fooling_step(image, gradient, step)``: one normalised gradient-ascent step of a fooling
  image, clamped to [0, 1] (CS231n; as :func:`course_utils.interpret.fooling_image` steps);
* ``unit_iou(activation, threshold, mask)``: Network Dissection's IoU of one unit's firing
  region with one concept's mask, on one H×W map.
"""

import math
import numbers

import numpy as np
import torch

from .architectures import Tensor
from .harness import Case, CheckFailed, Number, Returns, first_mismatch, run_cases, wrong_shape, wrong_type

__all__ = ["check_total_variation", "check_fooling_step", "check_unit_iou",
           "reference_total_variation", "reference_fooling_step", "reference_unit_iou"]


def _close_number(got, expected):
    """The same number up to float32 rounding (a NaN is never close)."""
    return math.isclose(float(got), float(expected), rel_tol=1e-5, abs_tol=1e-7)


def _close_array(got, expected):
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=1e-5, atol=1e-6))


def _shape_words(shape):
    return "(" + ", ".join(map(str, shape)) + ")"


# --- Exercise: total_variation -----------------------------------------------------------------

def reference_total_variation(image):
    """Σ |x[:, i+1, j] − x[:, i, j]| + Σ |x[:, i, j+1] − x[:, i, j]| over channels and positions.

    image: C×H×W. Differences between neighbours inside the image only (no wrap-around):
    (H−1)×W vertical and H×(W−1) horizontal ones per channel. Returns a 0-d tensor,
    differentiable in ``image``. (course_utils.interpret's ``total_variation`` is Mahendran &
    Vedaldi's TV^β, a different prior: squared differences for β = 2, an isotropic root for β = 1.)
    """
    down = image[:, 1:, :] - image[:, :-1, :]
    right = image[:, :, 1:] - image[:, :, :-1]
    return down.abs().sum() + right.abs().sum()


_TV_WORDS = ("Σ |x[:, i+1, j] − x[:, i, j]| + Σ |x[:, i, j+1] − x[:, i, j]|, summed over the channels and "
             "every position inside the image")


def _tv_suspects(image):
    down = image[:, 1:, :] - image[:, :-1, :]
    right = image[:, :, 1:] - image[:, :, :-1]
    wrapped_down, wrapped_right = image - image.roll(1, dims=1), image - image.roll(1, dims=2)
    yield ("you summed the vertical differences only (x[:, i+1, j] − x[:, i, j]); add the horizontal "
           "ones x[:, i, j+1] − x[:, i, j] too.", down.abs().sum())
    yield ("you summed the horizontal differences only (x[:, i, j+1] − x[:, i, j]); add the vertical "
           "ones x[:, i+1, j] − x[:, i, j] too.", right.abs().sum())
    yield (f"you squared the differences; the (anisotropic) total variation takes their absolute values: "
           f"{_TV_WORDS}.", down.pow(2).sum() + right.pow(2).sum())
    right_answer = down.abs().sum() + right.abs().sum()
    for wrong in (down.abs().mean() + right.abs().mean(), right_answer / image.numel(),
                  torch.cat([down.abs().flatten(), right.abs().flatten()]).mean()):
        yield f"you averaged; the total variation is a sum: {_TV_WORDS}.", wrong
    yield ("torch.roll wraps around: its differences include last row − first row and last column − "
           "first column, which are not neighbours. Slice instead: x[:, 1:, :] − x[:, :-1, :].",
           wrapped_down.abs().sum() + wrapped_right.abs().sum())
    yield (f"that is Σ |x|, the size of the pixels; the total variation sums the absolute differences "
           f"between neighbours: {_TV_WORDS}.", image.abs().sum())
    yield ("the absolute value is missing: signed differences cancel out (a sum of differences "
           f"telescopes). {_TV_WORDS}.", down.sum() + right.sum())
    yield (f"that is the isotropic total variation √(dy² + dx²); this exercise asks for the anisotropic one: "
           f"{_TV_WORDS}.", (down[:, :, :-1].pow(2) + right[:, :-1, :].pow(2)).sqrt().sum())


def _tv_values_hint(got, image):
    return f"expected {_TV_WORDS}."


class _DifferentiableScalar(Returns):
    """A one-element torch tensor that autograd can differentiate with respect to the image the
    student's function got (``self.image``, set before each call); read as a Python float.

    A result that is not a tensor fails at once; one that autograd cannot differentiate fails
    once every value is right (``check_all``), so that a wrong formula is explained first.
    """

    what = "a torch tensor (one number)"

    def __init__(self):
        self.image = None
        self.trouble = None   # the first answer's differentiation problem, in words

    def read(self, got, name):
        if isinstance(got, (np.ndarray, torch.Tensor)) and got.ndim and np.prod(got.shape) != 1:
            raise CheckFailed(wrong_shape(name, got.shape, "a single number", self._shape_hint(got.shape)))
        if not isinstance(got, torch.Tensor):
            numeric = isinstance(got, (numbers.Number, np.generic, np.ndarray))
            advice = ("autograd cannot differentiate a Python or numpy number: keep to torch operations "
                      "(no .item(), float() or .numpy()) so that the penalty can be added to a loss")
            raise wrong_type(name, got, self.what, advice if numeric else "")
        if self.trouble is None:
            self.trouble = self._differentiation_trouble(got, name)
        return float(got.detach())

    def _differentiation_trouble(self, got, name):
        """Words for why autograd cannot differentiate ``got`` with respect to the image, or None."""
        if got.grad_fn is None:
            return (f"{name} returned a tensor that autograd cannot differentiate (no grad_fn): compute it "
                    "from the image with torch operations, without .detach(), torch.tensor(...) or "
                    "torch.no_grad(), so that the penalty can steer an image.")
        try:
            (gradient,) = torch.autograd.grad(got.sum(), self.image)
        except RuntimeError as error:
            return (f"torch.autograd.grad of {name}'s result with respect to the image failed: {error}. "
                    "Compute the result from the image itself.")
        if not torch.isfinite(gradient).all():
            return (f"the gradient of {name}'s result has NaN or infinite entries where two neighbours are "
                    "equal: √(d²) has no derivative at d = 0; use d.abs().")
        return None

    def check_all(self, answers, name):
        """Every value is right: CheckFailed if autograd could not differentiate an answer."""
        if self.trouble:
            raise CheckFailed(f"The values are right, but {self.trouble}")

    def _shape_hint(self, shape):
        channels, height, width = self.image.shape
        if tuple(shape) == (channels,) and channels > 1:
            return "you summed each channel separately; add the channels up too: one number for the image."
        if tuple(shape) in ((channels, height - 1, width), (channels, height, width - 1)):
            return "those are the differences; sum their absolute values into one number."
        return None


def _tv_error(message, image):
    if "in-place" in message or "inplace" in message:
        return ("Do not change the image in place (abs_(), +=, clamp_ on it): compute the differences as "
                "new tensors, x[:, 1:, :] − x[:, :-1, :].")
    if "can't call numpy()" in message or "Can't call numpy()" in message:
        return "Keep to torch operations (no .numpy()), so that autograd can differentiate the result."
    return None


def _tv_image(seed, channels, height, width):
    """Random pixels in [0, 1] with a flat patch: some differences are exactly zero."""
    image = torch.rand(channels, height, width, generator=torch.Generator().manual_seed(seed))
    image[:, :2, :2] = 0.5
    return image


def check_total_variation(fn):
    """Compare ``fn(image)`` (C×H×W) with the anisotropic total variation; the result must be a
    tensor that ``torch.autograd.grad`` can differentiate with respect to the image."""
    problems = [(0, 1, 5, 6), (1, 3, 4, 4), (2, 2, 6, 3)]
    cases = [Case((_tv_image(*problem),), float(reference_total_variation(_tv_image(*problem))),
                  f"image of shape {_shape_words(problem[1:])}") for problem in problems]
    returns = _DifferentiableScalar()

    def total_variation(image):
        returns.image = image.clone().requires_grad_(True)
        return fn(returns.image)

    run_cases(total_variation, "total_variation", cases, returns, compare=_close_number,
              suspects=lambda image: [(hint, float(wrong)) for hint, wrong in _tv_suspects(image)],
              explain_values=_tv_values_hint, explain_error=_tv_error)
    print(f"✓ total_variation matches Σ|vertical| + Σ|horizontal differences| on {len(cases)} images "
          "(1 to 3 channels) and autograd differentiates it.")


# --- Exercise: fooling_step --------------------------------------------------------------------

def reference_fooling_step(image, gradient, step):
    """clamp(image + step · gradient / ||gradient||₂, 0, 1): one normalised gradient-ascent step.

    image, gradient: C×H×W (the gradient of the target class's score with respect to the
    image); ||gradient||₂ is the L2 norm over the whole image, so the step has length ``step``
    before the clamp. Returns a C×H×W tensor in [0, 1].
    """
    return (image + step * gradient / gradient.norm()).clamp(0, 1)


_STEP_WORDS = "clamp(image + step · gradient / ||gradient||₂, 0, 1), the norm taken over the whole image"


def _fooling_suspects(image, gradient, step):
    direction = gradient / gradient.norm()
    words = f"the step is {_STEP_WORDS}"
    yield ("you stepped down the gradient; a fooling image climbs the target's score: image + step · "
           "gradient / ||gradient||₂.", (image - step * direction).clamp(0, 1))
    yield (f"the clamp is missing: pixels must stay in [0, 1], the range of the images; {words}.",
           image + step * direction)
    yield (f"clamp to [0, 1], the range of the images, not to [-1, 1]: {_STEP_WORDS}.",
           (image + step * direction).clamp(-1, 1))
    yield (f"the gradient is not normalised: divide it by its L2 norm, gradient.norm(), so that every "
           f"step has the same length whatever the gradient's size; {words}.",
           (image + step * gradient).clamp(0, 1))
    yield (f"you normalised by the largest |gradient| (an L∞ norm); divide by the L2 norm, "
           f"gradient.norm(); {words}.", (image + step * gradient / gradient.abs().max()).clamp(0, 1))
    yield (f"that is a sign step (FGSM), which moves every pixel by ±step; this exercise steps along "
           f"gradient / ||gradient||₂: {_STEP_WORDS}.", (image + step * gradient.sign()).clamp(0, 1))
    yield (f"you divided by the squared norm; divide by the norm itself, gradient.norm(); {words}.",
           (image + step * gradient / gradient.pow(2).sum()).clamp(0, 1))
    yield (f"you normalised by the L1 norm (Σ |g|); divide by the L2 norm, gradient.norm(); {words}.",
           (image + step * gradient / gradient.abs().sum()).clamp(0, 1))
    if image.shape[0] > 1:
        yield (f"you normalised each channel separately; take the norm over the whole image: {_STEP_WORDS}.",
               (image + step * gradient / gradient.norm(dim=(1, 2), keepdim=True)).clamp(0, 1))


def _fooling_shape_hint(got, image, gradient, step):
    if tuple(got) == (1, *image.shape):
        return "drop the batch axis: the image and the step are C×H×W."
    if tuple(got) in ((), (1,)):
        return "return the new image (C×H×W), not a number."
    return None


def _fooling_values_hint(got, image, gradient, step):
    expected = reference_fooling_step(image, gradient, step).numpy()
    return f"{first_mismatch(got, expected)}; expected {_STEP_WORDS}."


def _fooling_problem(seed, channels, height, width):
    """An image with pixels near 0 and near 1, a gradient of both signs, neither of norm 1."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(channels, height, width, generator=generator)
    image.view(-1)[::3] = 0.02
    image.view(-1)[1::3] = 0.97
    gradient = 0.3 * torch.randn(channels, height, width, generator=generator)
    return image, gradient


def check_fooling_step(fn):
    """Compare ``fn(image, gradient, step)`` with clamp(image + step · g / ||g||₂, 0, 1).

    Cases: 1 to 3 channels, pixels near 0 and 1 and steps long enough to push some pixels
    above 1 and below 0 before the clamp (so that a missing or a [-1, 1] clamp shows).
    """
    problems = [(0, 1, 6, 6, 2.5), (1, 3, 4, 5, 4.0), (2, 2, 5, 4, 3.0)]
    cases = []
    for seed, channels, height, width, step in problems:
        image, gradient = _fooling_problem(seed, channels, height, width)
        cases.append(Case((image, gradient, step), reference_fooling_step(image, gradient, step).numpy()
                          .astype(float), f"image of shape {_shape_words(image.shape)}, step {step:g}"))

    def fooling_step(image, gradient, step):
        with torch.no_grad():
            return fn(image, gradient, step)

    def suspects(*args):
        return [(hint, wrong.numpy().astype(float)) for hint, wrong in _fooling_suspects(*args)]

    run_cases(fooling_step, "fooling_step", cases, Tensor(), compare=_close_array,
              shape_rule="image's (C, H, W)", explain_shape=_fooling_shape_hint, suspects=suspects,
              explain_values=_fooling_values_hint)
    print(f"✓ fooling_step matches clamp(image + step · g / ||g||₂, 0, 1) on {len(cases)} images "
          "(1 to 3 channels, pixels clamped at 0 and 1).")


# --- Exercise: unit_iou ------------------------------------------------------------------------

def reference_unit_iou(activation, threshold, mask):
    """IoU of where the unit fires (activation > threshold) with the concept's mask: a float.

    activation: H×W float tensor (one unit's map, at the image's size); mask: H×W bool tensor.
    |firing ∩ mask| / |firing ∪ mask|, and 0.0 when the union is empty. A pixel exactly at the
    threshold does not fire (a ReLU unit with threshold 0 fires where it is positive).
    """
    firing, mask = activation > threshold, mask.bool()
    union = int((firing | mask).sum())
    return int((firing & mask).sum()) / union if union else 0.0


_IOU_WORDS = ("|firing ∩ mask| / |firing ∪ mask| with firing = activation > threshold (0.0 when the union "
              "is empty)")


def _ratio(top, bottom):
    return top / bottom if bottom else 0.0


def _iou_suspects(activation, threshold, mask):
    mask = mask.bool()
    firing = activation > threshold
    both, fires, masked = int((firing & mask).sum()), int(firing.sum()), int(mask.sum())
    at_least = activation >= threshold
    yield ("a pixel exactly at the threshold does not fire: use activation > threshold, not >= (with a "
           "threshold of 0, a ReLU's zeros would count as firing).",
           _ratio(int((at_least & mask).sum()), int((at_least | mask).sum())))
    yield (f"you divided by the mask's area (that is recall); divide by the union: {_IOU_WORDS}.",
           _ratio(both, masked))
    yield (f"you divided by the firing area (that is precision); divide by the union: {_IOU_WORDS}.",
           _ratio(both, fires))
    yield ("that is the Dice coefficient 2|A ∩ B| / (|A| + |B|); IoU divides by the union, |A| + |B| − "
           f"|A ∩ B|: {_IOU_WORDS}.", _ratio(2 * both, fires + masked))
    yield ("the union is |A| + |B| − |A ∩ B|: adding the two areas counts the intersection twice. "
           f"{_IOU_WORDS}.", _ratio(both, fires + masked))
    below = activation < threshold
    yield (f"the threshold is inverted: the unit fires where activation > threshold. {_IOU_WORDS}.",
           _ratio(int((below & mask).sum()), int((below | mask).sum())))
    below_or_at = activation <= threshold
    yield (f"the threshold is inverted: the unit fires where activation > threshold. {_IOU_WORDS}.",
           _ratio(int((below_or_at & mask).sum()), int((below_or_at | mask).sum())))


def _iou_values_hint(got, activation, threshold, mask):
    union = int(((activation > threshold) | mask.bool()).sum())
    if union == 0:
        return ("neither does the unit fire nor has the mask a pixel: the union is empty, and the IoU is "
                "then defined as 0.0 (test for an empty union before dividing).")
    return f"expected {_IOU_WORDS}."


def _iou_error(message, activation, threshold, mask):
    if "division by zero" in message:
        return ("Here the unit fires nowhere and the mask is empty: the union is empty; return 0.0 "
                "then, before dividing.")
    return None


def _iou_problems():
    """(activation, threshold, mask, about): values exactly at the threshold in the first two,
    a ReLU map (zeros) with threshold 0 in the second, an empty union last."""
    generator = torch.Generator().manual_seed(9)
    first = torch.rand(6, 6, generator=generator) * 2 - 0.5
    first.view(-1)[::5] = 0.5
    first_mask = torch.zeros(6, 6, dtype=torch.bool)
    first_mask[1:5, 2:6] = True
    relu = torch.relu(torch.randn(5, 7, generator=generator))
    relu_mask = torch.zeros(5, 7, dtype=torch.bool)
    relu_mask[:3, 1:5] = True
    quiet = -torch.rand(4, 4, generator=generator)
    return [(first, 0.5, first_mask, "6×6 map, threshold 0.5 (some values exactly 0.5), mask a 4×4 block"),
            (relu, 0.0, relu_mask, "5×7 map after a ReLU (zeros), threshold 0, mask a 3×4 block"),
            (quiet, 0.0, torch.zeros(4, 4, dtype=torch.bool),
             "4×4 map below the threshold everywhere and an empty mask: empty union")]


def check_unit_iou(fn):
    """Compare ``fn(activation, threshold, mask)`` (H×W float, a number, H×W bool) with the IoU
    of ``activation > threshold`` and ``mask``; a Python float is expected."""
    cases = [Case((activation, threshold, mask), reference_unit_iou(activation, threshold, mask), about)
             for activation, threshold, mask, about in _iou_problems()]

    def unit_iou(activation, threshold, mask):
        with torch.no_grad():
            return fn(activation, threshold, mask)

    run_cases(unit_iou, "unit_iou", cases, Number(python_float=True), compare=_close_number,
              suspects=lambda *args: list(_iou_suspects(*args)), explain_values=_iou_values_hint,
              explain_error=_iou_error)
    print(f"✓ unit_iou matches |firing ∩ mask| / |firing ∪ mask| on {len(cases)} maps (values at the "
          "threshold, a ReLU map, an empty union).")
