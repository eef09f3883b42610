"""Decoding: every colour mode becomes uint8 RGB, equal to PIL's convert("RGB")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from data_builders import write_image
from PIL import Image

from scenelab.data.decode import UndecodableImage, decode_rgb, decode_rgb_pil


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
