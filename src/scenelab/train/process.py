"""The training process: in the DDP world torchrun describes (if any), on its device,
deterministic if asked, seeded, with the run's threads; and back to how it was."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from scenelab.config import ResolvedConfig
from scenelab.train.distributed import World, init_world, leave_world, peer_failure
from scenelab.train.rng import seed_everything


@contextmanager
def training_process(
    config: ResolvedConfig, device: torch.device
) -> Iterator[tuple[World, torch.device]]:
    """This process as the run needs it: in the DDP world torchrun describes (if any), on
    its device, deterministic if asked, seeded, with the run's threads; the process's
    torch settings come back afterwards, and a peer's failure becomes one clear error."""
    world = init_world(device.type)
    if world.distributed and device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    threads_before = torch.get_num_threads()
    try:
        if config.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        seed_everything(config.seed)
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        yield world, device
    except RuntimeError as error:
        failure = peer_failure(world, error)
        if failure is None:
            raise
        raise failure from None
    finally:
        torch.use_deterministic_algorithms(deterministic_before)
        torch.set_num_threads(threads_before)
        leave_world(world)
