"""What layers output for given images, recorded with forward hooks."""

import torch

from .inputs import place_images
from .layers import find_layer, forward_hooks
from .modes import evaluating

__all__ = ["activations"]


def activations(model, images, layers):
    """Outputs of ``layers`` for ``images`` (N×C×H×W): a dict name -> tensor N×..., in the order given.

    ``layers`` is one layer or a list of them, each a module of ``model`` or its name in
    ``model.named_modules()`` (e.g. "features.2"). The model runs once, in eval mode, without
    gradients; each output is copied when it is made, so a later in-place layer
    (``ReLU(inplace=True)``) does not change it. Results are on the images' device. The hooks
    are removed afterwards, also when the forward pass raises. A layer run twice keeps its last
    output.
    """
    x = place_images(model, images)
    if isinstance(layers, (str, torch.nn.Module)):
        layers = [layers]
    found = [find_layer(model, layer) for layer in layers]
    outputs = {}

    def recorder(name):
        def record(module, inputs, output):
            if not torch.is_tensor(output):
                raise ValueError(f"layer {name!r} returns a {type(output).__name__}, not a tensor")
            outputs[name] = output.detach().clone()
        return record

    with torch.no_grad(), evaluating(model), forward_hooks([(m, recorder(n)) for n, m in found]):
        model(x)
    missing = [name for name, _ in found if name not in outputs]
    if missing:
        raise ValueError(f"layers {missing} were not used in the model's forward pass")
    return {name: outputs[name].to(images.device) for name, _ in found}
