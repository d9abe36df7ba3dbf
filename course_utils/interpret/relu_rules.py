"""Guided backpropagation and the deconvnet: gradients with another rule at every ReLU.

At a ReLU y = max(x, 0), backpropagation passes the signal g coming from above where the
forward input was positive: ``g · [x > 0]``. The two visualisation methods change that rule:

* deconvnet (Zeiler & Fergus 2014): ``max(g, 0)``, the backward signal's own ReLU, whatever
  the forward input was;
* guided backpropagation (Springenberg et al. 2015): ``max(g, 0) · [x > 0]``, both masks.

The rule is installed with full backward hooks on the model's ``nn.ReLU`` modules for the
call only. ReLUs applied as functions in ``forward`` (``F.relu``, ``torch.relu``) are not
modules and keep the ordinary gradient; the course's models use ``nn.ReLU`` modules.
"""

import contextlib

import torch.nn as nn

from .gradients import input_gradients
from .inputs import prepare
from .modes import evaluating

__all__ = ["guided_backprop", "deconvnet", "relu_rule"]


def _deconvnet_rule(module, grad_input, grad_output):
    return (grad_output[0].clamp(min=0),)


def _guided_rule(module, grad_input, grad_output):
    # grad_input is already masked by the forward input (x > 0); keep its positive part.
    if grad_input[0] is None:
        return None
    return (grad_input[0].clamp(min=0),)


@contextlib.contextmanager
def relu_rule(model, hook):
    """Run the ``with`` block with ``hook`` as a full backward hook on every ``nn.ReLU`` of ``model``.

    In-place ReLUs are switched to out-of-place for the block (a full backward hook cannot
    see an in-place change of its input). Afterwards the hooks are removed and each ReLU's
    ``inplace`` flag and hook bookkeeping are as before, also when the block raised.
    """
    relus = [module for module in model.modules() if isinstance(module, nn.ReLU)]
    if not relus:
        raise ValueError(f"{type(model).__name__} has no nn.ReLU modules, so this rule would change "
                         "nothing and give the plain gradient (use saliency); ReLUs applied as "
                         "F.relu in forward are not seen")
    # register_full_backward_hook leaves a flag on the module after its hook is removed (it
    # then refuses old-style backward hooks); it is put back so the model is left as it was.
    saved = [(relu, relu.inplace, relu._is_full_backward_hook) for relu in relus]
    handles = []
    try:
        for relu in relus:
            relu.inplace = False
            handles.append(relu.register_full_backward_hook(hook))
        yield model
    finally:
        for handle in handles:
            handle.remove()
        for relu, inplace, full_hook_flag in saved:
            relu.inplace = inplace
            relu._is_full_backward_hook = full_hook_flag


def _rule_gradients(model, images, target, hook):
    batch = prepare(model, images, target)
    with evaluating(model), relu_rule(model, hook):
        gradient = input_gradients(model, batch.images, batch.target)
    return batch.back(gradient)


def guided_backprop(model, images, target):
    """Guided backpropagation of each image's target logit: N×C×H×W on the images' device.

    The gradient, except that at every ``nn.ReLU`` only positive signals pass, and only where
    the forward input was positive. Matches Captum's ``GuidedBackprop``. Arguments as in
    :func:`course_utils.interpret.saliency`; the model must have ``nn.ReLU`` modules.
    """
    return _rule_gradients(model, images, target, _guided_rule)


def deconvnet(model, images, target):
    """The deconvnet's reconstruction of each image's target logit: N×C×H×W on the images' device.

    The gradient, except that every ``nn.ReLU`` passes the positive part of the backward
    signal regardless of its forward input. Matches Captum's ``Deconvolution``. Arguments as
    in :func:`course_utils.interpret.saliency`; the model must have ``nn.ReLU`` modules.
    """
    return _rule_gradients(model, images, target, _deconvnet_rule)
