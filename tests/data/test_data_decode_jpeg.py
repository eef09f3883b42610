"""JPEG decoding by simplejpeg or PIL: which one runs, and PIL's own pixels as the reference."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import simplejpeg
from data_builders import write_image
from PIL import ExifTags, Image, ImageOps

from scenelab.data import decode
from scenelab.data.decode import UndecodableImage, decode_rgb, jpeg_frame


def pil_pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(ImageOps.exif_transpose(image).convert("RGB"))


@pytest.fixture
def decoders_used(monkeypatch) -> list[str]:
    """Which decoder each decode_rgb call ended in: 'simplejpeg' or 'PIL'."""
    used: list[str] = []
    real_simplejpeg, real_pil = simplejpeg.decode_jpeg, decode._decode_with_pil

    def via_simplejpeg(*args, **kwargs):
        used.append("simplejpeg")
        return real_simplejpeg(*args, **kwargs)

    def via_pil(*args, **kwargs):
        used.append("PIL")
        return real_pil(*args, **kwargs)

    monkeypatch.setattr(decode.simplejpeg, "decode_jpeg", via_simplejpeg)
    monkeypatch.setattr(decode, "_decode_with_pil", via_pil)
    return used


def test_real_miniplaces_jpegs_equal_pils_pixels(miniplaces20, decoders_used):
    lines = (miniplaces20 / "train.txt").read_text().splitlines()[::90]  # 200, every class
    for line in lines:
        path = miniplaces20 / "images" / line.rsplit(maxsplit=1)[0]
        np.testing.assert_array_equal(
            decode_rgb(path).permute(1, 2, 0).numpy(), pil_pixels(path), err_msg=str(path)
        )
    assert decoders_used == ["simplejpeg"] * len(lines)


@pytest.mark.parametrize(
    "mode, options, decoder",
    [
        ("RGB", {}, "simplejpeg"),
        ("RGB", {"progressive": True}, "simplejpeg"),
        ("RGB", {"subsampling": 0, "quality": 95}, "simplejpeg"),
        ("L", {}, "simplejpeg"),
        ("CMYK", {}, "PIL"),  # Adobe's inverted CMYK: PIL's conversion is the reference
    ],
)
def test_each_kind_of_jpeg_equals_pil_through_its_decoder(
    tmp_path, decoders_used, mode, options, decoder
):
    source = write_image(tmp_path / "source.png", seed=5, size=(37, 23))
    with Image.open(source) as image:
        image.convert(mode).save(tmp_path / "image.jpg", **options)
    decoded = decode_rgb(tmp_path / "image.jpg").permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(decoded, pil_pixels(tmp_path / "image.jpg"))
    assert decoders_used == [decoder]


def test_a_jpeg_with_exif_goes_through_pil_which_applies_its_orientation(tmp_path, decoders_used):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    with Image.open(write_image(tmp_path / "plain.png", seed=3, size=(24, 16))) as image:
        image.save(tmp_path / "photo.jpg", exif=exif)
    decoded = decode_rgb(tmp_path / "photo.jpg").permute(1, 2, 0).numpy()
    assert decoded.shape == (24, 16, 3)
    np.testing.assert_array_equal(decoded, pil_pixels(tmp_path / "photo.jpg"))
    assert decoders_used == ["PIL"]


def test_the_frame_header_gives_size_components_and_metadata(tmp_path):
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 3
    Image.new("CMYK", (33, 7)).save(buffer, "JPEG", exif=exif)
    frame = jpeg_frame(buffer.getvalue())
    assert (frame.width, frame.height, frame.components, frame.metadata) == (33, 7, 4, True)
    buffer = io.BytesIO()
    Image.new("RGB", (5, 9)).save(buffer, "JPEG")
    header = simplejpeg.decode_jpeg_header(buffer.getvalue())  # libjpeg-turbo's reading
    frame = jpeg_frame(buffer.getvalue())
    assert (frame.height, frame.width, frame.components, frame.metadata) == (*header[:2], 3, False)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_jpeg_is_refused_in_one_line_naming_the_file(tmp_path, keep):
    data = write_image(tmp_path / "whole.jpg", seed=2, size=(64, 48)).read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(UndecodableImage) as error:
        decode_rgb(path)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)
    with pytest.raises(OSError), Image.open(path) as image:  # PIL refuses it too
        image.load()


def test_importing_the_decoder_warns_of_nothing():
    """No deprecated decoder is imported (torchvision.io's warn since torchvision 0.29)."""
    child = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import scenelab.data.decode"],
        capture_output=True,
        text=True,
    )
    assert child.returncode == 0, child.stderr
