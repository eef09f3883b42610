"""Models. Every model takes [0, 1] pixels and starts with its own Normalize layer."""

from scenelab.models.inception import OurBestNet
from scenelab.models.registry import (
    build_model,
    check_image_size,
    count_macs,
    count_parameters,
    list_models,
)
from scenelab.models.simplenet import SimpleNet

__all__ = [
    "OurBestNet",
    "SimpleNet",
    "build_model",
    "check_image_size",
    "count_macs",
    "count_parameters",
    "list_models",
]
