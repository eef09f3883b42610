"""Layers: the custom convolution module and the input normalisation."""

from scenelab.nn.conv import CustomConv2d, convert_convs
from scenelab.nn.normalize import Normalize

__all__ = ["CustomConv2d", "Normalize", "convert_convs"]
