"""Checks for lesson 08's exercises: vanilla_saliency, occlusion_map, grad_cam_map.

The models of the cases are small seeded conv nets with batch norm (running statistics away
from their defaults, so that eval and training mode differ); every call of the student's
function gets its own copy of the model, so a call cannot change what the hints compare with.
"""

import copy

import numpy as np
import torch
import torch.nn as nn

from .architectures import Tensor
from .harness import Case, first_mismatch, run_cases

__all__ = ["check_vanilla_saliency", "check_occlusion_map", "check_grad_cam_map",
           "reference_vanilla_saliency", "reference_occlusion_map", "reference_grad_cam_map"]

CLASSES = 5  # outputs of the cases' models
LOGIT_SCALE = 30  # on the last layer's weights: logits of a few units, pixel gradients near 1


def _close(got, expected):
    """Same shape and the same values up to float32 rounding (relative to the largest value)."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    tolerance = 1e-5 * float(np.abs(expected).max(initial=0.0)) + 1e-7
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=1e-4, atol=tolerance))


def _as_arrays(suspects):
    """(hint, tensor) pairs as (hint, float array) pairs."""
    return [(hint, wrong.detach().numpy().astype(float)) for hint, wrong in suspects]


def _random_net(channels, height, width, seed):
    """A seeded conv net C×H×W -> CLASSES logits with batch norm, in training mode.

    conv 3×3 -> BN -> ReLU -> 2×2 max pool -> conv 3×3 -> BN -> ReLU -> flatten -> linear: the
    linear layer on the flattened maps makes every place of the image matter differently. The
    global random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Sequential(
            nn.Conv2d(channels, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Flatten(),
            nn.Linear(6 * (height // 2) * (width // 2), CLASSES))
        with torch.no_grad():
            net[-1].weight.mul_(LOGIT_SCALE)
            for bn in (m for m in net.modules() if isinstance(m, nn.BatchNorm2d)):
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.3, 2.0)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.3, 0.3)
    return net.train()


def _random_image(channels, height, width, seed):
    return torch.rand(channels, height, width, generator=torch.Generator().manual_seed(seed))


def _logits(model, image, train=False):
    """The logits (CLASSES,) of one image C×H×W, on a copy of the model in eval (or training) mode."""
    net = copy.deepcopy(model).train(train)
    with torch.no_grad():
        return net(image[None])[0]


def _shape_words(shape):
    return "(" + ", ".join(map(str, shape)) + ")"


def _model_error(message):
    """Extra words for the errors a forward pass of one image C×H×W typically raises, or None."""
    if "expected 4D input" in message or "Expected 4D" in message or "mat1 and mat2" in message:
        return ("The model takes a batch N×C×H×W: pass it image.unsqueeze(0) (or image[None]), a batch "
                "of one image, and take element 0 of what comes back.")
    return None


# --- Exercise: vanilla_saliency ----------------------------------------------------------------

def reference_vanilla_saliency(model, image, target):
    """Simonyan et al.'s saliency map of one image: max over channels of |d logit_target / d image|.

    model: a classifier of batches N×C×H×W (put in eval mode here); image: C×H×W; target: a
    class index. Returns an H×W tensor.
    """
    model.eval()
    x = image.detach().clone()[None].requires_grad_(True)
    score = model(x)[0, target]
    (gradient,) = torch.autograd.grad(score, x)
    return gradient[0].abs().amax(dim=0)


def _input_gradient(model, image, score, train=False):
    """d score(logits) / d image (C×H×W) on a copy of the model in eval (or training) mode."""
    net = copy.deepcopy(model).train(train)
    x = image.detach().clone()[None].requires_grad_(True)
    with torch.enable_grad():
        (gradient,) = torch.autograd.grad(score(net(x)[0]), x)
    return gradient[0]


_CHANNEL_WORDS = ("over the channels take the largest absolute gradient, gradient.abs().amax(dim=0): "
                  "a pixel matters if any of its colours does")


def _saliency_suspects(model, image, target):
    eval_prediction = int(_logits(model, image).argmax())
    train_prediction = int(_logits(model, image, train=True).argmax())
    logit = _input_gradient(model, image, lambda logits: logits[target])
    yield ("you computed it in training mode: call model.eval() first, so that batch norm uses its "
           "running statistics (as the trained model does at test time).",
           _input_gradient(model, image, lambda logits: logits[target], train=True).abs().amax(0))
    yield ("that is the gradient of the softmax probability; the saliency map is the gradient of the "
           "class score itself, the logit model(x)[0, target], before any softmax.",
           _input_gradient(model, image, lambda logits: logits.softmax(0)[target]).abs().amax(0))
    yield ("that is the gradient of the cross-entropy loss (the log-probability); the saliency map is "
           "the gradient of the logit model(x)[0, target], with no softmax or loss.",
           _input_gradient(model, image, lambda logits: logits.log_softmax(0)[target]).abs().amax(0))
    for predicted in {eval_prediction, train_prediction} - {target}:
        yield ("that is the map of the predicted class; compute the gradient of the logit of `target`, "
               "which the case chose to differ from the prediction.",
               _input_gradient(model, image, lambda logits, c=predicted: logits[c]).abs().amax(0))
    yield f"the absolute value is missing: {_CHANNEL_WORDS}.", logit.amax(0)
    yield ("take the absolute value before the max over the channels, not after: "
           f"{_CHANNEL_WORDS}.", logit.amax(0).abs())
    for wrong in (logit.abs().sum(0), logit.sum(0).abs(), logit.sum(0)):
        yield f"you summed over the channels; {_CHANNEL_WORDS}.", wrong
    for wrong in (logit.abs().mean(0), logit.mean(0).abs(), logit.mean(0)):
        yield f"you averaged over the channels; {_CHANNEL_WORDS}.", wrong
    yield f"you took the norm over the channels; {_CHANNEL_WORDS}.", logit.norm(dim=0)


def _saliency_shape_hint(got, model, image, target):
    channels, height, width = image.shape
    if got == (1, channels, height, width):
        return ("that is the gradient of x = image[None], batch axis and all: take element 0, then "
                f"{_CHANNEL_WORDS}.")
    if got == (channels, height, width) and channels > 1:
        return f"that is the gradient of every channel; {_CHANNEL_WORDS}."
    if got == (1, height, width):
        return ("one axis of length 1 too many: drop the batch axis (element 0 of the gradient of "
                "image[None]) and reduce the channel axis (amax(dim=0), without keepdim).")
    return None


def _saliency_error(message, model, image, target):
    extra = _model_error(message)
    if extra:
        return extra
    if "does not require grad" in message:
        return ("Autograd gives gradients only for tensors that ask for them: make x = image[None]"
                ".clone().requires_grad_(True) before the forward pass.")
    if "only for scalar outputs" in message:
        return "Backpropagate one number: the target's logit, model(x)[0, target]."
    if "out of bounds for dimension 0 with size 1" in message:
        return "The logits have shape (1, classes) for a batch of one: take model(x)[0, target]."
    return None


def _saliency_values_hint(got, model, image, target):
    expected = reference_vanilla_saliency(copy.deepcopy(model), image, target).detach().numpy()
    return (f"{first_mismatch(got, expected)}; the map is the max over the channels of "
            "|d model(x)[0, target] / d x|, with the model in eval mode.")


def check_vanilla_saliency(fn):
    """Compare ``fn(model, image, target)`` with the reference on 1- and 3-channel images.

    The models come in training mode; the reference computes in eval mode. Each target differs
    from the model's prediction.
    """
    problems = [(0, 1, 8, 8), (1, 3, 10, 10), (2, 3, 12, 8)]
    cases = []
    for seed, channels, height, width in problems:
        model = _random_net(channels, height, width, seed)
        image = _random_image(channels, height, width, seed)
        target = (int(_logits(model, image).argmax()) + 2) % CLASSES
        expected = reference_vanilla_saliency(copy.deepcopy(model), image, target).numpy().astype(float)
        cases.append(Case((model, image, target), expected,
                          f"image of shape {_shape_words(image.shape)}, target {target}, the model "
                          "given in training mode"))

    def vanilla_saliency(model, image, target):
        return fn(copy.deepcopy(model), image, target)

    run_cases(vanilla_saliency, "vanilla_saliency", cases, Tensor(), compare=_close, shape_rule="(H, W)",
              explain_shape=_saliency_shape_hint,
              suspects=lambda *args: _as_arrays(_saliency_suspects(*args)),
              explain_values=_saliency_values_hint, explain_error=_saliency_error)
    print(f"✓ vanilla_saliency matches max over channels of |d logit / d image| on {len(cases)} images "
          "(1 and 3 channels, model in eval mode).")


# --- Exercise: occlusion_map -------------------------------------------------------------------

def reference_occlusion_map(model, image, target, window, baseline=0.0):
    """Drop of the target logit when each window×window patch is covered: (H // window, W // window).

    Entry (i, j) is ``logit(image) − logit(image with rows i·window.. and columns j·window.. of
    every channel set to baseline)``; positive where covering the patch lowers the score.
    model: a classifier (put in eval mode here); image: C×H×W with H and W multiples of window.
    """
    model.eval()
    rows, cols = image.shape[1] // window, image.shape[2] // window
    drops = torch.zeros(rows, cols)
    with torch.no_grad():
        score = model(image[None])[0, target]
        for i in range(rows):
            for j in range(cols):
                covered = image.clone()
                covered[:, i * window:(i + 1) * window, j * window:(j + 1) * window] = baseline
                drops[i, j] = score - model(covered[None])[0, target]
    return drops


def _occlusion_scores(model, image, window, baseline, channels=None):
    """The logits of the image (CLASSES,) and of every occluded copy (rows, cols, CLASSES)."""
    rows, cols = image.shape[1] // window, image.shape[2] // window
    covered = image.repeat(rows * cols, 1, 1, 1)
    channels = slice(None) if channels is None else channels
    for index in range(rows * cols):
        i, j = divmod(index, cols)
        covered[index, channels, i * window:(i + 1) * window, j * window:(j + 1) * window] = baseline
    net = copy.deepcopy(model).eval()
    with torch.no_grad():
        return net(image[None])[0], net(covered).view(rows, cols, -1)


def _occlusion_suspects(model, image, target, window, baseline=0.0):
    clear, covered = _occlusion_scores(model, image, window, baseline)
    right = clear[target] - covered[..., target]
    yield ("the sign is flipped: the map is logit(image) − logit(occluded), positive where covering "
           "the patch lowers the score.", -right)
    yield ("you used the softmax probability; the map is the drop of the logit model(x)[0, target], "
           "before any softmax.", clear.softmax(0)[target] - covered.softmax(-1)[..., target])
    for wrong in (covered[..., target], -covered[..., target]):
        yield ("that is the occluded images' logit; the map is its drop from the unoccluded image's: "
               "logit(image) − logit(occluded).", wrong)
    if right.shape[0] == right.shape[1]:
        yield ("the map is transposed: entry (i, j) is the patch at rows i·window.. and columns "
               "j·window.., so i runs down the image and j across.", right.T)
    if baseline != 0:
        _, black = _occlusion_scores(model, image, window, 0.0)
        yield (f"you covered the patches with 0, not with baseline ({baseline:g}).",
               clear[target] - black[..., target])
    if image.shape[0] > 1:
        _, first = _occlusion_scores(model, image, window, baseline, channels=0)
        yield ("you covered channel 0 only; set the patch to baseline in every channel: "
               "covered[:, rows, cols] = baseline.", clear[target] - first[..., target])


def _occlusion_shape_hint(got, model, image, target, window, baseline=0.0):
    height, width = image.shape[1:]
    if got == (width // window, height // window) and height != width:
        return ("the map is transposed: its shape is (H // window, W // window), rows first; entry (i, j) is "
                "the patch at rows i·window.. and columns j·window...")
    if got == (height - window + 1, width - window + 1):
        return ("you slid the window one pixel at a time; move it by a whole window (stride = window), "
                "so that the patches tile the image: rows i·window to (i + 1)·window.")
    if got == (height, width):
        return "return one value per patch, not per pixel: (H // window, W // window) patches."
    return None


def _occlusion_error(message, *args):
    return _model_error(message)


def _occlusion_values_hint(got, model, image, target, window, baseline=0.0):
    expected = reference_occlusion_map(copy.deepcopy(model), image, target, window, baseline).numpy()
    return (f"{first_mismatch(got, expected)}; entry (i, j) is logit(image) − logit(image with the "
            "window×window patch at rows i·window.., columns j·window.. set to baseline, in every channel).")


def check_occlusion_map(fn):
    """Compare ``fn(model, image, target, window[, baseline])`` with the reference.

    Cases: square and non-square images, 1 and 3 channels, windows 2 and 4, baselines 0 (the
    default) and 0.5; the models come in eval mode.
    """
    problems = [(0, 1, 8, 8, 2, None), (1, 3, 12, 8, 2, 0.5), (2, 3, 8, 12, 4, 0.0)]
    cases = []
    for seed, channels, height, width, window, baseline in problems:
        model = _random_net(channels, height, width, seed + 10).eval()
        image = _random_image(channels, height, width, seed + 10)
        target = (int(_logits(model, image).argmax()) + 1) % CLASSES
        args = (model, image, target, window) + (() if baseline is None else (baseline,))
        expected = reference_occlusion_map(copy.deepcopy(model), *args[1:]).numpy().astype(float)
        about = (f"image of shape {_shape_words(image.shape)}, window {window}, "
                 + ("baseline left at its default 0.0" if baseline is None else f"baseline {baseline:g}"))
        cases.append(Case(args, expected, about))

    def occlusion_map(model, *args):
        return fn(copy.deepcopy(model), *args)

    run_cases(occlusion_map, "occlusion_map", cases, Tensor(), compare=_close,
              shape_rule="(H // window, W // window)", explain_shape=_occlusion_shape_hint,
              suspects=lambda *args: _as_arrays(_occlusion_suspects(*args)),
              explain_values=_occlusion_values_hint, explain_error=_occlusion_error)
    print(f"✓ occlusion_map matches logit(image) − logit(occluded) on {len(cases)} images "
          "(1 and 3 channels, windows 2 and 4, baselines 0 and 0.5).")


# --- Exercise: grad_cam_map --------------------------------------------------------------------

def reference_grad_cam_map(feature_maps, gradients):
    """Grad-CAM of one image from a layer's maps A (K×h×w) and d logit / d A (K×h×w): h×w.

    α_k is the mean of gradients[k] over the h×w places; the map is relu(Σ_k α_k · A_k).
    """
    weights = gradients.mean(dim=(1, 2))
    return torch.relu((weights[:, None, None] * feature_maps).sum(dim=0))


_WEIGHT_WORDS = ("α_k = gradients[k].mean() over the h×w places, then relu(Σ_k α_k · feature_maps[k])")


def _grad_cam_suspects(feature_maps, gradients):
    maps, grads = feature_maps, gradients
    alpha = grads.mean(dim=(1, 2))[:, None, None]
    weighted = (alpha * maps).sum(0)
    yield ("the ReLU is missing: Grad-CAM keeps only the places that raise the class score, "
           "relu(Σ_k α_k · A_k).", weighted)
    yield ("the ReLU belongs on the map, not on the weights: relu(Σ_k α_k · A_k), where negative α_k "
           "still subtract.", (torch.relu(alpha) * maps).sum(0))
    yield ("the ReLU belongs on the map, not on the weights: relu(Σ_k α_k · A_k), where negative α_k "
           "still subtract.", torch.relu((torch.relu(alpha) * maps).sum(0)))
    height, width = grads.shape[1:]
    summed = grads.sum(dim=(1, 2))[:, None, None]
    yield (f"you summed the gradients over the places; α_k is their mean (the sum is h·w = "
           f"{height * width} times too large).", torch.relu((summed * maps).sum(0)))
    yield (f"the weights come from the gradients, not from the feature maps: {_WEIGHT_WORDS}.",
           torch.relu((maps.mean(dim=(1, 2))[:, None, None] * maps).sum(0)))
    yield ("you used the absolute gradients; α_k is the mean of the signed gradients, so that maps "
           f"that lower the score count against: {_WEIGHT_WORDS}.",
           torch.relu((grads.abs().mean(dim=(1, 2))[:, None, None] * maps).sum(0)))
    across = grads.mean(dim=0)
    for wrong in (torch.relu((across * maps).sum(0)), torch.relu((across * maps).mean(0))):
        yield ("you averaged the gradients over the channels (weights of shape (h, w)); average each "
               f"channel over the places (one weight per channel): {_WEIGHT_WORDS}.", wrong)
    yield ("you averaged over the channels instead of summing them: relu(Σ_k α_k · A_k).",
           torch.relu((alpha * maps).mean(0)))
    if grads.shape[0] == width:   # (K,) weights broadcast along the last axis without an error
        yield ("the weights of shape (K,) were broadcast along the width, not the channels: use "
               "alpha[:, None, None] (shape (K, 1, 1)) so that α_k scales the whole map k.",
               torch.relu((grads.mean(dim=(1, 2)) * maps).sum(0)))


def _grad_cam_shape_hint(got, feature_maps, gradients):
    channels, height, width = feature_maps.shape
    if got == (channels, height, width):
        return "you weighted the maps but did not add them up: sum over the channel axis (dim 0)."
    if got == (1, height, width):
        return "drop the channel axis: sum over dim 0 without keepdim."
    if got in ((channels,), (channels, 1, 1)):
        return "those are the weights α_k; the map is relu(Σ_k α_k · feature_maps[k]), of shape (h, w)."
    return None


def _grad_cam_error(message, feature_maps, gradients):
    if "must match the size" in message or "broadcast" in message:
        return ("The weights α (one per channel, shape (K,)) must scale whole maps: reshape them to "
                "(K, 1, 1) with alpha[:, None, None] before multiplying with the (K, h, w) feature maps.")
    return None


def _grad_cam_values_hint(got, feature_maps, gradients):
    expected = reference_grad_cam_map(feature_maps, gradients).numpy()
    return f"{first_mismatch(got, expected)}; {_WEIGHT_WORDS}."


def _grad_cam_problem(seed, channels, height, width, signed_maps):
    """(feature_maps, gradients): maps ≥ 0 (after a ReLU) or signed, gradients whose channel means
    have both signs, so that the map has places above and below zero before its ReLU."""
    generator = torch.Generator().manual_seed(seed)
    maps = torch.randn(channels, height, width, generator=generator)
    maps = maps if signed_maps else torch.relu(maps + 0.3)
    offsets = torch.linspace(-1, 1, channels)[torch.randperm(channels, generator=generator)]
    gradients = 0.5 * torch.randn(channels, height, width, generator=generator) + offsets[:, None, None]
    return maps, gradients


def check_grad_cam_map(fn):
    """Compare ``fn(feature_maps, gradients)`` (K×h×w each) with relu(Σ_k mean(gradients_k) · A_k)."""
    problems = [(0, 5, 4, 5, False), (1, 6, 7, 3, True), (2, 8, 3, 3, False)]
    cases = []
    for seed, channels, height, width, signed in problems:
        args = _grad_cam_problem(seed, channels, height, width, signed)
        about = (f"{channels} feature maps of {height}×{width}, "
                 + ("signed" if signed else "after a ReLU (≥ 0)") + ", signed gradients")
        cases.append(Case(args, reference_grad_cam_map(*args).numpy().astype(float), about))

    def grad_cam_map(*args):
        with torch.no_grad():
            return fn(*args)

    run_cases(grad_cam_map, "grad_cam_map", cases, Tensor(), compare=_close, shape_rule="(h, w)",
              explain_shape=_grad_cam_shape_hint,
              suspects=lambda *args: _as_arrays(_grad_cam_suspects(*args)),
              explain_values=_grad_cam_values_hint, explain_error=_grad_cam_error)
    print(f"✓ grad_cam_map matches relu(Σ_k α_k · A_k), α_k the mean gradient of map k, on {len(cases)} "
          "layers.")
