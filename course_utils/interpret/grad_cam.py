"""Grad-CAM (Selvaraju et al. 2017): a layer's feature maps weighted by their mean gradient."""

import torch

from .inputs import prepare, target_scores
from .layers import find_layer, forward_hooks
from .modes import evaluating

__all__ = ["grad_cam"]


def grad_cam(model, images, target, layer):
    """Grad-CAM map of each image's target class at ``layer``: N×h×w on the images' device.

    With A (N×K×h×w) the layer's output and α_k the spatial mean of d logit[target] / d A_k,
    the map is ``relu(Σ_k α_k A_k)`` at the layer's resolution h×w (enlarge it for display with
    :func:`course_utils.interpret.upsample`). Matches Captum's ``LayerGradCam(model, layer)
    .attribute(images, target, relu_attributions=True)`` with its channel dimension of 1 dropped.

    Args:
        model, images, target: as in :func:`course_utils.interpret.saliency`.
        layer: a module of ``model`` or its name in ``model.named_modules()`` (e.g.
            "features.6"), whose output is feature maps N×K×h×w: usually the last conv block.
    """
    name, module = find_layer(model, layer)
    batch = prepare(model, images, target)
    captured = []

    def keep_output(module, inputs, output):
        if not (torch.is_tensor(output) and output.dim() == 4):
            shape = tuple(output.shape) if torch.is_tensor(output) else type(output).__name__
            raise ValueError(f"layer {name!r} gives {shape}, not feature maps N×K×h×w: Grad-CAM "
                             "needs a convolutional layer (or a block of them)")
        captured.append(output)
        # Later in-place layers (ReLU(inplace=True)) then change the copy, not the maps kept.
        return output.clone()

    inputs = batch.images.requires_grad_(True)  # so the maps need gradients even with frozen weights
    with evaluating(model), forward_hooks([(module, keep_output)]), torch.enable_grad():
        scores = target_scores(model(inputs.clone()), batch.target)  # clone: as in input_gradients
        if not captured:
            raise ValueError(f"layer {name!r} was not used in the model's forward pass")
        maps = captured[-1]
        (gradients,) = torch.autograd.grad(scores.sum(), maps)
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    return batch.back(torch.relu((weights * maps.detach()).sum(dim=1)))
