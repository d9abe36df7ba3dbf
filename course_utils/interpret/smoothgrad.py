"""SmoothGrad (Smilkov et al. 2017): the saliency averaged over noisy copies of each image."""

import torch

from .gradients import input_gradients
from .inputs import prepare
from .modes import evaluating

__all__ = ["smoothgrad"]


def smoothgrad(model, images, target, samples=25, noise=0.15, seed=0):
    """Mean gradient of the target logit over ``samples`` noisy copies of each image: N×C×H×W.

    Each copy is ``image + ε`` with ε Gaussian, of standard deviation ``noise · (max − min)``
    of that image (the paper's noise level, 10–20 % of the range, works well). The noise comes
    from a ``torch.Generator`` seeded with ``seed`` on the CPU, so a call gives the same
    result on any device; it is drawn at once, shaped (N, samples, C, H, W) (memory: ``samples``
    times the batch), in the order Captum's ``NoiseTunnel`` draws it from the global generator
    after ``torch.manual_seed(seed)``.

    Args:
        model, images, target: as in :func:`course_utils.interpret.saliency`.
        samples: number of noisy copies per image (>= 1); noise: the fraction of each image's
            range used as the standard deviation (>= 0; 0 gives the plain saliency).

    Returns:
        N×C×H×W tensor on the images' device (signed, like ``saliency``).
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    if not isinstance(noise, (int, float)) or isinstance(noise, bool) or noise < 0:
        raise ValueError(f"noise must be a number >= 0 (a fraction of each image's range), got {noise!r}")
    batch = prepare(model, images, target)
    x = batch.images
    spread = x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3))
    scale = (noise * spread).view(-1, 1, 1, 1)
    generator = torch.Generator().manual_seed(seed)
    draws = torch.randn((len(x), samples, *x.shape[1:]), generator=generator, dtype=x.dtype)
    total = torch.zeros_like(x)
    with evaluating(model):
        for sample in range(samples):
            noisy = x + draws[:, sample].to(x.device) * scale
            total += input_gradients(model, noisy, batch.target)
    return batch.back(total / samples)
