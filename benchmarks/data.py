"""Data pipeline throughput vs SimpleNet's training throughput, measured side by side.

    python benchmarks/data.py [--root ../shared/data/miniplaces20] [--batches 20] [--repeats 5]

Each pipeline row is what a DataLoader delivers of the training split of ROOT with the
study's training recipe (uint8 batches of 128x128, nothing else done with them):

- scenelab's decoder (simplejpeg for JPEG) or PIL alone, with 0, 1 and 2 worker processes
  (scenelab's datasets);
- a plain DataLoader with 0 workers, decoding, augmenting and collating on all of torch's
  intra-op threads, which scenelab's loader avoids (`scenelab.data.threads`; this row
  times a fifth of the batches, as it can be very slow);
- every image decoded once into memory beforehand (`--cache-images`), 2 workers;
- a candidate speed-up, 2 workers: the colour jitter moved after the crop (128x128 instead
  of 160x160 pixels; not exactly the study's recipe, since contrast then blends towards
  the crop's mean).

The last row is SimpleNet's training step (forward, loss, backward, SGD; bf16 autocast where
the CPU has it, channels_last) on uint8 batches of the same shape, converted as the engine
does. Rows run interleaved, one measurement each per repeat; the table gives medians of
images/s, its ratio to SimpleNet's (the project asks for >= 4), and CPU milliseconds per
image summed over the main and worker processes: a cost that depends less than wall time
on what else the machine is running.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from scenelab.data import build_loader, build_transform
from scenelab.data.datasets import ImageFileDataset
from scenelab.data.decode import decode_rgb_pil
from scenelab.data.layout import load_samples
from scenelab.data.samples import Samples
from scenelab.data.transforms import STUDY_JITTER, STUDY_RESIZE_FACTOR, STUDY_ROTATION_DEGREES
from scenelab.models.simplenet import SimpleNet

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "miniplaces20"
IMAGE_SIZE = 128
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Measurement:
    images_per_s: float
    cpu_ms_per_image: float


class PilDecodedDataset(ImageFileDataset):
    """The same dataset, decoding with PIL alone instead of simplejpeg."""

    def _decode_file(self, index: int) -> torch.Tensor:
        return decode_rgb_pil(self.paths[index])


class AllThreadsDataset(ImageFileDataset):
    """The same dataset without `single_threaded`: per-image work on every intra-op thread."""

    __getitem__ = ImageFileDataset._load


def all_threads_loader(samples: Samples, transform, batch_size: int) -> DataLoader:
    """A plain DataLoader, 0 workers: loading and collation on all intra-op threads."""
    return DataLoader(AllThreadsDataset(samples, transform), batch_size, shuffle=True)


def jitter_after_crop(image_size: int) -> v2.Compose:
    """The study's steps with the colour jitter moved last (on the cropped image)."""
    return v2.Compose(
        [
            v2.Resize(round(STUDY_RESIZE_FACTOR * image_size), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomRotation(STUDY_ROTATION_DEGREES),
            v2.RandomResizedCrop(image_size, antialias=True),
            v2.ColorJitter(STUDY_JITTER, STUDY_JITTER, STUDY_JITTER),
        ]
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (Linux /proc), this one's from process_time."""
    total = time.process_time()
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


def loader_throughput(loader: DataLoader, batches: int) -> Measurement:
    """Images/s and CPU per image over `batches` batches, once the workers are running."""
    iterator = iter(loader)
    for _ in range(max(1, 2 * loader.num_workers)):  # start-up and the prefetched batches
        next(iterator)
    pids = [worker.pid for worker in getattr(iterator, "_workers", [])]  # private, stable
    start, cpu_start = time.perf_counter(), cpu_seconds(pids)
    images = sum(len(next(iterator)[0]) for _ in range(batches))
    elapsed, cpu = time.perf_counter() - start, cpu_seconds(pids) - cpu_start
    del iterator
    return Measurement(images / elapsed, 1000 * cpu / images)


def simplenet_throughput(batch_size: int, batches: int) -> Measurement:
    """Training steps of SimpleNet on random uint8 batches, converted as the engine does."""
    model = SimpleNet(num_classes=100).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    use_bf16 = torch.backends.mkldnn.is_available() and torch.cpu._is_avx512_bf16_supported()
    images = torch.randint(0, 256, (batch_size, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8)
    labels = torch.randint(0, 100, (batch_size,))

    def step() -> None:
        x = images.float().div_(255).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            loss = F.cross_entropy(model(x), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(batches):
        step()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return Measurement(batch_size * batches / elapsed, 1000 * cpu / (batch_size * batches))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="a MiniPlaces root")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=20, help="timed batches per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    study = build_transform("study", IMAGE_SIZE, train=True)
    samples = load_samples(args.root, "train")
    print(f"decoding {len(samples)} images into memory for the cached row ...", flush=True)
    in_memory = ImageFileDataset(samples, study, cache=True)

    def loader(dataset, workers: int) -> DataLoader:
        return build_loader(dataset, args.batch_size, shuffle=True, workers=workers, seed=0)

    pipelines: dict[str, Callable[[], DataLoader]] = {
        f"{decoder}, {workers} workers": lambda d=dataset, w=workers: loader(d, w)
        for decoder, dataset in (
            ("scenelab decode", ImageFileDataset(samples, study)),
            ("PIL", PilDecodedDataset(samples, study)),
        )
        for workers in (0, 1, 2)
    }
    all_threads = "scenelab decode, 0 workers, all threads"
    pipelines[all_threads] = lambda: all_threads_loader(samples, study, args.batch_size)
    pipelines["decoded in memory (--cache-images), 2 workers"] = lambda: loader(in_memory, 2)
    reordered = ImageFileDataset(samples, jitter_after_crop(IMAGE_SIZE))
    pipelines["jitter after crop, scenelab decode, 2 workers"] = lambda: loader(reordered, 2)

    rows: dict[str, Callable[[], Measurement]] = {
        name: lambda make=make, few=name == all_threads: loader_throughput(
            make(), max(2, args.batches // 5) if few else args.batches
        )
        for name, make in pipelines.items()
    }
    simplenet = f"SimpleNet training step, batch {args.batch_size}"
    rows[simplenet] = lambda: simplenet_throughput(args.batch_size, max(3, args.batches // 4))

    measured: dict[str, list[Measurement]] = {name: [] for name in rows}
    for repeat in range(args.repeats):
        for name, measure in rows.items():
            result = measure()
            measured[name].append(result)
            print(
                f"  repeat {repeat + 1}/{args.repeats}: {name}: {result.images_per_s:.0f}/s,"
                f" {result.cpu_ms_per_image:.2f} CPU ms/image",
                flush=True,
            )

    speed = {n: statistics.median(m.images_per_s for m in ms) for n, ms in measured.items()}
    cpu = {n: statistics.median(m.cpu_ms_per_image for m in ms) for n, ms in measured.items()}
    print(f"\n{args.root}, {IMAGE_SIZE}x{IMAGE_SIZE}, {torch.get_num_threads()} torch threads,")
    print(f"median of {args.repeats} interleaved repeats, load average {os.getloadavg()[0]:.1f}")
    print(f"| {'setting':<46} | images/s | x SimpleNet | CPU ms/image |")
    print(f"| {'-' * 46} | -------: | ----------: | -----------: |")
    for name in rows:
        ratio = speed[name] / speed[simplenet]
        print(f"| {name:<46} | {speed[name]:8.0f} | {ratio:11.1f} | {cpu[name]:12.2f} |")


if __name__ == "__main__":
    main()
