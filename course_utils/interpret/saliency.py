"""Saliency (Simonyan et al. 2014): the gradient of the class score with respect to the image."""

from .gradients import input_gradients
from .inputs import prepare
from .modes import evaluating

__all__ = ["saliency", "saliency_map"]


def saliency(model, images, target):
    """Signed gradient of each image's target logit with respect to its pixels.

    Args:
        model: a classifier returning logits N×classes (run in eval mode for the call; every
            module's mode is restored afterwards).
        images: float tensor N×C×H×W (not modified; copied to the model's device).
        target: one class index, or N of them (list or integer tensor).

    Returns:
        N×C×H×W tensor on the images' device: ``d logit[target] / d image``. Captum's
        ``Saliency(model).attribute(images, target, abs=False)``.
    """
    batch = prepare(model, images, target)
    with evaluating(model):
        gradient = input_gradients(model, batch.images, batch.target)
    return batch.back(gradient)


def saliency_map(gradient):
    """Simonyan et al.'s map: the largest absolute gradient over the channels, N×C×H×W -> N×H×W."""
    if gradient.dim() != 4:
        raise ValueError(f"saliency_map takes gradients N×C×H×W (from saliency), got shape "
                         f"{tuple(gradient.shape)}")
    return gradient.abs().amax(dim=1)
