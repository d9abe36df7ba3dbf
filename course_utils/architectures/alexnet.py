"""AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012): the model zoo's, the paper's, a small one.

Three definitions of the same design (five convolutions, overlapping max pooling, three fully
connected layers with dropout):

* :class:`AlexNet` (``build("alexnet")``): the single-tower network of PyTorch's torchvision
  model zoo, 64-192-384-256-256 filters, no local response normalisation, an adaptive average
  pool to 6×6 so that any input of at least 63×63 works; 61,100,840 parameters. torchvision
  cites Krizhevsky's later one-GPU paper ("One weird trick ...", 2014) for it, not the 2012
  paper: its first layer has 64 filters where the 2012 paper has 96, its second 192 where the
  paper has 256, and conv4 256 where the paper has 384.
* :class:`AlexNet2GPU` (``build("alexnet_2gpu")``): the 2012 paper. Its two GPU towers are
  grouped convolutions (``groups=2``) in conv2, conv4 and conv5, the layers whose kernels see
  only the maps on their own GPU; conv1 (one input, both towers), conv3 and the fully connected
  layers see everything. 96-256-384-384-256 filters, local response normalisation after conv1
  and conv2, 60,965,224 parameters (the paper says "60 million").
* :class:`AlexNetSmall` (``build("alexnet_small")``): the same ideas sized for 1×28×28
  Fashion-MNIST images.

The paper's text says the input is 224×224×3, but an 11×11 convolution with stride 4 and no
padding maps 224 to 53.25 (not an integer) and 227 to 55, the 55×55 of the paper's figure 2;
:class:`AlexNet2GPU` therefore takes 227×227 inputs, as Caffe's reference model did. The
torchvision model pads conv1 by 2 instead, which maps 224 to 55.
"""

from collections import OrderedDict

import torch
import torch.nn as nn

from .heads import fully_connected_head
from .validation import positive_int, probability

__all__ = ["AlexNet", "AlexNet2GPU", "AlexNetSmall", "paper_lrn", "PAPER_INPUT_SIZE"]

PAPER_INPUT_SIZE = 227
"""Height and width of the input for which the 2012 paper's layer sizes (55, 27, 13, 6) hold."""


def paper_lrn(size=5, alpha=1e-4, beta=0.75, k=2.0):
    """The paper's local response normalisation (section 3.3) as a PyTorch layer.

    The paper divides each activation by ``(k + alpha * sum of squares over size neighbouring
    channels) ** beta``. PyTorch's :class:`~torch.nn.LocalResponseNorm` divides ``alpha`` by
    ``size`` first, so the paper's alpha = 1e-4 is PyTorch's ``alpha = 5e-4`` for size 5.
    Shape-preserving: (N, C, H, W) -> (N, C, H, W).
    """
    return nn.LocalResponseNorm(size, alpha=alpha * size, beta=beta, k=k)


class AlexNet(nn.Module):
    """AlexNet as in torchvision's model zoo (single tower); (N, C, H, W) -> (N, num_classes).

    features: 64 11×11/4 conv (pad 2), 3×3/2 max pool, 192 5×5 conv (pad 2), 3×3/2 max pool,
    384, 256 and 256 3×3 convs (pad 1), 3×3/2 max pool; (3, 224, 224) -> (256, 6, 6).
    avgpool: adaptive average pool to (256, 6, 6) (the identity at 224×224).
    classifier: dropout, 9216 -> 4096, ReLU, dropout, 4096 -> 4096, ReLU, 4096 -> num_classes
    (torchvision drops the inputs of fc6 and fc7; the paper drops their outputs).
    """

    def __init__(self, num_classes=1000, in_channels=3, *, dropout=0.5):
        super().__init__()
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        dropout = probability("dropout", dropout)
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 64, 11, stride=4, padding=2)), ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(3, stride=2)),
            ("conv2", nn.Conv2d(64, 192, 5, padding=2)), ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(3, stride=2)),
            ("conv3", nn.Conv2d(192, 384, 3, padding=1)), ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(384, 256, 3, padding=1)), ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(256, 256, 3, padding=1)), ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(3, stride=2)),
        ]))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = fully_connected_head(256 * 6 * 6, 4096, num_classes, dropout, dropout_first=True)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class AlexNet2GPU(nn.Module):
    """AlexNet as in the 2012 paper, towers as grouped convs; (N, C, 227, 227) -> (N, num_classes).

    Each conv is followed by a ReLU; LRN (:func:`paper_lrn`) follows the ReLUs of conv1 and
    conv2, and 3×3/2 overlapping max pooling follows both LRNs and conv5:

    ======  =======================================  ==============
    layer   kernels                                  output
    ======  =======================================  ==============
    conv1   96 × 11×11×C, stride 4                   96 × 55 × 55
    pool1   3×3/2 (after LRN)                        96 × 27 × 27
    conv2   256 × 5×5×48, pad 2, groups 2            256 × 27 × 27
    pool2   3×3/2 (after LRN)                        256 × 13 × 13
    conv3   384 × 3×3×256, pad 1                     384 × 13 × 13
    conv4   384 × 3×3×192, pad 1, groups 2           384 × 13 × 13
    conv5   256 × 3×3×192, pad 1, groups 2           256 × 13 × 13
    pool5   3×3/2                                    256 × 6 × 6
    fc6-8   9216 -> 4096 -> 4096 -> num_classes, dropout after fc6's and fc7's ReLUs
    ======  =======================================  ==============

    There is no adaptive pooling: the input must be 227×227 (see the module docstring on the
    paper's "224"). Weights start as in the paper (section 5): N(0, 0.01), biases 1 in conv2,
    conv4, conv5 and the hidden fully connected layers, 0 elsewhere.
    """

    def __init__(self, num_classes=1000, in_channels=3, *, dropout=0.5):
        super().__init__()
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        dropout = probability("dropout", dropout)
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 96, 11, stride=4)), ("relu1", nn.ReLU()),
            ("norm1", paper_lrn()), ("pool1", nn.MaxPool2d(3, stride=2)),
            ("conv2", nn.Conv2d(96, 256, 5, padding=2, groups=2)), ("relu2", nn.ReLU()),
            ("norm2", paper_lrn()), ("pool2", nn.MaxPool2d(3, stride=2)),
            ("conv3", nn.Conv2d(256, 384, 3, padding=1)), ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(384, 384, 3, padding=1, groups=2)), ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(384, 256, 3, padding=1, groups=2)), ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(3, stride=2)),
        ]))
        self.classifier = fully_connected_head(256 * 6 * 6, 4096, num_classes, dropout)
        self._init_as_paper()

    def _init_as_paper(self):
        ones = {"features.conv2", "features.conv4", "features.conv5", "classifier.fc6", "classifier.fc7"}
        for name, module in self.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.constant_(module.bias, 1.0 if name in ones else 0.0)

    def forward(self, x):
        size = tuple(x.shape[-2:])
        x = self.features(x)
        if tuple(x.shape[-2:]) != (6, 6):
            raise ValueError(
                f"alexnet_2gpu needs {PAPER_INPUT_SIZE}×{PAPER_INPUT_SIZE} inputs (the paper's layer sizes; "
                f"its text says 224, which does not fit), got {size[0]}×{size[1]}, which gives "
                f"{x.shape[-2]}×{x.shape[-1]} feature maps instead of 6×6; resize the images or use "
                "build('alexnet'), which accepts any size")
        return self.classifier(torch.flatten(x, 1))


class AlexNetSmall(nn.Module):
    """AlexNet's ideas at Fashion-MNIST size; (N, C, 28, 28) -> (N, num_classes).

    A large first kernel with a stride (32 5×5/2 convs, pad 2: 28 -> 14), overlapping 3×3/2
    max pooling (14 -> 6 and 6 -> 2), five convolutions (32, 64, 96, 96, 64 filters; the last
    three 3×3 with pad 1 as in AlexNet) and three fully connected layers with dropout after the
    first two (256 -> 512 -> 512 -> num_classes); 612,490 parameters for 1 input channel and 10
    classes. No local response normalisation: later work (VGG, section 4.1) found it does not help.
    """

    def __init__(self, num_classes=10, in_channels=1, *, dropout=0.5):
        super().__init__()
        num_classes = positive_int("num_classes", num_classes)
        in_channels = positive_int("in_channels", in_channels)
        dropout = probability("dropout", dropout)
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 32, 5, stride=2, padding=2)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(32, 64, 3, padding=1)), ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(3, stride=2)),
            ("conv3", nn.Conv2d(64, 96, 3, padding=1)), ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(96, 96, 3, padding=1)), ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(96, 64, 3, padding=1)), ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(3, stride=2)),
        ]))
        self.classifier = fully_connected_head(64 * 2 * 2, 512, num_classes, dropout)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))
