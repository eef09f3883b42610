"""OurBestNet: SimpleNet's stem followed by N Inception-v3-style modules.

Inception modules: Szegedy et al., "Going deeper with convolutions" (GoogLeNet,
CVPR 2015), with the 5x5 branch factorised into two 3x3 convolutions as in
Szegedy et al., "Rethinking the Inception Architecture" (Inception-v3, CVPR 2016).
Branch widths are GoogLeNet's modules 3a, 3b, 4a and 4b, in that order, with
GoogLeNet's 3x3/2 max-pool between 3b and 4a.
"""

from __future__ import annotations

import torch
from torch import nn

from scenelab.nn.normalize import Normalize

# (1x1, 3x3 reduce, 3x3, double-3x3 reduce, double-3x3, pool projection) per module.
MODULE_WIDTHS = (
    (64, 96, 128, 16, 32, 32),  # 3a -> 256 channels
    (128, 128, 192, 32, 96, 64),  # 3b -> 480
    (192, 96, 208, 16, 48, 64),  # 4a -> 512
    (160, 112, 224, 24, 64, 64),  # 4b -> 512
)
POOL_AFTER_MODULE = 2  # GoogLeNet halves the resolution between 3b and 4a
STEM_CHANNELS = 64
DROPOUT = 0.4  # GoogLeNet's rate before the classifier


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class InceptionModule(nn.Module):
    """Four parallel branches concatenated along channels.

    1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 (a factorised 5x5) | 3x3/1 max-pool -> 1x1.
    Every convolution is followed by BatchNorm and ReLU.
    """

    def __init__(
        self,
        in_channels: int,
        widths: tuple[int, int, int, int, int, int],
    ) -> None:
        one, three_reduce, three, double_reduce, double, pool_projection = widths
        super().__init__()
        self.branch1x1 = _conv_bn_relu(in_channels, one, 1)
        self.branch3x3 = nn.Sequential(
            _conv_bn_relu(in_channels, three_reduce, 1), _conv_bn_relu(three_reduce, three, 3)
        )
        self.branch5x5 = nn.Sequential(
            _conv_bn_relu(in_channels, double_reduce, 1),
            _conv_bn_relu(double_reduce, double, 3),
            _conv_bn_relu(double, double, 3),
        )
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), _conv_bn_relu(in_channels, pool_projection, 1)
        )
        self.out_channels = one + three + double + pool_projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1x1, self.branch3x3, self.branch5x5, self.branch_pool)
        return torch.cat([branch(x) for branch in branches], dim=1)


class OurBestNet(nn.Sequential):
    """SimpleNet's stem (conv 7x7/2 3->64, ReLU, max-pool 3/2), ``num_modules`` Inception
    modules, global average pool, dropout, linear classifier."""

    def __init__(self, num_modules: int, num_classes: int = 100) -> None:
        if not 1 <= num_modules <= len(MODULE_WIDTHS):
            raise ValueError(f"num_modules must be 1..{len(MODULE_WIDTHS)}, got {num_modules}")
        layers: list[nn.Module] = [
            Normalize(),
            nn.Conv2d(3, STEM_CHANNELS, 7, stride=2, padding=3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        ]
        channels = STEM_CHANNELS
        for index, widths in enumerate(MODULE_WIDTHS[:num_modules]):
            if index == POOL_AFTER_MODULE:
                layers.append(nn.MaxPool2d(3, stride=2, padding=1))
            module = InceptionModule(channels, widths)
            layers.append(module)
            channels = module.out_channels
        layers += [
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(DROPOUT),
            nn.Linear(channels, num_classes),
        ]
        super().__init__(*layers)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
