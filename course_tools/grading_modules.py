"""PyTorch models as plain data: a model built from standard layers crosses from the sandbox
to the judge as a description (layer types and their settings, JSON) and its weights
(``torch.save`` of tensors, read with ``weights_only=True``); the judge builds it again from
``torch.nn``'s own classes. A model with any other layer (a class of the student's, a
patched forward) has no description, so it stays unsupported.
"""

import io

__all__ = ["LAYERS", "describe_module", "build_module", "state_blob", "load_state"]

# The layers that may cross, with the attributes that rebuild them.
LAYERS = {
    "Sequential": (),
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
               "padding_mode"),
    "Linear": ("in_features", "out_features"),
    "ReLU": ("inplace",),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "AdaptiveAvgPool2d": ("output_size",),
    "BatchNorm2d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "Flatten": ("start_dim", "end_dim"),
    "Dropout": ("p",),
    "Identity": (),
}
PLAIN = (bool, int, float, str, type(None))


def _plain(value):
    if isinstance(value, tuple) and all(type(item) in PLAIN for item in value):
        return {"tuple": list(value)}
    if type(value) in PLAIN:
        return value
    raise TypeError(f"a layer setting of type {type(value).__name__}")


def describe_module(module):
    """JSON-able description of a model made of LAYERS only; TypeError otherwise."""
    import torch.nn as nn
    name = type(module).__name__
    if name not in LAYERS or type(module) is not getattr(nn, name):
        raise TypeError(f"a layer of type {name}")
    if type(module).forward is not getattr(nn, name).forward or "forward" in vars(module):
        raise TypeError(f"a {name} with its own forward")
    settings = {attr: _plain(getattr(module, attr)) for attr in LAYERS[name]}
    if name in ("Conv2d", "Linear"):
        settings["bias"] = module.bias is not None
    children = [[child_name, describe_module(child)] for child_name, child in module.named_children()]
    if children and name != "Sequential":
        raise TypeError(f"a {name} with submodules")
    return {"type": name, "settings": settings, "children": children, "training": bool(module.training)}


def _setting(value):
    return tuple(value["tuple"]) if isinstance(value, dict) else value


def build_module(description, depth=0):
    """A new torch.nn model from a description (ValueError if it names anything else)."""
    import torch.nn as nn
    if depth > 20 or not isinstance(description, dict) or description.get("type") not in LAYERS:
        raise ValueError("not a description of standard layers")
    name, settings = description["type"], dict(description.get("settings", {}))
    if not set(settings) <= set(LAYERS[name]) | {"bias"}:
        raise ValueError(f"unknown settings for {name}")
    if name == "Sequential":
        from collections import OrderedDict
        module = nn.Sequential(OrderedDict((str(child_name), build_module(child, depth + 1))
                                           for child_name, child in description.get("children", [])))
    else:
        module = getattr(nn, name)(**{key: _setting(value) for key, value in settings.items()})
    return module.train(bool(description.get("training", True)))


def state_blob(state):
    """``torch.save`` bytes of a state dict (tensors and plain values)."""
    import torch
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def load_state(blob):
    """A state dict from :func:`state_blob` bytes, read with ``weights_only=True``."""
    import torch
    state = torch.load(io.BytesIO(blob), weights_only=True)
    if not isinstance(state, dict):
        raise ValueError("a state that is not a dict")
    return state
