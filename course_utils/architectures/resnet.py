"""ResNet for ImageNet (He et al., "Deep residual learning for image recognition", CVPR 2016).

ResNet-18 and -34 stack :class:`BasicBlock` (two 3×3 convs), ResNet-50, -101 and -152
:class:`Bottleneck` (1×1 reduce, 3×3, 1×1 expand ×4), as in the paper's Table 1; batch
normalisation follows every convolution, each block computes ``relu(F(x) + shortcut(x))``.

As in torchvision (whose parameter names these modules share, so its state dicts load):

* shortcuts are identities, except where a block changes the size or the number of channels:
  there a 1×1 convolution with stride and batch normalisation projects ``x`` (the paper's
  option B);
* in a downsampling bottleneck the stride 2 sits on the 3×3 convolution ("ResNet v1.5"). The
  paper (and Caffe's released models) put it on the first 1×1 convolution, which then skips
  three quarters of its inputs; ``stride_in_1x1=True`` builds that. Parameter counts are equal;
  v1.5 costs more multiply-accumulates (ResNet-50: about 4.1 G against the paper's 3.8 G) and
  is a little more accurate.

The small CIFAR-style networks of the paper's section 4.2 are in :mod:`.resnet_small`.
"""


import torch
import torch.nn as nn

from .initialization import init_weights
from .validation import flag, one_of, positive_int

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "DEPTHS"]


def conv_bn(in_channels, out_channels, kernel_size, stride=1):
    """Convolution (no bias, 'same' padding) then batch normalisation: (N, C, H, W) -> (N, C', H/s, W/s)."""
    return [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                      bias=False), nn.BatchNorm2d(out_channels)]


def projection(in_channels, out_channels, stride):
    """Option B shortcut where the shape changes, else None (identity): (N, C, H, W) -> (N, C', H/s, W/s)."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(*conv_bn(in_channels, out_channels, 1, stride))


class BasicBlock(nn.Module):
    """Two 3×3 convs with a shortcut; (N, in_channels, H, W) -> (N, planes, H/stride, W/stride).

    The stride is on the first 3×3 conv; ``stride_in_1x1`` is accepted for a common signature
    with :class:`Bottleneck` and changes nothing (a basic block has no 1×1 conv).
    """

    expansion = 1

    def __init__(self, in_channels, planes, stride=1, *, stride_in_1x1=False):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(in_channels, planes, 3, stride)
        self.relu1 = nn.ReLU()
        self.conv2, self.bn2 = conv_bn(planes, planes, 3)
        self.downsample = projection(in_channels, planes, stride)
        self.relu2 = nn.ReLU()

    def residual(self, x):
        """F(x): the two convolutions, without the shortcut and the last ReLU."""
        return self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))

    def shortcut(self, x):
        """x itself, or its projection where the block changes the shape."""
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x):
        return self.relu2(self.residual(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3, 1×1 expand; (N, in_channels, H, W) -> (N, 4 planes, H/stride, W/stride).

    The stride is on the 3×3 conv (v1.5), or on the first 1×1 conv with ``stride_in_1x1``
    (the paper).
    """

    expansion = 4

    def __init__(self, in_channels, planes, stride=1, *, stride_in_1x1=False):
        super().__init__()
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1, self.bn1 = conv_bn(in_channels, planes, 1, stride_1x1)
        self.relu1 = nn.ReLU()
        self.conv2, self.bn2 = conv_bn(planes, planes, 3, stride_3x3)
        self.relu2 = nn.ReLU()
        self.conv3, self.bn3 = conv_bn(planes, planes * self.expansion, 1)
        self.downsample = projection(in_channels, planes * self.expansion, stride)
        self.relu3 = nn.ReLU()

    def residual(self, x):
        """F(x): the three convolutions, without the shortcut and the last ReLU."""
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        return self.bn3(self.conv3(x))

    def shortcut(self, x):
        """x itself, or its projection where the block changes the shape."""
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x):
        return self.relu3(self.residual(x) + self.shortcut(x))


DEPTHS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
"""The paper's Table 1: block type and number of blocks in conv2_x ... conv5_x for each depth."""


class ResNet(nn.Module):
    """ResNet-18/34/50/101/152; (N, C, 224, 224) -> (N, num_classes).

    ==========  ==================================================  ==============
    stage       layers                                              output (×e)
    ==========  ==================================================  ==============
    stem        7×7/2 conv 64, BN, ReLU, 3×3/2 max pool             64 × 56 × 56
    layer1      blocks of 64 planes                                 64e × 56 × 56
    layer2      blocks of 128 planes, first with stride 2           128e × 28 × 28
    layer3      blocks of 256 planes, first with stride 2           256e × 14 × 14
    layer4      blocks of 512 planes, first with stride 2           512e × 7 × 7
    head        global average pool, fc                             num_classes
    ==========  ==================================================  ==============

    e (the block's ``expansion``) is 1 for basic blocks and 4 for bottlenecks. With
    ``zero_init_residual`` the last BN of each block starts at 0, so every block starts as the
    identity (Goyal et al. 2017; off by default as in torchvision).
    """

    def __init__(self, depth=50, num_classes=1000, in_channels=3, *, stride_in_1x1=False,
                 zero_init_residual=False):
        super().__init__()
        depth = one_of("depth", depth, tuple(DEPTHS))
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        stride_in_1x1 = flag("stride_in_1x1", stride_in_1x1)
        zero_init_residual = flag("zero_init_residual", zero_init_residual)
        block, counts = DEPTHS[depth]
        self.conv1, self.bn1 = conv_bn(in_channels, 64, 7, stride=2)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = 64
        for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), counts), start=1):
            blocks = []
            for i in range(count):
                stride = 2 if stage > 1 and i == 0 else 1
                blocks.append(block(channels, planes, stride, stride_in_1x1=stride_in_1x1))
                channels = planes * block.expansion
            self.add_module(f"layer{stage}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, (BasicBlock, Bottleneck)):
                    last_bn = module.bn2 if isinstance(module, BasicBlock) else module.bn3
                    nn.init.zeros_(last_bn.weight)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
