"""Every architecture of the package by name: :func:`build` and :func:`names`."""

import inspect
from functools import partial

from .alexnet import AlexNet, AlexNet2GPU, AlexNetSmall
from .googlenet import GoogLeNet, GoogLeNetSmall
from .resnet import ResNet
from .resnet_small import plain_small, resnet_small
from .validation import one_of
from .vgg import VGG, VGGSmall

__all__ = ["build", "names", "options_of", "IMAGENET", "SMALL"]

IMAGENET = {"num_classes": 1000, "in_channels": 3}
"""Defaults of the ImageNet-size models (RGB 224×224; 227×227 for alexnet_2gpu)."""
SMALL = {"num_classes": 10, "in_channels": 1}
"""Defaults of the Fashion-MNIST-size models (grey 28×28)."""

# name -> (function(num_classes, in_channels, **options) -> model, defaults)
BUILDERS = {
    "alexnet": (AlexNet, IMAGENET),
    "alexnet_2gpu": (AlexNet2GPU, IMAGENET),
    "vgg11": (partial(VGG, "A"), IMAGENET),
    "vgg13": (partial(VGG, "B"), IMAGENET),
    "vgg16": (partial(VGG, "D"), IMAGENET),
    "vgg19": (partial(VGG, "E"), IMAGENET),
    "googlenet": (GoogLeNet, IMAGENET),
    **{f"resnet{depth}": (partial(ResNet, depth), IMAGENET) for depth in (18, 34, 50, 101, 152)},
    "alexnet_small": (AlexNetSmall, SMALL),
    "vgg_small": (VGGSmall, SMALL),
    "googlenet_small": (GoogLeNetSmall, SMALL),
    **{f"resnet{depth}": (partial(resnet_small, depth), SMALL) for depth in (20, 32, 44, 56)},
    **{f"plain{depth}": (partial(plain_small, depth), SMALL) for depth in (20, 32, 44, 56)},
}


def names(size=None):
    """Names :func:`build` accepts, ImageNet-size first; ``size="imagenet"`` or ``"small"`` selects."""
    one_of("size", size, (None, "imagenet", "small"))
    wanted = {None: (IMAGENET, SMALL), "imagenet": (IMAGENET,), "small": (SMALL,)}[size]
    return [name for name, (_, defaults) in BUILDERS.items() if any(defaults is d for d in wanted)]


def options_of(name):
    """The keyword options of architecture ``name`` beyond num_classes and in_channels, with defaults."""
    builder, _ = _lookup(name)
    return {p.name: p.default for p in inspect.signature(builder).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _lookup(name):
    if not isinstance(name, str) or name not in BUILDERS:
        raise ValueError(f"unknown architecture {name!r}; the names are: {', '.join(names())}")
    return BUILDERS[name]


def build(name, num_classes=None, in_channels=None, **options):
    """A freshly initialised model by name, e.g. ``build("resnet50")``, ``build("resnet20")``.

    ``num_classes`` and ``in_channels`` default to 1000 and 3 for the ImageNet-size models and to
    10 and 1 for the small ones (``names("small")``: alexnet_small, vgg_small, googlenet_small,
    resnet20..56, plain20..56). Further keyword options depend on the architecture
    (:func:`options_of` lists them), e.g. ``build("vgg16", batch_norm=True)``,
    ``build("googlenet", aux_logits=True, branch5x5=3, batch_norm=True)``,
    ``build("resnet50", stride_in_1x1=True)``, ``build("resnet20", shortcut="B")``. Build on
    the meta device (``with torch.device("meta"): build("vgg19")``) to count parameters or MACs
    without allocating the weights.
    """
    builder, defaults = _lookup(name)
    allowed = options_of(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        known = ", ".join(allowed) if allowed else "none"
        raise ValueError(f"{name} has no option {', '.join(map(repr, unknown))}; its options are: {known}")
    num_classes = defaults["num_classes"] if num_classes is None else num_classes
    in_channels = defaults["in_channels"] if in_channels is None else in_channels
    return builder(num_classes=num_classes, in_channels=in_channels, **options)
