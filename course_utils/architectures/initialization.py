"""Weight initialisation shared by the VGG, GoogLeNet and ResNet definitions.

He et al. (2015) normal initialisation for convolutions (fan-out mode, the choice of
torchvision's VGG and ResNet), N(0, 0.01) for fully connected layers, zero biases, and
batch normalisation starting as the identity (scale 1, shift 0).
"""

import torch.nn as nn

__all__ = ["init_weights"]


def init_weights(model):
    """Initialise every conv, linear and batch-norm layer of ``model`` in place; return ``model``."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model
