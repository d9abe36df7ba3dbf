"""CIFAR-style ResNets and their plain twins (He et al. 2016, section 4.2), for 28×28 images.

The network of the paper's CIFAR-10 experiments: a 3×3 conv with 16 filters, then three stages
of ``n`` blocks of two 3×3 convs with 16, 32 and 64 filters (the first block of stages 2 and 3
halves the size with stride 2: 28 -> 14 -> 7 here, 32 -> 16 -> 8 in the paper), global average
pooling and one linear layer: ``depth = 6n + 2`` weighted layers (20, 32, 44, 56, 110, ...).
Batch normalisation follows every convolution.

``resnet_small(depth)`` adds a shortcut to every block: the identity, and where a block
doubles the channels and halves the size, the paper's option A: subsample ``x`` with stride 2
and append zero channels, which has no parameters, so a ResNet and its plain twin
``plain_small(depth)`` (the same layers without shortcuts) have exactly the same parameters
(ResNet-20 with 1 input channel: 269,434; with 3, the paper's 0.27 M: 269,722). ``shortcut="B"``
projects with a 1×1 conv and BN instead (a few more parameters). Parameter counts: 20: 0.27 M,
32: 0.46 M, 44: 0.66 M, 56: 0.85 M; depth 110 (1.7 M) is the one above 1 M, as in the paper.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from .initialization import init_weights
from .validation import one_of, positive_int

__all__ = ["ZeroPadShortcut", "SmallBlock", "ResNetSmall", "resnet_small", "plain_small",
           "check_depth"]


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: (N, C, H, W) -> (N, out_channels, ceil(H/stride), ceil(W/stride)).

    Keeps every ``stride``-th pixel (the positions a stride-``stride`` 3×3 conv with padding 1
    is centred on) and appends ``out_channels - C`` channels of zeros. No parameters.
    """

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"option A can only add channels, got {in_channels} -> {out_channels}")
        self.extra, self.stride = out_channels - in_channels, stride

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class SmallBlock(nn.Module):
    """Two 3×3 convs (BN, ReLU between); (N, in_channels, H, W) -> (N, out_channels, H/s, W/s).

    ``shortcut``: "A" (identity, zero-padding where the shape changes), "B" (identity,
    projection where the shape changes) or "none" (a plain block: ``relu(F(x))``).
    """

    def __init__(self, in_channels, out_channels, stride=1, *, shortcut="A"):
        super().__init__()
        shortcut = one_of("shortcut", shortcut, ("A", "B", "none"))
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.residual_connection = shortcut != "none"
        self.downsample = None
        if self.residual_connection and (stride != 1 or in_channels != out_channels):
            if shortcut == "A":
                self.downsample = ZeroPadShortcut(in_channels, out_channels, stride)
            else:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels))
        self.relu2 = nn.ReLU()

    def residual(self, x):
        """F(x): conv, BN, ReLU, conv, BN."""
        return self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))

    def shortcut(self, x):
        """The shortcut's output: x, or x reshaped by option A or B. A plain block has none."""
        if not self.residual_connection:
            raise RuntimeError("a plain block (shortcut='none') has no shortcut")
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x):
        out = self.residual(x)
        if self.residual_connection:
            out = out + self.shortcut(x)
        return self.relu2(out)


def check_depth(depth):
    """Return ``depth`` if it is 6n + 2 for some n >= 1 (8, 14, 20, ...), else raise a ValueError."""
    depth = positive_int("depth", depth)
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
    return depth


class ResNetSmall(nn.Module):
    """CIFAR-style ResNet (or plain network) of ``depth`` layers; (N, C, 28, 28) -> (N, num_classes).

    =======  =========================================  ============
    stage    layers                                     output
    =======  =========================================  ============
    stem     3×3 conv 16, BN, ReLU                      16 × 28 × 28
    stage1   n blocks, 16 filters                       16 × 28 × 28
    stage2   n blocks, 32 filters, first with stride 2  32 × 14 × 14
    stage3   n blocks, 64 filters, first with stride 2  64 × 7 × 7
    head     global average pool, fc                    num_classes
    =======  =========================================  ============

    ``n = (depth - 2) / 6``; ``shortcut`` as in :class:`SmallBlock`. ``width`` is the first
    stage's filters (the paper's 16); the others have 2 and 4 times as many, so parameters and
    MACs grow with ``width²`` (a wide, shallow net against a narrow, deep one in lesson 07).
    ``config`` records the arguments (for ``build_model`` and ``load_pretrained``).
    """

    def __init__(self, depth=20, num_classes=10, in_channels=1, *, shortcut="A", width=16):
        super().__init__()
        n = (check_depth(depth) - 2) // 6
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        shortcut = one_of("shortcut", shortcut, ("A", "B", "none"))
        width = positive_int("width", width)
        self.depth = depth
        self.config = {"depth": depth, "num_classes": num_classes, "in_channels": in_channels,
                       "shortcut": shortcut, "width": width}
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        channels = width
        for stage, filters in enumerate((width, 2 * width, 4 * width), start=1):
            blocks = []
            for i in range(n):
                stride = 2 if stage > 1 and i == 0 else 1
                blocks.append(SmallBlock(channels, filters, stride, shortcut=shortcut))
                channels = filters
            self.add_module(f"stage{stage}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.stage3(self.stage2(self.stage1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet_small(depth=20, num_classes=10, in_channels=1, *, shortcut="A", width=16):
    """CIFAR-style ResNet with shortcuts (option A by default); see :class:`ResNetSmall`."""
    if shortcut == "none":
        raise ValueError("resnet_small needs shortcut 'A' or 'B'; for no shortcuts use plain_small(depth)")
    return ResNetSmall(depth, num_classes, in_channels, shortcut=shortcut, width=width)


def plain_small(depth=20, num_classes=10, in_channels=1, *, width=16):
    """The plain twin of :func:`resnet_small`: the same layers and parameters, no shortcuts."""
    return ResNetSmall(depth, num_classes, in_channels, shortcut="none", width=width)
