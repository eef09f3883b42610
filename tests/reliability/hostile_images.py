"""Hostile inputs, one failure class: Images, list files and folder walks that lie about what
they are.

Each case is a reliability_corpus.Case run through the real command line by
test_bad_inputs.py; docs/reliability.md's corpus table lists them. The image builders
are also used by test_hostile_images.py.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from reliability_corpus import (
    BAD_FIRST,
    FIRST_IMAGE,
    LISTS,
    REFUSES,
    SKIPS,
    TRAIN,
    VERIFY,
    Case,
    edit_list,
    replace_first_image,
    write_file,
)

SIDE = 10_000  # a bomb's width and height: 100,000,000 pixels, over PIL's 89,478,485


def webp_lossless(width: int, height: int) -> bytes:
    """A 38-byte lossless WebP of one colour, written by hand: the VP8L header states the
    size, then five single-symbol Huffman codes under which every pixel takes 0 bits."""
    payload = b"\x2f" + struct.pack("<I", (width - 1) | (height - 1) << 14) + b"\x88\x88\x08"
    payload += bytes(18 - len(payload))
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def jpeg_sized_after_app_segments(width: int, height: int, padding: int = 70_000) -> bytes:
    """A 16x16 JPEG whose frame header claims `width` x `height`, after `padding` bytes of
    APP1 segments (where a reader of the first 64 KiB sees no size)."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 99, 199)).save(buffer, format="JPEG")
    data = buffer.getvalue()
    frame = data.index(b"\xff\xc0")
    data = data[: frame + 5] + struct.pack(">HH", height, width) + data[frame + 9 :]
    segment = b"\xff\xe1" + struct.pack(">H", 65535) + bytes(65533)
    return data[:2] + segment * -(-padding // len(segment)) + data[2:]


def gif_with_a_large_frame(side: int) -> bytes:
    """A GIF whose screen is 1x1 and whose one frame is side x side (giflib allocates the
    frame; a reader of the screen size sees 1 pixel)."""
    screen = struct.pack("<HHBBB", 1, 1, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, side, side, 0) + b"\x02\x02\x4c\x01\x00"
    return b"GIF89a" + screen + frame + b";"


def bmp_header(width: int, height: int) -> bytes:
    """A 24-bit BMP header for width x height, and almost no pixels."""
    fields = (70, 0, 0, 54, 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHIIiiHHIIiiII", *fields) + bytes(16)


def png_failing_its_zlib_check() -> bytes:
    """A PNG whose IDAT chunk has a valid CRC but whose zlib stream fails its Adler-32
    check: torchvision.io's PNG decoder dies of SIGSEGV on it (torchvision 0.29)."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(
        buffer, format="PNG"
    )
    data = bytearray(buffer.getvalue())
    start = data.index(b"IDAT") - 4
    end = start + 8 + struct.unpack_from(">I", data, start)[0]
    data[end - 1] ^= 0xFF  # the last byte of the Adler-32
    data[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(data[start + 4 : end])))
    return bytes(data)


def float_tiff(values: tuple[float, ...]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.array([values], dtype=np.float32)).save(buffer, format="TIFF")
    return buffer.getvalue()


def first_image_as(make: Callable[[Path], None]) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        (root / FIRST_IMAGE).unlink()
        make(root / FIRST_IMAGE)

    return build


def set_label(line: int, label: str, name: str = "train.txt") -> Callable[[Path], None]:
    """The label of `line` (1-based) of a list file replaced by `label`."""

    def edit(text: str) -> str:
        lines = text.splitlines()
        lines[line - 1] = lines[line - 1].rsplit(" ", 1)[0] + " " + label
        return "\n".join(lines) + "\n"

    return edit_list(name, edit)


def without_categories(then: Callable[[Path], None]) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        (root / "categories.txt").unlink()
        then(root)

    return build


OVER = rf"{SIDE}x{SIDE} pixels, over the limit of 89,478,485"
DOES_NOT_DECODE = rf"ROOT/train\.txt:1: does not decode: {BAD_FIRST}: "
NOT_REGULAR = rf"ROOT/train\.txt:1: {BAD_FIRST}: not a regular file"
WEBP_BOMB = replace_first_image(webp_lossless(SIDE, SIDE))
FIFO = first_image_as(os.mkfifo)
DEV_ZERO = first_image_as(lambda path: path.symlink_to("/dev/zero"))
TWO_ABBEYS = write_file("categories.txt", "/a/abbey 0\n/b/abbey 1\n")
TWO_ABBEYS_SAID = r"categories\.txt:2: '/b/abbey' has the class name 'abbey' of '/a/abbey'"

CASES: list[Case] = [
    Case(
        "lossless WebP of 10000x10000 in 38 bytes",
        VERIFY,
        LISTS,
        1,
        DOES_NOT_DECODE + OVER,
        WEBP_BOMB,
    ),
    Case(
        "lossless WebP of 10000x10000 in 38 bytes",
        TRAIN,
        SKIPS,
        0,
        rf"skipping undecodable image {BAD_FIRST}: {OVER}",
        WEBP_BOMB,
    ),
    Case(
        "JPEG whose size comes after 64 KiB of APP segments",
        VERIFY,
        LISTS,
        1,
        DOES_NOT_DECODE + OVER,
        replace_first_image(jpeg_sized_after_app_segments(SIDE, SIDE)),
    ),
    Case(
        "GIF with a 1x1 screen and a 10000x10000 frame",
        VERIFY,
        LISTS,
        1,
        DOES_NOT_DECODE + OVER,
        replace_first_image(gif_with_a_large_frame(SIDE)),
    ),
    Case(
        "BMP header of 10000x10000",
        VERIFY,
        LISTS,
        1,
        DOES_NOT_DECODE + OVER,
        replace_first_image(bmp_header(SIDE, SIDE)),
    ),
    Case(
        "float TIFF with samples outside [0, 1]",
        VERIFY,
        LISTS,
        1,
        DOES_NOT_DECODE + r"float samples must lie in \[0, 1\] to be scaled to 8 bits",
        replace_first_image(float_tiff((0.0, 255.0))),
    ),
    Case(
        "PNG whose zlib stream fails its check (torchvision.io: SIGSEGV)",
        VERIFY,
        LISTS,
        1,
        DOES_NOT_DECODE + r"broken data stream",
        replace_first_image(png_failing_its_zlib_check()),
    ),
    Case("a FIFO named .jpg", VERIFY, LISTS, 1, NOT_REGULAR + r" \(a FIFO\)", FIFO),
    Case("a FIFO named .jpg", TRAIN, REFUSES, 2, NOT_REGULAR + r" \(a FIFO\)", FIFO),
    Case(
        "a link to /dev/zero named .jpg",
        VERIFY,
        LISTS,
        1,
        NOT_REGULAR + r" \(a character device\)",
        DEV_ZERO,
    ),
    Case(
        "label in Arabic-Indic digits (\u0661)",
        VERIFY,
        LISTS,
        1,
        r"ROOT/train\.txt:8: label '\u0661' is not a number of ASCII digits 0-9",
        set_label(8, "\u0661"),
    ),
    Case(
        "label in full-width digits (\uff11)",
        TRAIN,
        REFUSES,
        2,
        r"ROOT/train\.txt:8: label '\uff11' is not a number of ASCII digits 0-9",
        set_label(8, "\uff11"),
    ),
    Case(
        "label `0_1`",
        VERIFY,
        LISTS,
        1,
        r"ROOT/train\.txt:8: label '0_1' is not a number of ASCII digits 0-9",
        set_label(8, "0_1"),
    ),
    Case(
        "label 1000000000 without categories.txt",
        VERIFY,
        LISTS,
        1,
        r"ROOT/train\.txt:8: label 1000000000 is out of range: without categories\.txt, labels "
        r"must be below the 8 images of train\.txt",
        without_categories(set_label(8, "1000000000")),
    ),
    Case("two categories named abbey", VERIFY, LISTS, 1, TWO_ABBEYS_SAID, TWO_ABBEYS),
    Case("two categories named abbey", TRAIN, REFUSES, 2, TWO_ABBEYS_SAID, TWO_ABBEYS),
]
