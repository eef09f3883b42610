"""Augmentation recipes on uint8 CHW tensors (torchvision.transforms.v2), chosen by name.

- `study`: the study's training recipe. Resize the shorter side to 1.25 x the image size
  (160 for 128), random horizontal flip, colour jitter of 0.15 on brightness, contrast and
  saturation, random rotation within +-15 degrees, random-resized crop to the image size.
- `light`: resize the shorter side to the image size, random horizontal flip, random crop
  of the image size from the image padded by 1/8 of it (reflection).
- `none`: no augmentation; the evaluation recipe.

Evaluation (train=False) always resizes the shorter side to the image size and takes the
centre crop, whatever the recipe. Every transform maps uint8 (3, H, W) to uint8
(3, S, S); pixels become floats only on the device.
"""

from __future__ import annotations

from torchvision.transforms import v2

from scenelab.errors import ScenelabError

RECIPES = ("study", "light", "none")

STUDY_RESIZE_FACTOR = 1.25  # 160 / 128: the study resized to 160 before cropping 128
STUDY_JITTER = 0.15  # brightness, contrast and saturation
STUDY_ROTATION_DEGREES = 15.0


def eval_transform(image_size: int) -> v2.Compose:
    return v2.Compose([v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size)])


def study_transform(image_size: int) -> v2.Compose:
    return v2.Compose(
        [
            v2.Resize(round(STUDY_RESIZE_FACTOR * image_size), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(STUDY_JITTER, STUDY_JITTER, STUDY_JITTER),
            v2.RandomRotation(STUDY_ROTATION_DEGREES),
            v2.RandomResizedCrop(image_size, antialias=True),
        ]
    )


def light_transform(image_size: int) -> v2.Compose:
    return v2.Compose(
        [
            v2.Resize(image_size, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomCrop(image_size, padding=image_size // 8, padding_mode="reflect"),
        ]
    )


def build_transform(recipe: str, image_size: int, train: bool) -> v2.Compose:
    """The transform of `recipe` for training, or the evaluation transform when not `train`."""
    if recipe not in RECIPES:
        raise ScenelabError(f"unknown augment recipe {recipe!r}; expected one of {RECIPES}")
    if image_size < 8:
        raise ScenelabError(f"--image-size must be at least 8, got {image_size}")
    if not train or recipe == "none":
        return eval_transform(image_size)
    return study_transform(image_size) if recipe == "study" else light_transform(image_size)
