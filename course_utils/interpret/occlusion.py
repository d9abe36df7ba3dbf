"""Occlusion (Zeiler & Fergus 2014): how much the class score drops when a patch is covered.

A window slides over the image; at each position the covered pixels are set to ``baseline``
and the target logit is measured again. Each pixel gets the mean drop ``f(x) − f(occluded)``
over the windows that covered it, as Captum's ``Occlusion``. Windows start at 0, s, 2s, ...
along each dimension until one reaches the far edge; the last may stick out and is then cut
at the edge (Captum's placement), so every pixel is covered.
"""

import itertools
import math

import torch

from .inputs import prepare, target_scores
from .modes import evaluating

__all__ = ["occlusion", "window_starts"]


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _triple(value, name):
    """(channels, height, width) from a sequence of three positive ints, else a ValueError."""
    try:
        triple = tuple(value)
    except TypeError:
        triple = ()
    if len(triple) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in triple):
        raise ValueError(f"{name} must be an int or three ints (channels, height, width), got {value!r}")
    return triple


def window_starts(size, window, stride):
    """Start indices of the windows along one dimension of ``size``: 0, stride, ... (Captum's)."""
    if not 1 <= window <= size:
        raise ValueError(f"the window ({window}) must be between 1 and the image's size ({size})")
    if stride < 1 or (stride > window and window < size):
        raise ValueError(f"stride {stride} must be between 1 and the window {window}: a larger "
                         "stride would leave pixels that no window covers")
    return [k * stride for k in range(math.ceil((size - window) / stride) + 1)]


def occlusion(model, images, target, window=5, stride=1, baseline=0.0, batch_size=256):
    """Mean drop of each image's target logit when windows around each pixel are occluded: N×C×H×W.

    Args:
        model, images, target: as in :func:`course_utils.interpret.saliency`.
        window: an int w for a w×w square through all channels (C×w×w), or (c, h, w) as
            Captum's ``sliding_window_shapes``; for grey images 5 is Captum's (1, 5, 5).
        stride: an int s steps the window by s pixels in height and width and by its own
            depth across channels; or (c, h, w) as Captum's ``strides``. (Captum's int stride
            also applies to channels, which it then refuses for windows thinner than C.)
        baseline: the value covered pixels take: a number, or a tensor that broadcasts to
            the images (C×H×W or N×C×H×W), as Captum's ``baselines``.
        batch_size: about how many occluded images go through the model at once.

    Returns:
        N×C×H×W on the images' device: positive where covering the pixels lowers the logit.
        The score is the model's output (logits); for probabilities occlude a model that ends
        in softmax. Costs one forward pass of N images per window position (H·W at stride 1).
    """
    batch = prepare(model, images, target)
    x = batch.images
    channels, height, width = x.shape[1:]
    shape = (channels, window, window) if _is_int(window) else _triple(window, "window")
    steps = (shape[0], stride, stride) if _is_int(stride) else _triple(stride, "stride")
    starts = [window_starts(size, w, s) for size, w, s in zip((channels, height, width), shape, steps)]
    windows = [tuple(slice(start, start + w) for start, w in zip(corner, shape))
               for corner in itertools.product(*starts)]
    try:
        fill = torch.broadcast_to(torch.as_tensor(baseline, dtype=x.dtype, device=x.device), x.shape)
    except RuntimeError as error:
        raise ValueError(f"baseline must be a number or a tensor that broadcasts to the images "
                         f"{tuple(x.shape)}") from error
    total, covered = torch.zeros_like(x), torch.zeros(x.shape[1:], dtype=x.dtype, device=x.device)
    per_pass = max(1, batch_size // len(x))
    with torch.no_grad(), evaluating(model):
        reference = target_scores(model(x), batch.target)
        for first in range(0, len(windows), per_pass):
            chunk = windows[first:first + per_pass]
            occluded = x.repeat(len(chunk), 1, 1, 1).view(len(chunk), *x.shape)
            for copy, region in zip(occluded, chunk):
                copy[(slice(None), *region)] = fill[(slice(None), *region)]
            scores = target_scores(model(occluded.flatten(0, 1)), batch.target.repeat(len(chunk)))
            drops = reference - scores.view(len(chunk), len(x))
            for drop, region in zip(drops, chunk):
                total[(slice(None), *region)] += drop.view(-1, 1, 1, 1)
                covered[region] += 1
    return batch.back(total / covered)
