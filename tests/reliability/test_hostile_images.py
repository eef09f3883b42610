"""Images that lie, beyond what the in-process corpus can show: every format's real size is
checked before a pixel is decoded; `scenelab data verify` on a 38-byte WebP of 10000x10000
costs no more memory than on a valid dataset (measured on a fresh process); a PNG that
crashes torchvision.io's decoder is refused (in a child process, which a crash would kill
instead of the test run)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import reliability_corpus as corpus
from hostile_images import (
    SIDE,
    bmp_header,
    gif_with_a_large_frame,
    jpeg_sized_after_app_segments,
    png_failing_its_zlib_check,
    webp_lossless,
)
from PIL import Image

from scenelab.data.decode import UndecodableImage, decode_rgb, decode_rgb_pil

BOMBS = {
    "bomb.webp": webp_lossless(SIDE, SIDE),
    "bomb.jpg": jpeg_sized_after_app_segments(SIDE, SIDE),
    "bomb.gif": gif_with_a_large_frame(SIDE),
    "bomb.bmp": bmp_header(SIDE, SIDE),
}
EXTRA_MEMORY = 100 * 2**20  # decoding the bomb would take 300 MB for its pixels alone


@pytest.mark.parametrize("name", BOMBS)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_real_size_of_every_format_is_checked_before_decoding(tmp_path, name):
    with Image.open(io.BytesIO(BOMBS[name])) as image:  # PIL, lazily, as the reference
        assert image.size == (SIDE, SIDE)
    path = tmp_path / name
    path.write_bytes(BOMBS[name])
    with pytest.raises(UndecodableImage, match=rf"{name}: {SIDE}x{SIDE} pixels, over the limit"):
        decode_rgb(path)
    with pytest.raises(UndecodableImage, match=r"over the limit"):
        decode_rgb_pil(path)


@pytest.mark.parametrize("side", [20_000, 65_535])
def test_an_image_beyond_what_pil_opens_is_refused_too(tmp_path, side):
    """Over twice the limit, PIL's open itself refuses (DecompressionBombError)."""
    path = tmp_path / "bomb.gif"
    path.write_bytes(gif_with_a_large_frame(side))
    with pytest.raises(UndecodableImage, match=r"bomb\.gif: over the limit of 89,478,485 pixels"):
        decode_rgb(path)


def peak_rss_of_verify(root: Path) -> tuple[int, str, int]:
    """(exit code, stdout, peak RSS in bytes) of `python -m scenelab data verify root` in a
    fresh process: wait4 gives that one child's own ru_maxrss."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen(
        [sys.executable, "-m", "scenelab", "data", "verify", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    out = child.stdout.read().decode()
    child.stdout.close()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, out, usage.ru_maxrss * 1024


def test_verify_refuses_a_38_byte_webp_bomb_without_the_memory_it_asks_for(tmp_path):
    control, bomb = tmp_path / "control", tmp_path / "bomb"
    corpus.write_base(control)
    corpus.write_base(bomb)
    data = webp_lossless(SIDE, SIDE)
    assert len(data) == 38
    (bomb / corpus.FIRST_IMAGE).write_bytes(data)
    code, out, bomb_rss = peak_rss_of_verify(bomb)
    assert code == 1 and f"{SIDE}x{SIDE} pixels, over the limit" in out, out
    code, out, control_rss = peak_rss_of_verify(control)
    assert code == 0, out
    # The absolute peak is mostly torch's libraries (634 MB for `import torch` alone with
    # the CUDA build); what the bomb adds is the measure.
    assert bomb_rss - control_rss < EXTRA_MEMORY, (bomb_rss, control_rss)


def test_a_png_that_crashes_torchvision_is_refused_in_a_clean_error(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(png_failing_its_zlib_check())
    script = (
        "import sys\n"
        "from scenelab.data.decode import UndecodableImage, decode_rgb\n"
        "try:\n"
        "    decode_rgb(sys.argv[1])\n"
        "except UndecodableImage as error:\n"
        "    print(error)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, env=env
    )
    assert child.returncode == 0, (child.returncode, child.stderr)  # -11: SIGSEGV
    assert child.stdout.startswith(f"{path}: "), child.stdout
