"""Data pipeline throughput vs SimpleNet's training throughput, measured side by side.

    python benchmarks/data.py [--root ../shared/data/miniplaces20] [--batches 20] [--repeats 3]

Each row is the images/s a DataLoader delivers of the training split of ROOT with the
study's training recipe (uint8 batches, nothing else done with them), for 0, 1 and 2
worker processes, decoding with torchvision.io or with PIL. The last row is SimpleNet's
training throughput (forward, loss, backward, SGD step; bf16 autocast where the CPU has it,
channels_last) on uint8 batches of the same shape. Rows run interleaved, one measurement
of each per repeat, and the table reports medians; "x SimpleNet" is the row's median over
SimpleNet's median: the pipeline keeps up when it is well above 1 (the project asks for 4).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from scenelab.data import build_loader, build_transform
from scenelab.data.datasets import ImageFileDataset
from scenelab.data.decode import decode_rgb_pil
from scenelab.data.layout import load_samples
from scenelab.models.simplenet import SimpleNet

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "miniplaces20"
IMAGE_SIZE = 128
WORKER_COUNTS = (0, 1, 2)


class PilDecodedDataset(ImageFileDataset):
    """The same dataset, decoding with PIL instead of torchvision.io."""

    def _decode(self, index: int) -> torch.Tensor:
        return decode_rgb_pil(self.paths[index])


def loader_throughput(dataset, workers: int, batch_size: int, batches: int) -> float:
    """Images/s over `batches` batches, after the workers have started and filled their queue."""
    loader = build_loader(dataset, batch_size, shuffle=True, workers=workers, seed=0)
    iterator = iter(loader)
    for _ in range(max(1, 2 * workers)):  # start-up and the prefetched batches
        next(iterator)
    start = time.perf_counter()
    images = sum(len(next(iterator)[0]) for _ in range(batches))
    elapsed = time.perf_counter() - start
    del iterator
    return images / elapsed


def simplenet_throughput(batch_size: int, batches: int) -> float:
    """Images/s of SimpleNet training steps on random uint8 batches (the engine's conversion)."""
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
    start = time.perf_counter()
    for _ in range(batches):
        step()
    return batch_size * batches / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="a MiniPlaces root")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=20, help="timed batches per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    transform = build_transform("study", IMAGE_SIZE, train=True)
    samples = load_samples(args.root, "train")
    datasets = {
        "torchvision.io": ImageFileDataset(samples, transform),
        "PIL": PilDecodedDataset(samples, transform),
    }

    rows: dict[str, Callable[[], float]] = {}
    for decoder, dataset in datasets.items():
        for workers in WORKER_COUNTS:
            rows[f"study recipe, {decoder}, {workers} workers"] = lambda d=dataset, w=workers: (
                loader_throughput(d, w, args.batch_size, args.batches)
            )
    simplenet = f"SimpleNet training step, batch {args.batch_size}"
    rows[simplenet] = lambda: simplenet_throughput(args.batch_size, max(3, args.batches // 4))

    measured: dict[str, list[float]] = {name: [] for name in rows}
    for repeat in range(args.repeats):
        for name, measure in rows.items():
            measured[name].append(measure())
            print(f"  repeat {repeat + 1}/{args.repeats}: {name}: {measured[name][-1]:.0f}/s")

    medians = {name: statistics.median(values) for name, values in measured.items()}
    print(f"\n{args.root}, {IMAGE_SIZE}x{IMAGE_SIZE}, {torch.get_num_threads()} torch threads")
    print(f"| {'setting':<40} | images/s (median) | x SimpleNet |")
    print(f"| {'-' * 40} | ----------------: | ----------: |")
    for name, value in medians.items():
        print(f"| {name:<40} | {value:17.0f} | {value / medians[simplenet]:11.2f} |")


if __name__ == "__main__":
    main()
