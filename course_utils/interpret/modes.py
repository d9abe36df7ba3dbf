"""Running a model for inspection: eval mode for the call, every module's own mode restored after."""

import contextlib

__all__ = ["evaluating"]


@contextlib.contextmanager
def evaluating(model):
    """Run the ``with`` block with ``model`` in eval mode, then give each submodule back its mode.

    Each module's ``training`` flag is restored one by one, so a model that was training with
    some parts frozen in eval mode (e.g. batch norm) is left exactly as it was.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
