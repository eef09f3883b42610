"""Image files -> uint8 RGB tensors (3, H, W), their real size checked before any pixel.

A file is read only when it is a regular file (a FIFO would block the reader, a device
such as /dev/zero never ends), and read once: the bytes whose size is checked are the
bytes that get decoded. An image of more than MAX_PIXELS pixels is refused before it is
decoded, whatever its format: a few bytes of WebP, PNG or JPEG can otherwise ask for
gigabytes (a decompression bomb).

A plain JPEG (grey or YCbCr, no APP1 metadata such as EXIF or XMP) is decoded by simplejpeg
(libjpeg-turbo; 2.3x PIL's speed and the same pixels: docs/benchmarks.md, "Image
decoding"), its size read as libjpeg reads it (the first frame header before the scan).
Every other image, and a JPEG simplejpeg cannot decode, goes through PIL, restricted to the
formats of IMAGE_EXTENSIONS, whose lazy `Image.open` gives the size before decoding; a file
PIL does not recognise as one of them is refused as not an image. (torchvision.io's
decoders are deprecated since torchvision 0.29, and its PNG decoder crashes the process,
SIGSEGV, on some corrupt files such as one whose IDAT fails its zlib check.)

Grey, palette, CMYK and alpha images come out as RGB (alpha dropped, as PIL's
``convert("RGB")`` does); 16-bit samples become 8-bit ones by dropping the low byte
(v >> 8), float samples in [0, 1] become round(v * 255) (others are refused); an animated
GIF or WebP gives its first frame; EXIF orientation is applied, as PIL's
``ImageOps.exif_transpose`` does (a JPEG that carries it goes through PIL for that).
"""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import simplejpeg
import torch
from PIL import Image, ImageOps

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
# The PIL formats those extensions name (PPM covers .pgm; JPEG covers MPO, a camera JPEG).
PIL_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "PPM", "TIFF")

MAX_PIXELS = Image.MAX_IMAGE_PIXELS  # PIL's own bomb limit: 89,478,485 pixels (~0.25 GiB RGB)
MAX_FILE_BYTES = 1 << 30  # more than MAX_PIXELS of uncompressed 16-bit RGBA (0.67 GiB) needs
JPEG_MAGIC, PNG_MAGIC = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOF0..SOF15
JPEG_SCAN, JPEG_UNSIZED_MARKERS = 0xDA, frozenset([0x01, *range(0xD0, 0xDA)])  # SOS; no length
JPEG_APP1 = 0xE1  # EXIF or XMP metadata, whose orientation PIL applies
PLAIN_JPEG_COMPONENTS = (1, 3)  # grey, YCbCr (or RGB): libjpeg and PIL agree on them
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")

_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UndecodableImage(ValueError):
    """An image file that is missing, unreadable or not a decodable image."""


def kind_problem(mode: int) -> str | None:
    """Why a file of this `st_mode` is not one to read an image from, or None if regular."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a plain file")
    return f"not a regular file ({kind})"


def file_problem(path: str | Path) -> str | None:
    """Why `path` (links followed) is not a regular file to read, or None if it is one."""
    try:
        return kind_problem(os.stat(path).st_mode)
    except OSError as error:
        return f"cannot read ({error.strerror or error})"


def read_image_file(path: str | Path) -> bytearray:
    """The bytes of a regular file; UndecodableImage for anything else (never opens a FIFO
    for a blocking read: the kind is checked before opening and again on the open file)."""
    problem = file_problem(path)
    if problem is not None:
        raise UndecodableImage(f"{path}: {problem}")
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC)
    except OSError as error:
        raise UndecodableImage(f"{path}: cannot read ({error.strerror or error})") from None
    with open(descriptor, "rb") as file:
        status = os.fstat(descriptor)
        problem = kind_problem(status.st_mode)  # replaced between the check and the open
        if problem is not None:
            raise UndecodableImage(f"{path}: {problem}")
        if status.st_size > MAX_FILE_BYTES:
            raise UndecodableImage(
                f"{path}: {status.st_size:,} bytes, more than an image of {MAX_PIXELS:,} "
                f"pixels needs ({MAX_FILE_BYTES:,})"
            )
        data = bytearray(status.st_size)
        del data[file.readinto(data) :]
    if not data:
        raise UndecodableImage(f"{path}: empty file")
    return data


class JpegFrame(NamedTuple):
    """What a JPEG's header says before its scan: the frame's size and component count,
    and whether an APP1 segment (EXIF, XMP) came with it."""

    width: int
    height: int
    components: int
    metadata: bool


def jpeg_frame(data: bytes | bytearray) -> JpegFrame | None:
    """The frame header that libjpeg decodes: the first SOF marker before the scan, segments
    skipped by their length wherever they are (as libjpeg does, which refuses a second SOF);
    None when there is no such header."""
    position, frame, metadata = 2, None, False
    while True:
        position = data.find(b"\xff", position)
        while 0 <= position < len(data) - 1 and data[position + 1] == 0xFF:  # fill bytes
            position += 1
        if position < 0 or position + 4 > len(data):
            break
        marker = data[position + 1]
        if marker in JPEG_FRAME_MARKERS and frame is None:
            if position + 10 > len(data):
                return None
            height, width = struct.unpack_from(">HH", data, position + 5)
            frame = (width, height, data[position + 9])
        if marker == JPEG_SCAN:
            break
        metadata = metadata or marker == JPEG_APP1
        if marker in JPEG_UNSIZED_MARKERS or marker == 0:  # FF 00: not a marker, skipped
            position += 2
        else:
            position += 2 + struct.unpack_from(">H", data, position + 2)[0]
    return None if frame is None else JpegFrame(*frame, metadata)


def png_dimensions(data: bytes | bytearray) -> tuple[int, int] | None:
    """(width, height) from IHDR when it is the first chunk (as libpng requires)."""
    if data[:8] != PNG_MAGIC or len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return struct.unpack_from(">II", data, 16)


def refuse_too_large(size: tuple[int, int], path: str | Path) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise UndecodableImage(
            f"{path}: {size[0]}x{size[1]} pixels, over the limit of {MAX_PIXELS:,} "
            "(a decompression bomb?)"
        )


def interleaved(image: torch.Tensor) -> torch.Tensor:
    """A (3, H, W) image as (H, W, 3). The decoders give interleaved pixels, handed out as a
    (3, H, W) view of them, so for such an image this copies nothing."""
    return image.permute(1, 2, 0)


def _open_checked(data: bytes | bytearray, path: str | Path) -> Image.Image:
    """PIL's lazy open (nothing decoded yet) of an image of PIL_FORMATS within MAX_PIXELS.

    A PNG's IHDR is checked first, so that a PNG bomb too large for PIL's own open (twice
    MAX_PIXELS) is still refused with its size."""
    size = png_dimensions(data)
    if size is not None:
        refuse_too_large(size, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below
            image = Image.open(io.BytesIO(data), formats=PIL_FORMATS)
    except Image.DecompressionBombError as error:
        raise UndecodableImage(
            f"{path}: over the limit of {MAX_PIXELS:,} pixels: {error}"
        ) from None
    except Image.UnidentifiedImageError:
        raise UndecodableImage(f"{path}: not an image (none of {', '.join(PIL_FORMATS)})") from None
    except (OSError, ValueError, SyntaxError, struct.error) as error:
        raise UndecodableImage(f"{path}: {error}") from None
    try:
        refuse_too_large(image.size, path)
    except UndecodableImage:
        image.close()
        raise
    return image


def _rgb_pixels(image: Image.Image, path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 pixels of a PIL image: 16-bit samples >> 8, floats in [0, 1] * 255."""
    if image.mode in SIXTEEN_BIT_MODES or (image.mode == "I" and image.format == "PPM"):
        grey = (np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8)  # PPM: 16-bit I
    elif image.mode == "F":
        values = np.asarray(image)
        if not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1):
            raise UndecodableImage(
                f"{path}: float samples must lie in [0, 1] to be scaled to 8 bits; these span "
                f"{values.min():g} to {values.max():g}"
            )
        grey = np.rint(values * 255).astype(np.uint8)
    elif image.mode.startswith("I"):
        raise UndecodableImage(
            f"{path}: {image.mode} samples (32-bit or signed integers) have no 8-bit scale; "
            "save the image with 8- or 16-bit samples"
        )
    else:
        return np.array(image.convert("RGB"))
    return np.repeat(grey[:, :, None], 3, axis=2)


def _decode_with_pil(data: bytes | bytearray, path: str | Path) -> torch.Tensor:
    with _open_checked(data, path) as image:
        try:
            ImageOps.exif_transpose(image, in_place=True)
            array = _rgb_pixels(image, path)
        except UndecodableImage:
            raise
        except (OSError, ValueError, SyntaxError, struct.error) as error:  # truncated, ...
            raise UndecodableImage(f"{path}: {error}") from None
    return torch.from_numpy(array).permute(2, 0, 1)


def decode_rgb_pil(path: str | Path) -> torch.Tensor:
    """Decode with PIL alone (the benchmark's B), checked as `decode_rgb` checks."""
    return _decode_with_pil(read_image_file(path), path).contiguous()


def decode_rgb(path: str | Path) -> torch.Tensor:
    """Decode an image file into a uint8 RGB tensor (3, H, W); raise UndecodableImage."""
    data = read_image_file(path)
    frame = jpeg_frame(data) if data[:3] == JPEG_MAGIC else None
    if frame is None:
        return _decode_with_pil(data, path)
    refuse_too_large((frame.width, frame.height), path)
    if frame.components not in PLAIN_JPEG_COMPONENTS or frame.metadata:
        return _decode_with_pil(data, path)
    try:
        return torch.from_numpy(simplejpeg.decode_jpeg(data, colorspace="RGB")).permute(2, 0, 1)
    except ValueError as libjpeg_error:  # truncated, corrupt, 12-bit...: PIL may still decode it
        try:
            return _decode_with_pil(data, path)
        except UndecodableImage:  # "tjDecompressHeader3(): Could not determine subsampling ..."
            reason = str(libjpeg_error).splitlines()[0].split("(): ", 1)[-1]
            raise UndecodableImage(f"{path}: truncated or corrupt JPEG ({reason})") from None
