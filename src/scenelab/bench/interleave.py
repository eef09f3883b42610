"""Side-by-side timing: every candidate called to warm up (allocator, oneDNN primitive
caches), then A B C A B C ..., so that whatever else loads a shared machine falls on all
of them alike. Report medians of the samples, never one run of each."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Sample = TypeVar("Sample")


def interleaved_samples(
    runs: dict[str, Callable[[], Sample]], repeats: int, warmup: int = 1
) -> dict[str, list[Sample]]:
    """``repeats`` samples of each run, taken in turn after ``warmup`` calls each."""
    for _ in range(warmup):
        for run in runs.values():
            run()
    samples: dict[str, list[Sample]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            samples[name].append(run())
    return samples
