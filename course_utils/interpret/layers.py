"""Naming a layer of a model and hooking it for the length of a call."""

import contextlib

__all__ = ["find_layer", "forward_hooks"]


def find_layer(model, layer):
    """``(name, module)`` for ``layer``, given as a module of ``model`` or its name in named_modules().

    Raises a ValueError naming the choices when the name is unknown or the module is not part
    of ``model``.
    """
    names = dict(model.named_modules())
    if isinstance(layer, str):
        if layer not in names or layer == "":
            shown = [name for name in names if name][:12]
            raise ValueError(f"{type(model).__name__} has no layer {layer!r}; names look like "
                             f"{', '.join(map(repr, shown))}{', ...' if len(names) > 13 else ''} "
                             "(see model.named_modules())")
        return layer, names[layer]
    for name, module in names.items():
        if module is layer:
            return name, module
    raise ValueError(f"the layer {type(layer).__name__} is not a module of this "
                     f"{type(model).__name__}: pass one of its modules or its name")


@contextlib.contextmanager
def forward_hooks(pairs):
    """Register ``module.register_forward_hook(hook)`` for each (module, hook); remove them all after.

    The hooks are removed when the ``with`` block ends, also when it raises.
    """
    handles = []
    try:
        for module, hook in pairs:
            handles.append(module.register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()
