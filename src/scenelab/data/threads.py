"""Keeping per-image work off torch's intra-op thread pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run the enclosed work on one intra-op thread, then give the caller its threads back.

    In DataLoader workers torch already uses one thread. With `workers=0` decoding,
    augmentation and collation run in the training process, whose threads are sized for
    the model: on per-image tensors they only add synchronisation, and on a busy 2-core
    machine they made the pipeline several times slower (docs/benchmarks.md).
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
