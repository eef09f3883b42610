"""Hostile inputs, one failure class: issue 18's new surfaces. `data verify --write-list`
(paths that exist, are the original or lead nowhere; dataset specs that do not parse or
name no file), `config show NAME` (names that try to be paths or escapes), and
the decoder that now reads JPEGs with simplejpeg (truncated, corrupt, CMYK, rotated by
EXIF, a bomb that carries EXIF).

Each case is a reliability_corpus.Case run through the real command line by
test_bad_inputs.py; docs/reliability.md's corpus table lists them.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from hostile_images import SIDE, jpeg_sized_after_app_segments
from PIL import ExifTags, Image
from reliability_corpus import (
    BAD_FIRST,
    LISTS,
    REFUSES,
    STRICT,
    VERIFY,
    WORKS,
    Case,
    image_array,
    replace_first_image,
)

WRITE_LIST = (*VERIFY, "--write-list")
DOES_NOT_DECODE = rf"ROOT/train\.txt:1: does not decode: {BAD_FIRST}: "


def jpeg(mode: str = "RGB", exif_orientation: int | None = None, **options) -> bytes:
    """A 24x24 JPEG of the corpus's first image in `mode`, with an EXIF orientation."""
    buffer = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = exif_orientation
        options["exif"] = exif
    Image.fromarray(image_array(0)).convert(mode).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def cut(data: bytes, keep: float) -> bytes:
    return data[: int(len(data) * keep)]


def scan_corrupted(data: bytes) -> bytes:
    """The JPEG with its entropy-coded data after the scan header overwritten by markers
    that do not belong there (RST7 over and over)."""
    start = data.index(b"\xff\xda") + 20
    return data[:start] + b"\xff\xd7" * ((len(data) - start - 2) // 2) + data[-2:]


def with_exif(data: bytes) -> bytes:
    """`data` (a JPEG) with an EXIF APP1 segment right after SOI (orientation 6)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    payload = b"Exif\x00\x00" + exif.tobytes()
    return data[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


def link_to_the_list(root: Path) -> None:
    os.symlink(root / "train.txt", root.parent / "alias.txt")


def every_train_image_gone(root: Path) -> None:
    for path in (root / "images" / "train").rglob("*.jpg"):
        path.unlink()


def class_folders(root: Path) -> None:
    for split in ("train", "val"):
        (root / split / "abbey").mkdir(parents=True)
        Image.fromarray(image_array(1)).save(root / split / "abbey" / "1.png")


CASES = [
    # --- data verify --write-list --------------------------------------------------------
    Case(
        "--write-list naming an existing file",
        (*WRITE_LIST, "{root}/val.txt"),
        REFUSES,
        2,
        r"--write-list ROOT/val\.txt: already exists; name a new file",
    ),
    Case(
        "--write-list naming the original list",
        (*WRITE_LIST, "{root}/train.txt"),
        REFUSES,
        2,
        r"--write-list ROOT/train\.txt: that is the train list itself",
    ),
    Case(
        "--write-list naming a link to the original list",
        (*WRITE_LIST, "{dir}/alias.txt"),
        REFUSES,
        2,
        r"--write-list DIR/alias\.txt: that is the train list itself",
        link_to_the_list,
    ),
    Case(
        "--write-list naming a folder",
        (*WRITE_LIST, "{root}/images"),
        REFUSES,
        2,
        r"--write-list ROOT/images: already exists",
    ),
    Case(
        "--write-list in a folder that does not exist",
        (*WRITE_LIST, "{dir}/no/such/list.txt"),
        REFUSES,
        2,
        r"--write-list DIR/no/such/list\.txt: no folder DIR/no/such to write it in",
    ),
    Case(
        "--write-list when no listed image is there",
        (*WRITE_LIST, "{dir}/usable.txt"),
        REFUSES,
        2,
        r"ROOT/train\.txt: no usable line; --write-list DIR/usable\.txt not written",
        every_train_image_gone,
    ),
    Case(
        "--write-list on class folders",
        ("data", "verify", "{dir}/folders", "--write-list", "{dir}/l.txt"),
        REFUSES,
        2,
        r"--write-list: DIR/folders has class folders, no list file",
        lambda root: class_folders(root.parent / "folders"),
    ),
    Case(
        "--write-list on digits",
        ("data", "verify", "digits", "--write-list", "{dir}/l.txt"),
        REFUSES,
        2,
        r"--write-list: digits is built in and has no list file",
        dataset=False,
    ),
    Case(
        "dataset spec `ROOT::train` (no list named)",
        ("data", "verify", "{root}::train"),
        REFUSES,
        2,
        r"dataset 'ROOT::train': 'train' is not SPLIT=LIST",
    ),
    Case(
        "dataset spec `ROOT::test=a.txt`",
        ("data", "verify", "{root}::test=a.txt"),
        REFUSES,
        2,
        r"'test' has no list file to replace; expected one of train, val",
    ),
    Case(
        "dataset spec naming a missing list",
        ("data", "verify", "{root}::train=gone.txt"),
        REFUSES,
        2,
        r"dataset 'ROOT::train=gone\.txt': the train list ROOT/gone\.txt does not exist",
    ),
    # --- config show NAME ----------------------------------------------------------------
    Case(
        "config name `../../etc/passwd`",
        ("config", "show", "../../etc/passwd"),
        REFUSES,
        2,
        r"config '\.\./\.\./etc/passwd': no such shipped config; expected one of ourbestnet2",
        dataset=False,
    ),
    Case(
        "config name `/etc/passwd`",
        ("config", "show", "/etc/passwd"),
        REFUSES,
        2,
        r"config '/etc/passwd': no such shipped config",
        dataset=False,
    ),
    Case(
        "config name empty",
        ("config", "show", ""),
        REFUSES,
        2,
        r"config '': no such shipped config",
        dataset=False,
    ),
    # --- the decoder: simplejpeg for plain JPEGs, PIL for the rest -----------------------
    Case(
        "JPEG cut at 90%",
        VERIFY,
        LISTS,
        1,
        DOES_NOT_DECODE + r"truncated or corrupt JPEG \(Premature end of JPEG file\)",
        replace_first_image(cut(jpeg(), 0.9)),
    ),
    Case(
        "grey JPEG cut at 60%",
        STRICT,
        REFUSES,
        2,
        rf"cannot decode image {BAD_FIRST}: truncated or corrupt JPEG",
        replace_first_image(cut(jpeg("L"), 0.6)),
    ),
    Case(
        "progressive JPEG cut at 60%",
        VERIFY,
        LISTS,
        1,
        DOES_NOT_DECODE + r"truncated or corrupt JPEG",
        replace_first_image(cut(jpeg(progressive=True), 0.6)),
    ),
    Case(
        "JPEG whose scan is overwritten by RST markers (decoded as PIL decodes it)",
        VERIFY,
        WORKS,
        0,
        r"no problems found",
        replace_first_image(scan_corrupted(jpeg())),
    ),
    Case(
        "CMYK JPEG (decoded by PIL)",
        VERIFY,
        WORKS,
        0,
        r"no problems found",
        replace_first_image(jpeg("CMYK")),
    ),
    Case(
        "JPEG rotated by EXIF orientation 8 (decoded by PIL)",
        VERIFY,
        WORKS,
        0,
        r"no problems found",
        replace_first_image(jpeg(exif_orientation=8)),
    ),
    Case(
        "EXIF JPEG cut at 60%",
        VERIFY,
        LISTS,
        1,
        DOES_NOT_DECODE + r"[Tt]runcated",
        replace_first_image(cut(jpeg(exif_orientation=6), 0.6)),
    ),
    Case(
        "JPEG of 10000x10000 with EXIF, its size after 64 KiB of APP segments",
        VERIFY,
        LISTS,
        1,
        DOES_NOT_DECODE + rf"{SIDE}x{SIDE} pixels, over the limit of 89,478,485",
        replace_first_image(with_exif(jpeg_sized_after_app_segments(SIDE, SIDE))),
    ),
]
