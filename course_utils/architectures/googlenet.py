"""GoogLeNet (Szegedy et al., "Going deeper with convolutions", CVPR 2015) and a small version.

:class:`GoogLeNet` (``build("googlenet")``) follows the paper's Table 1 and Figure 3 by default:
nine Inception modules with 1×1 reductions before the 3×3 and 5×5 convolutions, no batch
normalisation, local response normalisation after the first pool and after conv2, global average
pooling, 40% dropout and one linear layer; the two auxiliary classifiers of section 5 are built
with ``aux_logits=True``.

torchvision's ``googlenet`` differs in three ways, each an option here:

* its "5×5" branch is a 3×3 convolution (a known bug, pytorch/vision issue 906, kept because
  its pretrained weights, ported from TensorFlow, have 3×3 kernels there); ``branch5x5=3``
  builds that, ``branch5x5=5`` (default) the paper's 5×5;
* it puts batch normalisation after every convolution (without conv biases) and drops LRN;
  ``batch_norm=True`` builds that (``batch_norm=False``, default, is the paper's network);
* its dropout is 20%; ``dropout=0.2``.

With ``branch5x5=3, batch_norm=True`` the count is torchvision's: 6,624,904 parameters without
the auxiliary classifiers and 13,004,888 with them. Two differences that change no count: the
paper's fourth max pool is 3×3/2 (torchvision: 2×2/2; both map 14 to 7) and its auxiliary
classifiers start with a 5×5/3 average pool (torchvision: adaptive to 4×4; both give 4×4 at
224×224); the paper's versions are used. The paper gives no LRN settings; those of the Caffe
reference model (bvlc_googlenet) are used: size 5, alpha 1e-4 (divided by the size, PyTorch's
convention), beta 0.75, k 1.

The paper-faithful network has 6,998,552 parameters (6,990,272 weights and 8,280 biases) and
costs 1.58 G multiply-accumulates per 224×224 image. Table 1 gives less, for reasons of its own:

* its "params" column lists weights only, in units of 1024 (3a: 163,328 weights = 159.5 K),
  and adds up to 6,797.7 K (6.96 M weights; often quoted as "6.8 M"); conv1's 2.7 K is not
  the 9,408 weights (9.2 K) of 64 7×7 kernels on 3 channels, and rows 4c (463 K), 5a (1072 K)
  and 5b (1388 K) differ from what their own filter columns give (497.5 K, 1018 K, 1409 K);
* its "ops" column (1,502 M in all, the paper's "1.5 billion multiply-adds") agrees with the
  filter columns to within 1% in every row except conv1 (34 M, which is 2.7 K × 112², against
  118 M) and 5a (54 M against 51.1 M).

torchvision's 3×3 "5×5" branch brings the cost down to 1.50 G (its published "GFLOPS").
"""

from collections import OrderedDict
from typing import NamedTuple

import torch
import torch.nn as nn

from .initialization import init_weights
from .validation import flag, one_of, positive_int, probability

__all__ = ["GoogLeNet", "GoogLeNetSmall", "GoogLeNetOutputs", "Inception", "InceptionAux",
           "conv_unit", "INCEPTION_MODULES"]

INCEPTION_MODULES = OrderedDict([
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
])
"""Table 1's Inception rows: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj."""


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode with auxiliary classifiers: three (N, classes)."""

    logits: torch.Tensor
    aux1: torch.Tensor
    aux2: torch.Tensor


def conv_unit(in_channels, out_channels, kernel_size, *, stride=1, padding=0, batch_norm=False):
    """Convolution then ReLU, with batch normalisation between them if ``batch_norm``.

    (N, in_channels, H, W) -> (N, out_channels, H', W'); the conv has a bias only without
    batch normalisation (BN's shift replaces it), as in the paper and torchvision respectively.
    """
    layers = [("conv", nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                                 padding=padding, bias=not batch_norm))]
    if batch_norm:
        layers.append(("bn", nn.BatchNorm2d(out_channels, eps=1e-3)))
    return nn.Sequential(OrderedDict(layers + [("relu", nn.ReLU())]))


class Inception(nn.Module):
    """Inception module with dimension reductions (Figure 2b); (N, C, H, W) -> (N, out_channels, H, W).

    Four branches concatenated along channels: a 1×1 conv (``ch1x1``); a 1×1 reduction
    (``ch3x3_reduce``) then a 3×3 conv (``ch3x3``); a 1×1 reduction (``ch5x5_reduce``) then a
    ``branch5x5``×``branch5x5`` conv (``ch5x5``); a 3×3/1 max pool then a 1×1 projection
    (``pool_proj``). ``out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj``.
    """

    def __init__(self, in_channels, ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj, *,
                 branch5x5=5, batch_norm=False):
        super().__init__()
        branch5x5 = one_of("branch5x5", branch5x5, (5, 3))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = conv_unit(in_channels, ch1x1, 1, batch_norm=batch_norm)
        self.branch2 = nn.Sequential(OrderedDict([
            ("reduce", conv_unit(in_channels, ch3x3_reduce, 1, batch_norm=batch_norm)),
            ("conv", conv_unit(ch3x3_reduce, ch3x3, 3, padding=1, batch_norm=batch_norm)),
        ]))
        self.branch3 = nn.Sequential(OrderedDict([
            ("reduce", conv_unit(in_channels, ch5x5_reduce, 1, batch_norm=batch_norm)),
            ("conv", conv_unit(ch5x5_reduce, ch5x5, branch5x5, padding=branch5x5 // 2,
                               batch_norm=batch_norm)),
        ]))
        self.branch4 = nn.Sequential(OrderedDict([
            ("pool", nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)),
            ("proj", conv_unit(in_channels, pool_proj, 1, batch_norm=batch_norm)),
        ]))

    def forward(self, x):
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([branch(x) for branch in branches], dim=1)


class InceptionAux(nn.Module):
    """Auxiliary classifier (section 5); (N, C, 14, 14) -> (N, num_classes).

    5×5/3 average pool (-> 4×4), 128 1×1 convs with ReLU, 2048 -> 1024 with ReLU, 70% dropout,
    1024 -> num_classes.
    """

    def __init__(self, in_channels, num_classes, *, batch_norm=False):
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3)
        self.conv = conv_unit(in_channels, 128, 1, batch_norm=batch_norm)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(0.7)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


def _stem(in_channels, batch_norm):
    """Layers before Inception 3a: (N, C, 224, 224) -> (N, 192, 28, 28).

    Figure 3's LRN after pool1 and conv2 in the paper's network; none with batch normalisation
    (torchvision).
    """
    unit = {"batch_norm": batch_norm}
    layers = [
        ("conv1", conv_unit(in_channels, 64, 7, stride=2, padding=3, **unit)),
        ("pool1", nn.MaxPool2d(3, stride=2, ceil_mode=True)),
        ("norm1", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)),
        ("conv2_reduce", conv_unit(64, 64, 1, **unit)),
        ("conv2", conv_unit(64, 192, 3, padding=1, **unit)),
        ("norm2", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)),
        ("pool2", nn.MaxPool2d(3, stride=2, ceil_mode=True)),
    ]
    return nn.Sequential(OrderedDict(
        (name, layer) for name, layer in layers if not (batch_norm and name.startswith("norm"))))


class GoogLeNet(nn.Module):
    """GoogLeNet of Table 1; (N, C, 224, 224) -> (N, num_classes).

    ============================  ===================
    layer                         output
    ============================  ===================
    conv1 7×7/2, 64               64 × 112 × 112
    pool1 3×3/2, norm1 (LRN)      64 × 56 × 56
    conv2_reduce 1×1, 64          64 × 56 × 56
    conv2 3×3/1, 192, norm2       192 × 56 × 56
    pool2 3×3/2                   192 × 28 × 28
    inception 3a, 3b              256, 480 × 28 × 28
    pool3 3×3/2                   480 × 14 × 14
    inception 4a - 4e             512, 512, 512, 528, 832 × 14 × 14
    pool4 3×3/2                   832 × 7 × 7
    inception 5a, 5b              832, 1024 × 7 × 7
    global average pool, dropout  1024
    fc                            num_classes
    ============================  ===================

    Max pools use ``ceil_mode`` (Caffe's rounding), which gives Table 1's sizes. With
    ``aux_logits=True`` the module also has ``aux1`` (on 4a's output) and ``aux2`` (on 4d's),
    and in training mode returns :class:`GoogLeNetOutputs` (logits, aux1, aux2); in eval mode
    it always returns the logits alone (the auxiliary classifiers are not run).
    """

    def __init__(self, num_classes=1000, in_channels=3, *, aux_logits=False, branch5x5=5,
                 batch_norm=False, dropout=0.4):
        super().__init__()
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        self.aux_logits = flag("aux_logits", aux_logits)
        branch5x5 = one_of("branch5x5", branch5x5, (5, 3))
        batch_norm = flag("batch_norm", batch_norm)
        dropout = probability("dropout", dropout)
        unit = {"batch_norm": batch_norm}
        self.stem = _stem(in_channels, batch_norm)
        channels = 192
        for name, columns in INCEPTION_MODULES.items():
            module = Inception(channels, *columns, branch5x5=branch5x5, **unit)
            self.add_module(f"inception{name}", module)
            channels = module.out_channels
            if name in ("3b", "4e"):
                self.add_module(f"pool{name[0]}", nn.MaxPool2d(3, stride=2, ceil_mode=True))
        self.aux1 = InceptionAux(512, num_classes, **unit) if self.aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, **unit) if self.aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x):
        x = self.inception3b(self.inception3a(self.stem(x)))
        x = self.inception4a(self.pool3(x))
        aux1 = self.aux1(x) if self.aux_logits and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux_logits and self.training else None
        x = self.pool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if aux1 is None:
            return logits
        return GoogLeNetOutputs(logits, aux1, aux2)


class GoogLeNetSmall(nn.Module):
    """GoogLeNet's design at Fashion-MNIST size; (N, C, 28, 28) -> (N, num_classes).

    stem: 32 3×3 convs (28×28), 3×3/2 max pool (14×14), 64 3×3 convs; Inception 3a (-> 112
    channels) and 3b (-> 160) at 14×14; 3×3/2 max pool (7×7); Inception 4a (-> 224) and 4b
    (-> 256); global average pooling, dropout, one linear layer. Every Inception module reduces
    with 1×1 convs before its 3×3 and 5×5 convs, as in the paper. ``branch5x5`` and
    ``batch_norm`` as in :class:`GoogLeNet`; no LRN.
    """

    MODULES = OrderedDict([
        ("3a", (32, 32, 48, 8, 16, 16)),
        ("3b", (48, 48, 64, 12, 24, 24)),
        ("4a", (64, 64, 96, 16, 32, 32)),
        ("4b", (80, 80, 112, 16, 32, 32)),
    ])

    def __init__(self, num_classes=10, in_channels=1, *, branch5x5=5, batch_norm=False, dropout=0.4):
        super().__init__()
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        branch5x5 = one_of("branch5x5", branch5x5, (5, 3))
        batch_norm = flag("batch_norm", batch_norm)
        dropout = probability("dropout", dropout)
        layers = [
            ("conv1", conv_unit(in_channels, 32, 3, padding=1, batch_norm=batch_norm)),
            ("pool1", nn.MaxPool2d(3, stride=2, ceil_mode=True)),
            ("conv2", conv_unit(32, 64, 3, padding=1, batch_norm=batch_norm)),
        ]
        channels = 64
        for name, columns in self.MODULES.items():
            module = Inception(channels, *columns, branch5x5=branch5x5, batch_norm=batch_norm)
            layers.append((f"inception{name}", module))
            channels = module.out_channels
            if name == "3b":
                layers.append(("pool3", nn.MaxPool2d(3, stride=2, ceil_mode=True)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x):
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.fc(self.dropout(x))
