"""The built-in dataset: scikit-learn's handwritten digits as RGB 32x32 uint8 images.

1,797 8x8 images with 17 grey levels (0..16) and 10 classes, shipped inside scikit-learn
(no files, no network). Each image is scaled to 0..255, upsampled bilinearly to 32x32 and
repeated over three channels. A fixed stratified 80/20 split gives `train` (1,437) and
`val` (360); `test` is the same held-out 20%.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

IMAGE_SIZE = 32
HELD_OUT_FRACTION = 0.2
SPLIT_SEED = 0
CLASSES = [str(digit) for digit in range(10)]


@lru_cache(maxsize=1)
def _all_digits() -> tuple[torch.Tensor, torch.Tensor]:
    digits = load_digits()
    grey = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    grey = F.interpolate(grey, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
    images = grey.mul(255.0).round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)
    return images.contiguous(), torch.as_tensor(digits.target, dtype=torch.int64)


def digits_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of `train`, `val` or `test`."""
    images, labels = _all_digits()
    train_index, held_out_index = train_test_split(
        torch.arange(len(labels)).numpy(),
        test_size=HELD_OUT_FRACTION,
        stratify=labels.numpy(),
        random_state=SPLIT_SEED,
    )
    index = torch.as_tensor(train_index if split == "train" else held_out_index)
    return images[index], labels[index]
