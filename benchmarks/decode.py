"""Image decoders side by side on real files: PIL, simplejpeg and torchvision.io.

    python benchmarks/decode.py [--root ../shared/data/miniplaces20] [--images 1000]
                                [--repeats 7]

The first `--images` training JPEGs of ROOT (MiniPlaces: 128x128 RGB) are read into memory
once, and the same pixels saved as PNG (PIL, default settings) into a temporary folder and
read likewise, so that the rows time decoding alone, bytes to a uint8 (3, H, W) tensor:

- torchvision.io: `decode_image(..., ImageReadMode.RGB, apply_exif_orientation=True)`,
  deprecated since torchvision 0.29;
- PIL: `Image.open` on the bytes, `ImageOps.exif_transpose`, `convert("RGB")`, a numpy
  array (what scenelab's PIL path does, without its size checks);
- simplejpeg (libjpeg-turbo, JPEG only): `decode_jpeg(..., colorspace="RGB")`, no EXIF;
- scenelab's `decode_rgb` from the file: the read, every check, the decode.

Rows run interleaved, each over every image once per repeat, in an order rotated each
repeat; the table gives the median microseconds per image and its ratio to the fastest row.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from scenelab.data.decode import decode_rgb
from scenelab.data.layout import load_samples

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "miniplaces20"


def torchvision_decoder() -> Callable[[bytes], torch.Tensor] | None:
    """torchvision.io's decoder, its deprecation warning silenced here only (a benchmark)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            from torchvision.io import ImageReadMode, decode_image
        except ImportError:  # removed in a later torchvision
            return None

    def decode(data: bytes) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pixels = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            return decode_image(pixels, mode=ImageReadMode.RGB, apply_exif_orientation=True)

    return decode


def pil_decode(data: bytes) -> torch.Tensor:
    with Image.open(io.BytesIO(data)) as image:
        ImageOps.exif_transpose(image, in_place=True)
        return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)


def simplejpeg_decoder() -> Callable[[bytes], torch.Tensor] | None:
    try:
        import simplejpeg
    except ImportError:
        return None

    def decode(data: bytes) -> torch.Tensor:
        return torch.from_numpy(simplejpeg.decode_jpeg(data, colorspace="RGB")).permute(2, 0, 1)

    return decode


def as_png(jpegs: list[Path], folder: Path) -> list[Path]:
    pngs = []
    for index, path in enumerate(jpegs):
        with Image.open(path) as image:
            pngs.append(folder / f"{index:05d}.png")
            image.convert("RGB").save(pngs[-1])
    return pngs


def time_per_image(decode: Callable, items: list) -> float:
    """Microseconds per image to decode every item once."""
    start = time.perf_counter()
    for item in items:
        decode(item)
    return 1e6 * (time.perf_counter() - start) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="a MiniPlaces root")
    parser.add_argument("--images", type=int, default=1000, help="images per format")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in a loader worker (scenelab.data.threads)

    jpegs = [Path(p) for p in load_samples(args.root, "train").paths[: args.images]]
    with tempfile.TemporaryDirectory() as folder:
        pngs = as_png(jpegs, Path(folder))
        files = {"JPEG": jpegs, "PNG": pngs}
        data = {kind: [path.read_bytes() for path in paths] for kind, paths in files.items()}
        decoders: dict[str, Callable | None] = {
            "torchvision.io": torchvision_decoder(),
            "PIL": pil_decode,
            "simplejpeg": simplejpeg_decoder(),
        }
        rows: dict[str, Callable[[], float]] = {}
        for kind in files:
            for name, decode in decoders.items():
                if decode is None:
                    print(f"{name}: not installed, no row")
                elif not (name == "simplejpeg" and kind == "PNG"):
                    rows[f"{kind}, {name}"] = lambda d=decode, k=kind: time_per_image(d, data[k])
            rows[f"{kind}, scenelab decode_rgb (file)"] = lambda k=kind: time_per_image(
                decode_rgb, files[k]
            )
        for row in rows.values():  # warm-up: libraries loaded, files in the page cache
            row()
        measured: dict[str, list[float]] = {name: [] for name in rows}
        names = list(rows)
        for repeat in range(args.repeats):
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                measured[name].append(rows[name]())
            print(f"  repeat {repeat + 1}/{args.repeats} done", flush=True)

    median = {name: statistics.median(times) for name, times in measured.items()}
    print(f"\n{args.root}: {len(jpegs)} JPEGs and as many PNGs, 1 torch thread,")
    print(f"median of {args.repeats} interleaved repeats, load average {os.getloadavg()[0]:.1f}")
    print(f"| {'format, decoder':<40} | µs/image | x fastest of the format |")
    print(f"| {'-' * 40} | -------: | ----------------------: |")
    for name in rows:
        kind = name.split(",")[0]
        fastest = min(value for row, value in median.items() if row.startswith(kind))
        print(f"| {name:<40} | {median[name]:8.1f} | {median[name] / fastest:23.2f} |")


if __name__ == "__main__":
    main()
