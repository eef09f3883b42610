"""Augmentation recipes: the study's steps and parameters, shapes, dtypes, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from scenelab.data import RECIPES, build_transform
from scenelab.errors import ScenelabError


def random_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)


def test_study_recipe_is_the_studys_steps():
    steps = build_transform("study", 128, train=True).transforms
    assert [type(step) for step in steps] == [
        v2.Resize,
        v2.RandomHorizontalFlip,
        v2.ColorJitter,
        v2.RandomRotation,
        v2.RandomResizedCrop,
    ]
    resize, flip, jitter, rotation, crop = steps
    assert resize.size == [160] and flip.p == 0.5
    assert jitter.brightness == jitter.contrast == jitter.saturation == (0.85, 1.15)
    assert jitter.hue is None and rotation.degrees == [-15.0, 15.0]
    assert crop.size == (128, 128) and crop.scale == (0.08, 1.0)


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize(("height", "width"), [(128, 128), (96, 200), (300, 150)])
def test_every_recipe_gives_uint8_squares_of_the_image_size(recipe, height, width):
    for train in (True, False):
        out = build_transform(recipe, 64, train)(random_image(height, width))
        assert out.dtype == torch.uint8 and out.shape == (3, 64, 64)


def test_evaluation_is_resize_and_centre_crop_like_pil():
    image = random_image(100, 180)
    out = build_transform("study", 64, train=False)(image)
    pil = Image.fromarray(image.permute(1, 2, 0).numpy()).resize((115, 64), Image.BILINEAR)
    left = round((115 - 64) / 2)  # 26, as torchvision rounds the offset
    expected = torch.from_numpy(np.array(pil)[:, left : left + 64]).permute(2, 0, 1)
    assert (out.int() - expected.int()).abs().max() <= 2
    square = random_image(64, 64)
    assert torch.equal(build_transform("none", 64, train=True)(square), square)


def test_study_augmentation_is_random_and_reproducible():
    transform, image = build_transform("study", 128, train=True), random_image(128, 128)
    torch.manual_seed(0)
    first = [transform(image) for _ in range(3)]
    torch.manual_seed(0)
    again = [transform(image) for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], first[1])


def test_unknown_recipe_and_tiny_size_are_errors():
    with pytest.raises(ScenelabError, match="unknown augment recipe 'heavy'"):
        build_transform("heavy", 128, train=True)
    with pytest.raises(ScenelabError, match="--image-size"):
        build_transform("study", 4, train=True)
