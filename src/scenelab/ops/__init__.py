"""Functional operators written from scratch."""

from scenelab.ops.conv import conv2d

__all__ = ["conv2d"]
