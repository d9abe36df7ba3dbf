"""The small random network the interpretation tests share (tests/test_interpret*.py)."""

import torch
import torch.nn as nn


class TinyNet(nn.Module):
    """3×12×12 -> 5 logits: conv, ReLU, max pool, conv, BN, in-place ReLU, global average pool,
    dropout (inactive in eval mode, which is how the tests use it), fc."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        return self.fc(self.dropout(torch.flatten(self.pool(self.features(x)), 1)))


def tiny_net():
    torch.manual_seed(0)
    model = TinyNet()
    model.features[4].running_mean.uniform_(-0.2, 0.2)
    model.features[4].running_var.uniform_(0.5, 2.0)
    return model.eval()
