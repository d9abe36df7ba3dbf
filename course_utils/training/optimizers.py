"""The course's one default optimizer, and the parameter groups every optimizer here uses.

``fit(model, ...)`` without ``optimizer=`` and the command line without ``--optimizer`` both
train with :func:`default_optimizer`: AdamW, learning rate 1e-3, weight decay 0.05 on the
weights (matrices and convolution kernels) and none on biases and normalisation parameters.

Why no decay on 1-D parameters: weight decay pulls weights towards 0 to keep a layer's
function simple. A bias only shifts a unit's output, and a batch-norm scale (or shift) is
re-learnt to whatever the next layer needs; pulling them towards 0 regularises nothing and
(for the scale) fights the normalisation. :func:`parameter_groups` puts every parameter
with fewer than two dimensions (biases, batch-norm and layer-norm weights and biases) in a
group with ``weight_decay=0``.
"""

import torch
import torch.nn as nn

__all__ = ["DEFAULT_LR", "DEFAULT_WEIGHT_DECAY", "default_optimizer", "parameter_groups"]

DEFAULT_LR = 1e-3
DEFAULT_WEIGHT_DECAY = 0.05


def parameter_groups(parameters, weight_decay):
    """Param groups for a torch optimizer: decay on weights, none on biases and norm parameters.

    Args:
        parameters: an nn.Module or an iterable of parameters.
        weight_decay: the decay of the parameters with two or more dimensions (weights of
            linear layers, convolution kernels).

    Returns:
        a list of up to two dicts ``{"params": [...], "weight_decay": ...}``: first the
        weights (``weight_decay``), then the parameters with fewer than two dimensions
        (``0.0``); an empty group is left out.
    """
    if isinstance(parameters, nn.Module):
        parameters = parameters.parameters()
    decay, no_decay = [], []
    for parameter in parameters:
        (decay if parameter.dim() >= 2 else no_decay).append(parameter)
    groups = [{"params": decay, "weight_decay": float(weight_decay)},
              {"params": no_decay, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


def default_optimizer(model, lr=DEFAULT_LR, weight_decay=DEFAULT_WEIGHT_DECAY):
    """The course's default optimizer for ``model``: AdamW(lr=1e-3), weight decay 0.05 on weights.

    Biases and normalisation parameters (every parameter with fewer than two dimensions)
    get no weight decay (see :func:`parameter_groups`). Used by ``fit`` when no optimizer is
    given and by the command line's ``--optimizer adamw`` (its default).

    Example::

        optimizer = default_optimizer(model, lr=3e-3)
        history = fit(model, train, val, optimizer=optimizer, epochs=5)
    """
    if isinstance(model, nn.Module) and next(model.parameters(), None) is None:
        raise ValueError(f"{type(model).__name__} has no parameters to optimise")
    return torch.optim.AdamW(parameter_groups(model, weight_decay), lr=lr)
