"""Decoded images kept in memory (`--cache-images`): every image of a split decoded once.

When all the cores compute, as on a 2-core CPU machine, decoding the JPEGs again every
epoch in a loader process takes CPU time from the model. The cache trades that for
memory, 3 x H x W bytes per image (4.9 GB for MiniPlaces' 100,000 training images): on
this project's development VM it cuts the loader's work per batch of 64 128x128 images
from 15 to 3 ms (docs/benchmarks.md, "Training loop"). With the study's augmentation the
augmentation itself is most of that work, and the cache saves little.

Images are packed end to end into flat uint8 buffers of CHUNK_IMAGES images each, so that
a loader started by fork reads them without a copy, and one started by spawn receives one
shared tensor per CHUNK_IMAGES images rather than one per image.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from scenelab.data.decode import interleaved
from scenelab.errors import ScenelabError

CHUNK_IMAGES = 1024
MEMORY_SHARE = 0.5  # of the memory available at start, at most, for the cache

_MEMINFO = Path("/proc/meminfo")


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (memory the kernel can give without swapping), or
    None where there is no /proc (then the cache is not checked against it)."""
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class DecodedImages:
    """``decode(i)`` for every ``i < count``, kept: ``images[i]`` is a uint8 (3, H, W)
    view of (H, W, 3) pixels in the cache (transforms must not write into it), or None
    where ``decode`` returned None.

    Refuses (ScenelabError naming ``--cache-images``) as soon as the images decoded so far,
    or the whole split projected from them, would take more than MEMORY_SHARE of the
    memory available at start.
    """

    def __init__(
        self, count: int, decode: Callable[[int], torch.Tensor | None], source: str
    ) -> None:
        available = available_memory_bytes()
        self.budget = None if available is None else int(MEMORY_SHARE * available)
        self.shapes = torch.zeros(count, 3, dtype=torch.int64)  # (0, 0, 0): no image
        self.offsets = torch.zeros(count, dtype=torch.int64)  # into the image's chunk
        self.chunks: list[torch.Tensor] = []
        self.nbytes = 0
        for start in range(0, count, CHUNK_IMAGES):
            stop = min(start + CHUNK_IMAGES, count)
            self.chunks.append(self._pack(start, [decode(i) for i in range(start, stop)]))
            self.nbytes += self.chunks[-1].numel()
            self._check_budget(self.nbytes * count // stop, source, count)

    def _pack(self, start: int, images: list[torch.Tensor | None]) -> torch.Tensor:
        offset = 0
        for index, image in enumerate(images, start):
            if image is not None:
                self.shapes[index] = torch.tensor(image.shape)
                self.offsets[index] = offset
                offset += image.numel()
        return torch.cat(
            [interleaved(image).reshape(-1) for image in images if image is not None]
            or [torch.empty(0, dtype=torch.uint8)]
        )

    def _check_budget(self, projected: int, source: str, count: int) -> None:
        if self.budget is not None and projected > self.budget:
            raise ScenelabError(
                f"--cache-images: the {count:,} images of {source}, decoded, would take about "
                f"{projected / 2**30:.1f} GiB, more than {MEMORY_SHARE:.0%} of the "
                f"{self.budget / MEMORY_SHARE / 2**30:.1f} GiB of memory available; "
                "train without --cache-images (images are then decoded every epoch)"
            )

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, index: int) -> torch.Tensor | None:
        shape = self.shapes[index].tolist()
        if shape[0] == 0:
            return None
        channels, height, width = shape
        offset = int(self.offsets[index])
        pixels = self.chunks[index // CHUNK_IMAGES][offset : offset + channels * height * width]
        return pixels.view(height, width, channels).permute(2, 0, 1)
