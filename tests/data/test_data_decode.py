"""Decoding: every colour mode becomes uint8 RGB, equal to PIL's convert("RGB")."""

from __future__ import annotations

import os
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from data_builders import write_image
from PIL import ExifTags, Image, ImageOps

from scenelab.data.decode import MAX_FILE_BYTES, UndecodableImage, decode_rgb, decode_rgb_pil


def pil_reference(path) -> torch.Tensor:
    with Image.open(path) as image:
        return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)


@pytest.mark.parametrize(
    "name, mode",
    [
        ("rgb.png", "RGB"),
        ("grey.png", "L"),
        ("palette.png", "P"),
        ("alpha.png", "RGBA"),
        ("grey_alpha.png", "LA"),
        ("grey.jpg", "L"),
        ("cmyk.jpg", "CMYK"),
        ("palette.gif", "P"),
        ("rgb.webp", "RGB"),
        ("rgb.bmp", "RGB"),  # not a torchvision.io format: decoded by PIL
        ("rgb.tiff", "RGB"),
    ],
)
def test_colour_modes_become_rgb(tmp_path, name, mode):
    path = write_image(tmp_path / name, seed=1, size=(21, 13), mode=mode)
    image = decode_rgb(path)
    assert image.dtype == torch.uint8 and image.shape == (3, 13, 21)
    lossy = name.endswith((".jpg", ".webp"))  # two JPEG decoders may differ by a level or two
    difference = (image.int() - pil_reference(path).int()).abs().max().item()
    assert difference <= (3 if lossy else 0)
    assert torch.equal(decode_rgb_pil(path), pil_reference(path))


def test_16_bit_png_is_scaled_to_8_bits(tmp_path):
    values = np.arange(0, 65536, 257, dtype=np.uint16).reshape(16, 16)  # 0, 257, ..., 65535
    Image.fromarray(values).save(tmp_path / "deep.png")
    image = decode_rgb(tmp_path / "deep.png")
    assert image.dtype == torch.uint8
    expected = torch.arange(256, dtype=torch.uint8).reshape(16, 16)  # 257 k -> k
    assert torch.equal(image, expected.expand(3, -1, -1))


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\xff\xd8\xff\xe0garbage"])
def test_non_images_raise_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(UndecodableImage, match=r"broken\.jpg"):
        decode_rgb(path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(UndecodableImage, match=r"missing\.jpg: cannot read"):
        decode_rgb(tmp_path / "missing.jpg")


def tiff_bytes(width: int, height: int, pixels: bytes, bits: int, channels: int) -> bytes:
    """An uncompressed little-endian TIFF in one strip (PIL cannot write 16-bit RGB)."""
    count = 10
    bits_at = 8 + 2 + count * 12 + 4
    data_at = bits_at + 2 * channels

    def entry(tag: int, kind: int, number: int, value: int) -> bytes:
        return struct.pack("<HHII", tag, kind, number, value)

    bits_value = bits_at if channels > 2 else bits
    entries = [
        entry(256, 4, 1, width),
        entry(257, 4, 1, height),
        entry(258, 3, channels, bits_value),
        entry(259, 3, 1, 1),  # no compression
        entry(262, 3, 1, 2 if channels == 3 else 1),  # RGB or black-is-zero
        entry(273, 4, 1, data_at),
        entry(277, 3, 1, channels),
        entry(278, 4, 1, height),
        entry(279, 4, 1, len(pixels)),
        entry(284, 3, 1, 1),
    ]
    return (
        b"II*\x00"
        + struct.pack("<IH", 8, count)
        + b"".join(entries)
        + bytes(4)
        + struct.pack(f"<{channels}H", *[bits] * channels)
        + pixels
    )


def test_a_format_pil_does_not_recognise_is_refused(tmp_path):
    path = tmp_path / "image.jpg"
    path.write_bytes(b"\x00\x00\x00\x1cftypavif" + bytes(64))  # AVIF: torchvision could try
    with pytest.raises(UndecodableImage, match=r"image\.jpg: not an image"):
        decode_rgb(path)


def test_16_bit_and_float_tiffs_are_scaled_to_8_bits(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 65536, (5, 7), dtype=np.uint16)
    rgb = rng.integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    floats = rng.random((5, 7), dtype=np.float32)
    floats[0, :3] = (0.0, 1.0, 0.5 / 255)  # the ends, and a value that rounds
    Image.fromarray(grey).save(tmp_path / "grey16.tif")
    Image.fromarray(floats).save(tmp_path / "float.tif")
    (tmp_path / "rgb16.tif").write_bytes(tiff_bytes(7, 5, rgb.astype("<u2").tobytes(), 16, 3))
    expected = {
        "grey16.tif": np.repeat((grey >> 8).astype(np.uint8)[:, :, None], 3, axis=2),
        "rgb16.tif": (rgb >> 8).astype(np.uint8),
        "float.tif": np.repeat(np.rint(floats * 255).astype(np.uint8)[:, :, None], 3, axis=2),
    }
    for name, pixels in expected.items():
        decoded = decode_rgb(tmp_path / name).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(decoded, pixels, err_msg=name)


@pytest.mark.parametrize("values", [(-0.5, 0.5), (0.0, 255.0), (0.0, float("nan"))])
def test_floats_outside_0_1_are_refused_naming_the_file(tmp_path, values):
    Image.fromarray(np.array([values], dtype=np.float32)).save(tmp_path / "float.tif")
    with pytest.raises(UndecodableImage, match=r"float\.tif: float samples must lie in \[0, 1\]"):
        decode_rgb(tmp_path / "float.tif")


def test_32_bit_integer_samples_are_refused(tmp_path):
    Image.fromarray(np.array([[0, 70000]], dtype=np.int32)).save(tmp_path / "deep.tif")
    with pytest.raises(UndecodableImage, match=r"deep\.tif: I samples"):
        decode_rgb(tmp_path / "deep.tif")


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png", "photo.webp", "photo.tif"])
@pytest.mark.parametrize("orientation", [3, 6, 2, 5, 7, 8])
def test_exif_orientation_is_applied_as_pil_does(tmp_path, name, orientation):
    path = write_image(tmp_path / "plain.png", seed=3, size=(24, 16))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    with Image.open(path) as image:
        image.save(tmp_path / name, exif=exif, **({"lossless": True} if "webp" in name else {}))
    with Image.open(tmp_path / name) as image:
        reference = np.array(ImageOps.exif_transpose(image).convert("RGB"))
    decoded = decode_rgb(tmp_path / name).permute(1, 2, 0).numpy()
    assert decoded.shape == reference.shape == ((24, 16, 3) if orientation >= 5 else (16, 24, 3))
    tolerance = 3 if name.endswith(".jpg") else 0  # two JPEG decoders may differ by a level
    assert np.abs(decoded.astype(int) - reference.astype(int)).max() <= tolerance


def writer_that_unblocks(fifo: Path) -> threading.Thread:
    """A thread that, for 3 s, opens `fifo` for writing whenever a reader waits on it, so
    that a reader that did open it (the bug) gets end-of-file instead of blocking forever."""

    def unblock() -> None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # ENXIO: no reader yet
                time.sleep(0.01)

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    return thread


def test_fifos_and_devices_are_refused_without_being_read(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    writer_that_unblocks(fifo)
    started = time.monotonic()
    with pytest.raises(UndecodableImage, match=r"pipe\.jpg: not a regular file \(a FIFO\)"):
        decode_rgb(fifo)
    assert time.monotonic() - started < 1  # not opened: nothing to wait for
    with pytest.raises(UndecodableImage, match=r"zero\.png: not a regular file \(a char"):
        decode_rgb(tmp_path / "zero.png")
    with pytest.raises(UndecodableImage, match=r"pipe\.jpg: not a regular file \(a FIFO\)"):
        decode_rgb_pil(fifo)


def test_a_file_larger_than_any_image_is_refused_unread(tmp_path):
    path = tmp_path / "huge.png"
    with open(path, "wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing written
    with pytest.raises(UndecodableImage, match=r"huge\.png: 1,073,741,825 bytes, more than"):
        decode_rgb(path)
