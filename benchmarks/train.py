"""scenelab's trainer against a bare training loop on pre-loaded tensors (the compute bound).

    python benchmarks/train.py [--root ../shared/data/miniplaces20] [--steps 10] [--repeats 3]

For each model (SimpleNet, ResNet-18) and precision (float32; bf16 autocast + channels_last),
at 128x128 and batch 64:

- bare: forward, cross-entropy, backward and an SGD step on a batch already in memory as
  [0, 1] floats (in channels_last where that row uses it): nothing but the compute, with
  glibc's malloc as it comes, which maps and unmaps large blocks on every step;
- bare, memory reused: the same loop inside `scenelab.memory.reuse_freed_memory`, as the
  trainer runs, so that freed blocks are reused instead of faulted in again: the compute
  bound the trainer is held to;
- trainer: `scenelab.train.engine.train` on a MiniPlaces folder holding STEPS x 64
  training images of ROOT (and 64 val images), two epochs; its images/s is the second
  epoch's, as metrics.csv records it (training only, not validation). It decodes JPEGs,
  augments (`--augment`, default `none`: decode, resize and crop only), converts on the
  device, steps the schedule, counts top-1/top-5 on the device and reads the loss and the
  non-finite guard back once per log interval;
- cached trainer: the same with `--cache-images` (JPEGs decoded once, before the first
  epoch; everything else the same).

With ``--against SRC`` (the ``src`` folder of another checkout, e.g. an older commit's:
``git worktree add /tmp/old cacc587``), the sides are instead this checkout's trainer and
that one's, each measurement in a fresh ``python`` whose PYTHONPATH is that side's source:

    python benchmarks/train.py --models simplenet --precisions bf16+channels_last \
        --against /tmp/old/src --repeats 5

Every measurement runs in a fresh process, so that no side inherits another's heap.
Sides run interleaved (in order, then in the reverse order, and so on, so that a drifting
machine load cancels out) and the table gives medians of images/s and of the per-repeat
ratios (the project asks the trainer for >= 0.9x the bare loop). All sides use the same
number of compute threads (`--threads`); the trainers read images with `--workers`
processes beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import torch
import torch.nn.functional as F

from scenelab.config import RunConfig
from scenelab.memory import peak_rss_mib, reuse_freed_memory
from scenelab.models import build_model
from scenelab.train.engine import train

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "miniplaces20"
IMAGE_SIZE = 128
BATCH = 64
CLASSES = 20
PRECISIONS = {"float32": ("off", False), "bf16+channels_last": ("bf16", True)}
SIDES = ("bare", "bare_reused", "trainer", "cached")
AGAINST_SIDES = ("trainer", "against")  # this checkout's trainer, --against's
SOURCE = Path(__file__).resolve().parents[1] / "src"
T = TypeVar("T")


def subset_lines(root: Path, steps: int) -> dict[str, list[str]]:
    """The list-file lines of the benchmark's images: steps x BATCH train images spread over
    the classes, and the first BATCH val images of ``root``."""
    train_lines = (root / "train.txt").read_text().splitlines()
    stride = len(train_lines) // (steps * BATCH)
    return {
        "train": train_lines[::stride][: steps * BATCH],
        "val": (root / "val.txt").read_text().splitlines()[:BATCH],
    }


def subset_folder(root: Path, steps: int, folder: Path) -> Path:
    """A MiniPlaces root holding the images of `subset_lines` (its images/ folder is
    linked, not copied)."""
    (folder / "images").symlink_to((root / "images").resolve())
    for split, lines in subset_lines(root, steps).items():
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return folder


def bare_images_per_s(model_name: str, amp: str, channels_last: bool, steps: int) -> float:
    model = build_model(model_name, CLASSES)
    images = torch.rand(BATCH, 3, IMAGE_SIZE, IMAGE_SIZE)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(CLASSES, (BATCH,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp == "bf16"):
            loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):  # warm-up: oneDNN's kernels, the heap
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * BATCH / (time.perf_counter() - started)


def trainer_images_per_s(
    data: Path,
    model_name: str,
    amp: str,
    channels_last: bool,
    cache_images: bool,
    args: argparse.Namespace,
) -> float:
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        rows = train(
            RunConfig(
                data=str(data),
                model=model_name,
                epochs=2,
                batch_size=BATCH,
                warmup_epochs=0,
                image_size=IMAGE_SIZE,
                augment=args.augment,
                workers=args.workers,
                threads=args.threads,
                amp=amp,
                channels_last=channels_last,
                cache_images=cache_images,
                out=str(Path(out) / "run"),
            )
        )
    return rows[-1]["images_per_s"]


def measure(
    side: str, data: Path, model_name: str, precision: str, args: argparse.Namespace
) -> tuple[float, float]:
    """Images/s of one side and the peak resident memory (MiB) of the process measuring it
    (not its loader processes); run in a fresh process."""
    torch.set_num_threads(args.threads)
    amp, channels_last = PRECISIONS[precision]
    if side == "bare":
        images_per_s = bare_images_per_s(model_name, amp, channels_last, args.steps)
    elif side == "bare_reused":
        with reuse_freed_memory():
            images_per_s = bare_images_per_s(model_name, amp, channels_last, args.steps)
    else:
        cached = side == "cached"
        images_per_s = trainer_images_per_s(data, model_name, amp, channels_last, cached, args)
    return images_per_s, peak_rss_mib()


def in_fresh_process(function: Callable[..., T], *args: object) -> T:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn, max_tasks_per_child=1) as pool:
        return pool.submit(function, *args).result()


def in_source_tree(
    source: Path, data: Path, model_name: str, precision: str, args: argparse.Namespace
) -> tuple[float, float]:
    """`measure` of the trainer in a fresh interpreter importing scenelab from ``source``."""
    settings = {
        key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()
    }
    code = (
        "import argparse, json, sys; from pathlib import Path; "
        f"sys.path.insert(0, {str(Path(__file__).parent)!r}); import train; "
        f"args = argparse.Namespace(**json.loads({json.dumps(settings)!r})); "
        f"print(json.dumps(train.measure('trainer', Path({str(data)!r}), {model_name!r}, "
        f"{precision!r}, args)))"
    )
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    images_per_s, mib = json.loads(done.stdout.splitlines()[-1])
    return images_per_s, mib


def median_cells(reference: list[float], ours: list[float]) -> str:
    """'median reference | median ours | median of the per-repeat ratios ours/reference'."""
    medians = statistics.median(reference), statistics.median(ours), median_ratio(ours, reference)
    return "{:.1f} | {:.1f} | {:.2f}".format(*medians)


def median_ratio(ours: list[float], reference: list[float]) -> float:
    """The median of the per-repeat ratios ours / reference."""
    return statistics.median(o / r for o, r in zip(ours, reference, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--models", nargs="+", default=["simplenet", "resnet18"])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--augment", default="none", choices=["none", "light", "study"])
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument(
        "--against", type=Path, metavar="SRC", help="another checkout's src: its trainer vs this"
    )
    args = parser.parse_args()
    if args.against is not None:
        return against_main(args)

    def in_fresh_process_of(side: str, data: Path, model_name: str, precision: str):
        return in_fresh_process(measure, side, data, model_name, precision, args)

    results, peak_mib = interleaved(args, SIDES, in_fresh_process_of)
    print(settings_line(args) + "\n")
    print(
        "| model | precision | bare loop | bare loop, memory reused | trainer | trainer / bare "
        "| trainer / bare reused | cached trainer | cached / bare reused |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (model_name, precision), row in results.items():
        median = {side: statistics.median(values) for side, values in row.items()}
        print(
            f"| {model_name} | {precision} | {median['bare']:.1f} | "
            f"{median['bare_reused']:.1f} | {median['trainer']:.1f} | "
            f"{median_ratio(row['trainer'], row['bare']):.2f} | "
            f"{median_ratio(row['trainer'], row['bare_reused']):.2f} | {median['cached']:.1f} | "
            f"{median_ratio(row['cached'], row['bare_reused']):.2f} |"
        )

    print("\npeak resident memory of the measuring process, MiB (medians)\n")
    print("| model | precision | bare loop | bare loop, memory reused | trainer | cached trainer |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for (model_name, precision), memory in peak_mib.items():
        cells = " | ".join(f"{statistics.median(memory[side]):.0f}" for side in SIDES)
        print(f"| {model_name} | {precision} | {cells} |")


def interleaved(
    args: argparse.Namespace,
    sides: tuple[str, ...],
    measure_side: Callable[[str, Path, str, str], tuple[float, float]],
) -> tuple[dict[tuple[str, str], dict[str, list[float]]], ...]:
    """Images/s and peak MiB of every side, per (model, precision): ``args.repeats``
    rounds, each side measured by ``measure_side(side, data, model, precision)``."""
    results: dict[tuple[str, str], dict[str, list[float]]] = {}
    peak_mib: dict[tuple[str, str], dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        data = subset_folder(args.root, args.steps, Path(folder))
        for repeat in range(args.repeats):
            for model_name in args.models:
                for precision in args.precisions:
                    row = results.setdefault((model_name, precision), {s: [] for s in sides})
                    memory = peak_mib.setdefault((model_name, precision), {s: [] for s in sides})
                    # Alternate the order of the sides, so that a drifting load cancels out.
                    for side in sides if repeat % 2 == 0 else sides[::-1]:
                        images_per_s, mib = measure_side(side, data, model_name, precision)
                        row[side].append(images_per_s)
                        memory[side].append(mib)
                    print(
                        f"repeat {repeat + 1}/{args.repeats} {model_name} {precision}: "
                        + ", ".join(f"{side} {row[side][-1]:.1f}" for side in sides)
                        + " images/s",
                        flush=True,
                    )
    return results, peak_mib


def settings_line(args: argparse.Namespace) -> str:
    return (
        f"\nbatch {BATCH}, {IMAGE_SIZE}x{IMAGE_SIZE}, {args.threads} compute thread(s), "
        f"{args.workers} loader process(es), augment {args.augment}, "
        f"medians of {args.repeats}"
    )


def against_main(args: argparse.Namespace) -> None:
    """This checkout's trainer against ``--against``'s, interleaved, medians."""
    sources = {"trainer": SOURCE, "against": args.against.resolve()}

    def in_tree_of(side: str, data: Path, model_name: str, precision: str):
        return in_source_tree(sources[side], data, model_name, precision, args)

    results, _ = interleaved(args, AGAINST_SIDES, in_tree_of)
    print(f"{settings_line(args)}; against: {sources['against']}\n")
    print("| model | precision | against, images/s | this, images/s | this / against |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (model_name, precision), row in results.items():
        print(f"| {model_name} | {precision} | {median_cells(row['against'], row['trainer'])} |")


if __name__ == "__main__":
    main()
