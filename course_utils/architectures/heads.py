"""The fully connected classifier that AlexNet and VGG end with."""

from collections import OrderedDict

import torch.nn as nn

__all__ = ["fully_connected_head"]


def fully_connected_head(in_features, hidden, num_classes, dropout, *, dropout_first=False):
    """Three linear layers with ReLU and dropout: (N, in_features) -> (N, num_classes).

    fc6 (in_features -> hidden), relu6, fc7 (hidden -> hidden), relu7, fc8 (hidden ->
    num_classes), named after the papers' layer numbers. Dropout with rate ``dropout`` follows
    relu6 and relu7 (drop6, drop7), as in both papers; with ``dropout_first=True`` it comes
    before fc6 and fc7 instead, as in torchvision's AlexNet (which then also drops the
    flattened convolutional features).
    """
    drop6, drop7 = ("drop6", nn.Dropout(dropout)), ("drop7", nn.Dropout(dropout))
    fc6 = [("fc6", nn.Linear(in_features, hidden)), ("relu6", nn.ReLU())]
    fc7 = [("fc7", nn.Linear(hidden, hidden)), ("relu7", nn.ReLU())]
    if dropout_first:
        layers = [drop6, *fc6, drop7, *fc7]
    else:
        layers = [*fc6, drop6, *fc7, drop7]
    return nn.Sequential(OrderedDict([*layers, ("fc8", nn.Linear(hidden, num_classes))]))
