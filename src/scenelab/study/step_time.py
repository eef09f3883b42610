"""Conclusion 3's time cost: seconds per training step of OurBestNet with 2, 3 and 4
blocks, measured side by side (`scenelab.bench.interleave`: A B C A B C ..., medians).

Not read from the runs' epoch times: each run trained at its own hour, and on a shared
machine those times say more about what else ran then than about the model (the small
miniplaces20 study measured 205, 268 and 200 s per epoch for 2, 3 and 4 blocks).
Each model takes the step its run took (`train_step`: its optimiser, precision and
memory layout) on one batch of the run's size, of random pixels.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from scenelab.bench.interleave import interleaved_samples
from scenelab.config import RunConfig
from scenelab.device import pick_device
from scenelab.runs import load_run
from scenelab.train.build import build_optimizer
from scenelab.train.precision import autocast_factory, grad_scaler
from scenelab.train.step import to_model_input, train_step

STEP_TIMES_FILE = "step_times.json"
REPEATS = 10
# Steps before the samples: at the small budget (bf16, channels_last) the first few steps
# of each model were up to 40% slower, enough to put 4 blocks below 3 in 5 samples.
WARMUP = 3


@dataclass(frozen=True)
class StepTimes:
    batch_size: int
    image_size: int
    repeats: int
    seconds: dict[str, float]  # median seconds per training step, by run folder name

    @classmethod
    def from_dict(cls, values: dict) -> StepTimes:
        return cls(**values)


def step_timer(run_dir: Path) -> tuple[Callable[[], float], RunConfig]:
    """One training step of the run's model as the run took it, timed in seconds."""
    loaded = load_run(run_dir, torch.device("cpu"))
    config = RunConfig.from_dict(loaded.config, source=str(run_dir / "config.yaml"))
    device = pick_device(config.device)
    model = loaded.model.to(device).train()
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(0)
    shape = (config.batch_size, 3, config.image_size, config.image_size)
    pixels = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    images = to_model_input(pixels, device, getattr(torch, config.dtype), config.channels_last)
    labels = torch.randint(0, len(loaded.classes), (config.batch_size,), generator=generator)
    labels = labels.to(device)
    step = dict(
        loss_fn=nn.CrossEntropyLoss(label_smoothing=config.label_smoothing),
        optimizer=build_optimizer(model, config),
        scaler=grad_scaler(device, config.amp),
        autocast=autocast_factory(device, config.amp),
    )

    def run() -> float:
        started = time.perf_counter()
        loss = train_step(model, images, labels, **step)[0]
        loss.item()  # waits for the device
        return time.perf_counter() - started

    return run, config


def time_steps(run_dirs: list[Path], repeats: int = REPEATS) -> StepTimes:
    """The median seconds per training step of each run's model, measured interleaved."""
    timers = {run_dir.name: step_timer(run_dir) for run_dir in run_dirs}
    samples = interleaved_samples(
        {name: timer for name, (timer, _) in timers.items()}, repeats, WARMUP
    )
    config = next(iter(timers.values()))[1]
    return StepTimes(
        batch_size=config.batch_size,
        image_size=config.image_size,
        repeats=repeats,
        seconds={name: statistics.median(values) for name, values in samples.items()},
    )
