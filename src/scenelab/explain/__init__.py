"""Explanations of a model's decisions: saliency maps."""

from scenelab.explain.saliency import (
    channel_max_abs,
    gradient,
    integrated_gradients,
    predicted_classes,
    saliency,
    smoothgrad,
)

__all__ = [
    "channel_max_abs",
    "gradient",
    "integrated_gradients",
    "predicted_classes",
    "saliency",
    "smoothgrad",
]
