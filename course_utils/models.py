"""Model definitions used across the lessons (PyTorch only, no torchvision)."""

import torch.nn as nn

__all__ = ["alexnet_features", "vgg16_features"]


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
