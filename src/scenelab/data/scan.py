"""Decode every image of a list once, on all cores: what `verify` and `stats` both need."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import torch

from scenelab.data.decode import UndecodableImage, decode_rgb

CHUNK = 64  # images per task sent to a worker process


@dataclass(frozen=True)
class ImageInfo:
    """What one decode tells: the error, or the size and per-channel sums of uint8 pixels.

    The sums are exact integers (of values 0..255 and of their squares), so that a mean and
    standard deviation over a whole dataset lose nothing to rounding.
    """

    error: str | None = None
    height: int = 0
    width: int = 0
    channel_sum: tuple[int, ...] = (0, 0, 0)
    channel_sum_of_squares: tuple[int, ...] = (0, 0, 0)


def inspect_image(path: str) -> ImageInfo:
    try:
        image = decode_rgb(path)
    except UndecodableImage as error:
        return ImageInfo(error=str(error))
    pixels = image.reshape(3, -1).to(torch.int64)
    return ImageInfo(
        height=image.shape[1],
        width=image.shape[2],
        channel_sum=tuple(pixels.sum(1).tolist()),
        channel_sum_of_squares=tuple(pixels.square().sum(1).tolist()),
    )


def scan_images(paths: list[str], workers: int | None = None) -> list[ImageInfo]:
    """`inspect_image` on every path, in order, with one process per core by default."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(paths) <= CHUNK:
        return [inspect_image(path) for path in paths]
    with ProcessPoolExecutor(
        max_workers=workers, initializer=torch.set_num_threads, initargs=(1,)
    ) as pool:
        return list(pool.map(inspect_image, paths, chunksize=CHUNK))
