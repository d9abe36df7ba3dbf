"""VGG (Simonyan & Zisserman, ICLR 2015): stacks of 3×3 convolutions between 2×2 max pools.

:class:`VGG` builds the paper's configurations A, B, D and E (Table 1: ``vgg11``, ``vgg13``,
``vgg16``, ``vgg19``) for 224×224 inputs; :class:`VGGSmall` keeps the design (blocks of 3×3
convs, each block ending in a 2×2 max pool, three fully connected layers) at Fashion-MNIST
size. Configurations A-LRN and C (with 1×1 convs) of the paper are not built.

Where this follows torchvision rather than the paper: an adaptive average pool to 7×7 sits
between the convolutions and the classifier (the identity at 224×224; it lets other sizes
through), and ``batch_norm=True`` adds batch normalisation after every convolution (the
``vgg*_bn`` models of the model zoo; the 2014 paper predates batch normalisation). The
parameter counts are the paper's and the model zoo's: 132,863,336 (A), 133,047,848 (B),
138,357,544 (D), 143,667,240 (E).
"""

from collections import OrderedDict

import torch
import torch.nn as nn

from .heads import fully_connected_head
from .initialization import init_weights
from .validation import flag, one_of, positive_int, probability

__all__ = ["VGG", "VGGSmall", "CONFIGURATIONS", "vgg_features"]

CONFIGURATIONS = {
    "A": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "B": ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    "D": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "E": ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}
"""The paper's Table 1: for each configuration, the filters of the 3×3 convs of each block."""


def vgg_features(blocks, in_channels, batch_norm=False):
    """VGG's convolutional part: (N, in_channels, H, W) -> (N, blocks[-1][-1], H/2^B, W/2^B).

    ``blocks`` lists, per block, the output channels of its 3×3 convs (pad 1, so they keep the
    size); each block ends with a 2×2/2 max pool. Layers are named like the paper's figures:
    conv{block}_{index}, bn{block}_{index} (with ``batch_norm``), relu{block}_{index}, pool{block}.
    """
    layers, channels = [], in_channels
    for b, widths in enumerate(blocks, start=1):
        for i, width in enumerate(widths, start=1):
            layers.append((f"conv{b}_{i}", nn.Conv2d(channels, width, 3, padding=1)))
            if batch_norm:
                layers.append((f"bn{b}_{i}", nn.BatchNorm2d(width)))
            layers.append((f"relu{b}_{i}", nn.ReLU()))
            channels = width
        layers.append((f"pool{b}", nn.MaxPool2d(2, stride=2)))
    return nn.Sequential(OrderedDict(layers))


class VGG(nn.Module):
    """VGG configuration A, B, D or E; (N, C, 224, 224) -> (N, num_classes).

    features: :func:`vgg_features` of ``CONFIGURATIONS[configuration]``, (C, 224, 224) ->
    (512, 7, 7); avgpool: adaptive average pool to 7×7; classifier: 25088 -> 4096 -> 4096 ->
    num_classes with ReLU and dropout after the first two (:func:`~.heads.fully_connected_head`).
    """

    def __init__(self, configuration="D", num_classes=1000, in_channels=3, *, batch_norm=False,
                 dropout=0.5):
        super().__init__()
        configuration = one_of("configuration", configuration, tuple(CONFIGURATIONS))
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        batch_norm = flag("batch_norm", batch_norm)
        dropout = probability("dropout", dropout)
        self.features = vgg_features(CONFIGURATIONS[configuration], in_channels, batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = fully_connected_head(512 * 7 * 7, 4096, num_classes, dropout)
        init_weights(self)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class VGGSmall(nn.Module):
    """VGG's design at Fashion-MNIST size; (N, C, 28, 28) -> (N, num_classes).

    Three blocks of two 3×3 convs (32, 64, 128 filters), each ending in a 2×2/2 max pool
    (28 -> 14 -> 7 -> 3), then 1152 -> 256 -> 256 -> num_classes with ReLU and dropout;
    ``batch_norm=True`` adds batch normalisation after each conv. 649,962 parameters for 1 input
    channel and 10 classes (without batch normalisation).
    """

    def __init__(self, num_classes=10, in_channels=1, *, batch_norm=False, dropout=0.5):
        super().__init__()
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        batch_norm = flag("batch_norm", batch_norm)
        dropout = probability("dropout", dropout)
        self.features = vgg_features(((32, 32), (64, 64), (128, 128)), in_channels, batch_norm)
        self.classifier = fully_connected_head(128 * 3 * 3, 256, num_classes, dropout)
        init_weights(self)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))
