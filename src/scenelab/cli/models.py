"""``scenelab models``: flags only; the work is scenelab.models.registry.models_command."""

from __future__ import annotations

import argparse

from scenelab.cli.types import setting
from scenelab.models.registry import models_command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the models with parameter counts and multiply-adds",
        description=(
            "Without names: scenelab's models and resnet18 with their parameter counts and "
            "multiply-adds (MACs = FLOPs / 2) per image, then every other torchvision "
            "classification model by name. With names (shell patterns such as 'resnet*' too): the "
            "counts of those models."
        ),
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="models to count, or patterns")
    parser.add_argument(
        "--num-classes", type=setting("num_classes"), default=100, help="classifier size (100)"
    )
    parser.add_argument(
        "--image-size", type=setting("image_size"), default=128, help="input size in pixels (128)"
    )
    parser.set_defaults(func=models_command)
