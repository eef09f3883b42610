"""scripts/publish_report.py: the page links small copies of every figure, which look the
same as the report's own."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "publish_report.py"


@pytest.fixture(scope="module")
def publish():
    spec = importlib.util.spec_from_file_location("publish_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.publish


def gradient_png(path: Path) -> np.ndarray:
    pixels = np.zeros((60, 80, 4), dtype=np.uint8)
    pixels[..., 0] = np.linspace(0, 255, 80, dtype=np.uint8)
    pixels[..., 1] = np.linspace(0, 255, 60, dtype=np.uint8)[:, None]
    pixels[..., 3] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGBA").save(path)
    return pixels[..., :3]


def test_figures_are_copied_small_and_relinked(publish, tmp_path):
    report = tmp_path / "run"
    original = gradient_png(report / "runs" / "simplenet" / "plots" / "top1.png")
    gradient_png(report / "compare" / "blocks" / "compare_top1.png")
    (report / "report.md").write_text(
        "# r\n\n![top-1](runs/simplenet/plots/top1.png)\n\ntext [a link](report.html)\n\n"
        "![blocks](compare/blocks/compare_top1.png)\n"
    )
    page = tmp_path / "docs" / "study.md"
    written = publish(report, page)

    assert [path.name for path in written] == [
        "simplenet-plots-top1.png",
        "compare-blocks-compare_top1.png",
    ]
    text = page.read_text()
    assert "![top-1](figures/study/simplenet-plots-top1.png)" in text
    assert "![blocks](figures/study/compare-blocks-compare_top1.png)" in text
    assert "[a link](report.html)" in text
    with Image.open(written[0]) as copy:
        assert copy.mode == "P"
        pixels = np.asarray(copy.convert("RGB"), dtype=np.int16)
    assert np.abs(pixels - original).max() <= 16  # 256 colours: close to the eye


def test_a_missing_figure_is_named(publish, tmp_path):
    (tmp_path / "report.md").write_text("![gone](runs/simplenet/plots/top1.png)\n")
    with pytest.raises(SystemExit, match=r"runs/simplenet/plots/top1\.png"):
        publish(tmp_path, tmp_path / "docs" / "page.md")
