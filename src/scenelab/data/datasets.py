"""Datasets that yield (uint8 image (3, H, W), int label), and `build_dataset`."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset

from scenelab.data.cache import DecodedImages
from scenelab.data.decode import UndecodableImage, decode_rgb
from scenelab.data.digits import CLASSES as DIGIT_CLASSES
from scenelab.data.digits import IMAGE_SIZE as DIGITS_IMAGE_SIZE
from scenelab.data.digits import digits_split
from scenelab.data.layout import check_split, load_samples
from scenelab.data.samples import Samples
from scenelab.data.threads import single_threaded
from scenelab.errors import ScenelabError
from scenelab.safetext import terminal

log = logging.getLogger(__name__)

Transform = Callable[[torch.Tensor], torch.Tensor]

DIGITS = "digits"
DEFAULT_IMAGE_SIZE = 128  # MiniPlaces' own size
MAX_CONSECUTIVE_FAILURES = 32  # undecodable images in a row before giving up on the dataset


class ImageFileDataset(Dataset):
    """Images decoded from files on every access (or, with `cache`, once: all of them,
    when the dataset is built; see scenelab.data.cache), then transformed.

    An image that fails to decode is replaced by the next one in the list (its path is
    logged and `skipped_images` counts each replacement, across DataLoader worker
    processes), unless `strict`, where it raises ScenelabError naming the file.
    """

    def __init__(
        self,
        samples: Samples,
        transform: Transform | None = None,
        strict: bool = False,
        cache: bool = False,
    ):
        self.paths = samples.paths
        self.labels = samples.labels
        self.classes = samples.classes
        self.transform = transform
        self.strict = strict
        self._skipped = multiprocessing.Value("q", 0)
        self._cache = (
            DecodedImages(len(self.paths), self._decode_file, str(samples.source))
            if cache
            else None
        )

    @property
    def skipped_images(self) -> int:
        """Undecodable images replaced so far, summed over all worker processes."""
        return self._skipped.value

    @property
    def cached_bytes(self) -> int:
        """Memory held by decoded images (0 without `cache`)."""
        return 0 if self._cache is None else self._cache.nbytes

    def __len__(self) -> int:
        return len(self.paths)

    def _decode_file(self, index: int) -> torch.Tensor | None:
        try:
            return decode_rgb(self.paths[index])
        except UndecodableImage as error:
            if self.strict:
                raise ScenelabError(f"cannot decode image {error} (--strict-data)") from None
            log.warning("skipping undecodable image %s", terminal(str(error)))
            return None

    def _decode(self, index: int) -> torch.Tensor | None:
        image = self._decode_file(index) if self._cache is None else self._cache[index]
        if image is None:
            with self._skipped.get_lock():
                self._skipped.value += 1
        return image

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        with single_threaded():
            return self._load(index)

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        for offset in range(min(MAX_CONSECUTIVE_FAILURES, len(self))):
            substitute = (index + offset) % len(self)
            image = self._decode(substitute)
            if image is not None:
                if self.transform is not None:
                    image = self.transform(image)
                return image, self.labels[substitute]
        raise ScenelabError(
            f"{MAX_CONSECUTIVE_FAILURES} images in a row from {self.paths[index]} do not decode;"
            " `scenelab data verify` lists the broken files"
        )


class TensorImageDataset(Dataset):
    """Images already in memory as one uint8 tensor (N, 3, H, W)."""

    skipped_images = 0  # nothing to decode, nothing to skip
    cached_bytes = 0  # in memory from the start: nothing decoded to keep

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        classes: list[str],
        transform: Transform | None = None,
    ) -> None:
        self.images = images
        self.labels = labels.tolist()
        self.classes = classes
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        if self.transform is not None:
            with single_threaded():
                image = self.transform(image)
        return image, self.labels[index]


def default_image_size(spec: str) -> int:
    """32 for the built-in digits, 128 (MiniPlaces') for everything else."""
    return DIGITS_IMAGE_SIZE if spec == DIGITS else DEFAULT_IMAGE_SIZE


def build_dataset(
    spec: str | Path,
    split: str,
    transform: Transform | None = None,
    strict: bool = False,
    cache: bool = False,
) -> ImageFileDataset | TensorImageDataset:
    """The `split` (train/val/test) of a dataset folder, or of the built-in `digits`.

    The folder's layout (MiniPlaces list files or class folders) is detected, and its list
    files, labels and image files are checked now, before any training: a problem raises
    ScenelabError naming the file and line. With `cache`, a folder's images are decoded
    now, once, and kept in memory (`--cache-images`; digits are in memory already).
    """
    check_split(split)
    if str(spec) == DIGITS:
        images, labels = digits_split(split)
        return TensorImageDataset(images, labels, DIGIT_CLASSES, transform)
    return ImageFileDataset(load_samples(spec, split), transform, strict, cache)
