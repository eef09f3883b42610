"""Image files -> uint8 RGB tensors (3, H, W).

torchvision.io decodes JPEG, PNG, GIF and WebP; grayscale, palette, CMYK and alpha images
come out as RGB (alpha is dropped, as PIL's ``convert("RGB")`` does), 16-bit PNGs are
scaled to 8 bits and an animated GIF gives its first frame. Formats torchvision.io cannot
read (BMP, TIFF, ...) go through PIL.

An image whose header claims more than MAX_PIXELS pixels is refused before decoding: a
few kilobytes of PNG or JPEG can otherwise ask for gigabytes (a decompression bomb).
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms.v2.functional import to_dtype

# What the layouts pick up as images (torchvision's ImageFolder list, plus GIF).
IMAGE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".webp",
    ".bmp",
    ".ppm",
    ".pgm",
    ".tif",
    ".tiff",
)


MAX_PIXELS = Image.MAX_IMAGE_PIXELS  # PIL's own bomb limit: 89,478,485 pixels (~0.25 GiB RGB)
HEADER_BYTES = 1 << 16  # where PNG, GIF and (all but odd) JPEG files state their size
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOF0..SOF15


class UndecodableImage(ValueError):
    """An image file that is missing, unreadable or not a decodable image."""


def header_dimensions(head: bytes) -> tuple[int, int] | None:
    """(width, height) as a PNG, GIF or JPEG header states them, or None if it does not."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    if head[:2] == b"\xff\xd8":
        position = 2
        while position + 9 <= len(head) and head[position] == 0xFF:
            marker = head[position + 1]
            if marker == 0xFF:  # fill byte
                position += 1
            elif marker in JPEG_FRAME_MARKERS:
                height, width = struct.unpack(">HH", head[position + 5 : position + 9])
                return width, height
            else:
                position += 2 + struct.unpack(">H", head[position + 2 : position + 4])[0]
    return None


def _refuse_bombs(data: torch.Tensor, path: str | Path) -> None:
    size = header_dimensions(data[:HEADER_BYTES].numpy().tobytes())
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise UndecodableImage(
            f"{path}: {size[0]}x{size[1]} pixels, over the limit of {MAX_PIXELS:,} "
            "(a decompression bomb?)"
        )


def _as_rgb_uint8(image: torch.Tensor) -> torch.Tensor:
    if image.ndim == 4:  # animated GIF: (frames, C, H, W)
        image = image[0]
    if image.dtype != torch.uint8:
        image = to_dtype(image, torch.uint8, scale=True)
    return image


def interleaved(image: torch.Tensor) -> torch.Tensor:
    """A (3, H, W) image as (H, W, 3). torchvision.io decodes to interleaved pixels and
    hands out a (3, H, W) view of them, so for such an image this copies nothing."""
    return image.permute(1, 2, 0)


def decode_rgb_pil(path: str | Path) -> torch.Tensor:
    """Decode with PIL: the fallback for formats torchvision.io lacks, and the benchmark's B."""
    try:
        with Image.open(path) as image:
            array = np.array(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise UndecodableImage(f"{path}: {error}") from None
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def decode_rgb(path: str | Path) -> torch.Tensor:
    """Decode an image file into a uint8 RGB tensor (3, H, W); raise UndecodableImage."""
    try:
        with warnings.catch_warnings():
            # torchvision 0.29 deprecates its decoders for TorchCodec's; they still work.
            warnings.simplefilter("ignore", DeprecationWarning)
            data = read_file(str(path))
            _refuse_bombs(data, path)
            return _as_rgb_uint8(decode_image(data, mode=ImageReadMode.RGB))
    except (OSError, RuntimeError) as torchvision_error:
        if not os.path.isfile(path):
            raise UndecodableImage(f"{path}: cannot read ({torchvision_error})") from None
        try:
            return decode_rgb_pil(path)
        except UndecodableImage:
            # "decode_jpeg, /path/to/decode_jpeg.cpp:171, Image is incomplete or truncated"
            reason = str(torchvision_error).splitlines()[0].split(".cpp:")[-1].split(", ", 1)[-1]
            raise UndecodableImage(f"{path}: {reason}") from None
