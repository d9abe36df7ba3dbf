"""Model definitions used across the lessons (PyTorch only, no torchvision).

Architectures, :func:`build_model` (a model by name) and :func:`count_parameters`. The trained
models shipped with the course are loaded with :mod:`course_utils.pretrained`.
"""

import torch.nn as nn

from .architectures.resnet_small import ResNetSmall

__all__ = ["alexnet_features", "vgg16_features", "MLP", "LeNet5", "LeNet5Modern", "LeNetVariant",
           "lenet_flat_size", "count_parameters", "SmallCNN", "build_model", "model_names"]


def _channels(count, width):
    return max(1, round(count * width))


def alexnet_features(in_channels=3, width=1.0):
    """AlexNet's convolutional stack (Krizhevsky et al. 2012), for 227x227 inputs.

    96 11x11/4 conv, LRN, 3x3/2 max pool, 256 5x5 conv (pad 2), LRN, 3x3/2 max pool,
    384, 384 and 256 3x3 convs (pad 1), 3x3/2 max pool -> (256, 6, 6).
    ``width`` scales every channel count (the geometry stays the same).
    """
    c = [_channels(n, width) for n in (96, 256, 384, 384, 256)]
    return nn.Sequential(
        nn.Conv2d(in_channels, c[0], 11, stride=4), nn.ReLU(), nn.LocalResponseNorm(5),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(c[0], c[1], 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(5),
        nn.MaxPool2d(3, stride=2),
        nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(),
        nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(),
        nn.Conv2d(c[3], c[4], 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(3, stride=2),
    )


def vgg16_features(in_channels=3, width=1.0):
    """VGG16's convolutional stack (Simonyan & Zisserman 2015, configuration D).

    Five blocks of 3x3 convs (pad 1) with 64, 128, 256, 512, 512 channels (2, 2, 3, 3, 3
    convs), each followed by a 2x2/2 max pool: (3, 224, 224) -> (512, 7, 7).
    """
    blocks = []
    channels = in_channels
    for count, n_convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        layers = []
        for _ in range(n_convs):
            layers += [nn.Conv2d(channels, _channels(count, width), 3, padding=1), nn.ReLU()]
            channels = _channels(count, width)
        blocks.append(nn.Sequential(*layers, nn.MaxPool2d(2, stride=2)))
    return nn.Sequential(*blocks)


# --- Fashion-MNIST classifiers (28×28 grey images, 10 classes) -----------------------------
# Every model below maps float images N×1×28×28 to logits N×10 and splits into
# ``features`` (the convolutional part) and ``classifier`` (the fully connected part).

class MLP(nn.Module):
    """Multi-layer perceptron: flatten 784 pixels -> hidden layers (ReLU) -> logits.

    ``hidden`` is one width or a sequence of widths, e.g. ``(256, 128)``; ``dropout`` is
    applied after every hidden layer. Input N×1×28×28 (any N×...), output N×num_classes.
    """

    def __init__(self, in_features=784, hidden=256, num_classes=10, dropout=0.0):
        super().__init__()
        widths = [hidden] if isinstance(hidden, int) else list(hidden)
        self.config = {"in_features": in_features, "hidden": hidden if isinstance(hidden, int)
                       else list(hidden), "num_classes": num_classes, "dropout": dropout}
        if not widths or min(widths) < 1:
            raise ValueError(f"hidden must be a positive width or a list of them, got {hidden!r}")
        layers, previous = [nn.Flatten()], in_features
        for width in widths:
            layers += [nn.Linear(previous, width), nn.ReLU()]
            layers += [nn.Dropout(dropout)] if dropout else []
            previous = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(previous, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


class LeNet5(nn.Module):
    """LeNet-5 as in LeCun et al. (1998), in its usual adaptation to 28×28 inputs.

    conv 6@5×5 (padding 2 keeps 28×28, as the paper's 32×32 input did) -> tanh -> 2×2 average
    pool -> conv 16@5×5 -> tanh -> 2×2 average pool -> (16, 5, 5) -> fc 120 -> tanh -> fc 84 ->
    tanh -> fc num_classes. 61,706 parameters. (The paper's pooling had a trainable scale and
    bias, its C3 layer a sparse connection table and its output RBF units; the usual modern
    reading, kept here, is plain average pooling, a full C3 and a linear output.)
    """

    def __init__(self, num_classes=10):
        super().__init__()
        self.config = {"num_classes": num_classes}
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
            nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class LeNet5Modern(nn.Module):
    """LeNet-5's layout with today's parts: batch norm, ReLU and max pooling.

    conv 6@5×5 (pad 2) -> BN -> ReLU -> 2×2 max pool -> conv 16@5×5 -> BN -> ReLU -> 2×2 max
    pool -> fc 120 -> ReLU -> fc 84 -> ReLU -> fc num_classes. Same widths as :class:`LeNet5`,
    so the two differ only in the parts that changed between 1998 and today.
    """

    def __init__(self, num_classes=10):
        super().__init__()
        self.config = {"num_classes": num_classes}
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
_POOLS = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}


def lenet_flat_size(input_size):
    """Side of LeNet's last feature map for an input_size×input_size image: 28 -> 5, 224 -> 54."""
    side = ((input_size // 2) - 4) // 2
    if side < 1:
        raise ValueError(f"LeNet needs inputs of at least 12×12 pixels, got {input_size}")
    return side


class LeNetVariant(nn.Module):
    """LeNet-5's layout with each 1998-vs-today choice as a switch, for ablations.

    ``activation`` "tanh" or "relu", ``pooling`` "avg" or "max", ``batch_norm`` after each conv;
    ``in_channels`` and ``input_size`` (square) let it take other images, e.g. 3×224×224.
    Input N×in_channels×input_size×input_size, output N×num_classes. With the defaults it is
    :class:`LeNet5` (same layers, same state_dict keys); with ("relu", "max", True) it has the
    layers of :class:`LeNet5Modern`.
    """

    def __init__(self, activation="tanh", pooling="avg", batch_norm=False, in_channels=1,
                 input_size=28, num_classes=10):
        super().__init__()
        if activation not in _ACTIVATIONS or pooling not in _POOLS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)} and pooling one "
                             f"of {sorted(_POOLS)}, got {activation!r} and {pooling!r}")
        side = lenet_flat_size(input_size)
        self.config = {"activation": activation, "pooling": pooling, "batch_norm": batch_norm,
                       "in_channels": in_channels, "input_size": input_size,
                       "num_classes": num_classes}
        act, pool = _ACTIVATIONS[activation], _POOLS[pooling]

        def conv(c_in, c_out, **kw):
            if batch_norm:
                return [nn.Conv2d(c_in, c_out, 5, bias=False, **kw), nn.BatchNorm2d(c_out)]
            return [nn.Conv2d(c_in, c_out, 5, **kw)]

        self.features = nn.Sequential(*conv(in_channels, 6, padding=2), act(), pool(2),
                                      *conv(6, 16), act(), pool(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * side * side, 120), act(),
            nn.Linear(120, 84), act(), nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def count_parameters(model):
    """Number of trainable numbers (weights and biases) in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _conv_bn_relu(in_channels, out_channels):
    """3×3 conv (padding 1, no bias: BN has one) -> batch norm -> ReLU; keeps H×W."""
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """The course's best small CNN for Fashion-MNIST: a VGG-style net with batch norm.

    Three blocks of 3×3 convs with ``width``, 2·width, 4·width channels, each block ending in
    a 2×2 max pool (28 -> 14 -> 7 -> 3), then one linear layer on the flattened
    4·width×3×3 features: N×1×28×28 -> N×num_classes. ``convs`` gives the number of convs in
    each block. (Flattening rather than global average pooling keeps where a feature is:
    a sleeve at the top or a sole at the bottom; it measured better on Fashion-MNIST.)
    """

    def __init__(self, width=32, convs=(1, 2, 1), num_classes=10, dropout=0.0):
        super().__init__()
        if len(convs) != 3 or min(convs) < 1:
            raise ValueError(f"convs must be three positive counts, got {convs!r}")
        self.config = {"width": width, "convs": list(convs), "num_classes": num_classes,
                       "dropout": dropout}
        layers, channels = [], 1
        for block, count in enumerate(convs):
            for _ in range(count):
                layers += _conv_bn_relu(channels, width * 2 ** block)
                channels = width * 2 ** block
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * 3 * 3, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


# --- registry --------------------------------------------------------------------------------

# "resnet_small": the CIFAR-style ResNet of lesson 07 (depth, width, shortcut "A", "B" or "none"
# for the plain twin), e.g. build_model("resnet_small", depth=20).
_MODELS = {"mlp": MLP, "lenet": LeNet5, "lenet_modern": LeNet5Modern, "lenet_variant": LeNetVariant,
           "small_cnn": SmallCNN, "resnet_small": ResNetSmall}


def model_names():
    """Names accepted by :func:`build_model` (and ``python -m course_utils.training --model``)."""
    return sorted(_MODELS)


def build_model(name, **kwargs):
    """A fresh model by name, e.g. ``build_model("small_cnn", width=32)``.

    The keyword arguments go to the model's constructor; ``model.config`` records them.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(model_names())}")
    return _MODELS[name](**kwargs)
