"""SimpleNet, the study's baseline network (about 0.4 M parameters)."""

from __future__ import annotations

from torch import nn

from scenelab.nn.normalize import Normalize


def _conv_relu(
    in_channels: int, out_channels: int, kernel: int, stride: int = 1
) -> list[nn.Module]:
    padding = kernel // 2
    return [
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding),
        nn.ReLU(inplace=True),
    ]


class SimpleNet(nn.Sequential):
    """7x7/2 stem, max-pool, two bottleneck stages (1x1, 3x3, 1x1), global pool, linear.

    conv 7x7/2 3->64, pool 3/2; conv 1x1 64->64, 3x3 64->64, 1x1 64->256, pool 3/2;
    conv 1x1 256->128, 3x3 128->128, 1x1 128->512; average pool; linear 512->classes.
    Every conv is followed by ReLU. Kaiming-normal init (fan_out, relu), zero biases.
    """

    def __init__(self, num_classes: int = 100) -> None:
        super().__init__(
            Normalize(),
            *_conv_relu(3, 64, 7, stride=2),
            nn.MaxPool2d(3, stride=2, padding=1),
            *_conv_relu(64, 64, 1),
            *_conv_relu(64, 64, 3),
            *_conv_relu(64, 256, 1),
            nn.MaxPool2d(3, stride=2, padding=1),
            *_conv_relu(256, 128, 1),
            *_conv_relu(128, 128, 3),
            *_conv_relu(128, 512, 1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(512, num_classes),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
