"""Data-parallel training across processes started by ``torchrun``.

``torchrun --nproc_per_node N -m scenelab train ...`` sets RANK, WORLD_SIZE and
LOCAL_RANK; one process is then the same as a world of size 1. Metrics are summed
across ranks as exact counts, and only rank 0 writes logs and checkpoints.

When a process dies, the others' next collective fails at once (its connection closes);
when one hangs, they give up after SCENELAB_DDP_TIMEOUT_S seconds (default 600). Either
way they stop with an error naming their rank instead of waiting forever.
"""

from __future__ import annotations

import os
import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from scenelab.errors import ScenelabError

TIMEOUT_ENV = "SCENELAB_DDP_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 600.0  # long enough for rank 0 to save a checkpoint and draw plots alone
# What gloo and NCCL say (lower-cased) when a peer process is gone or silent.
PEER_FAILURE_SIGNS = ("connection reset", "connection closed", "timed out", "timeout", "nccl")


@dataclass(frozen=True)
class World:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_world(device_type: str) -> World:
    """Join the process group torchrun describes (gloo on CPU, NCCL on CUDA), if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if device_type == "cuda" else "gloo", timeout=collective_timeout()
        )
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def collective_timeout() -> timedelta:
    text = os.environ.get(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_S))
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ScenelabError(f"{TIMEOUT_ENV}={text!r}: expected a positive number of seconds")
    return timedelta(seconds=seconds)


def peer_failure(world: World, error: BaseException) -> ScenelabError | None:
    """The error to show when ``error`` says another process died or stopped answering."""
    if not world.distributed or not isinstance(error, RuntimeError):
        return None
    text = str(error).strip()
    known = any(sign in text.lower() for sign in PEER_FAILURE_SIGNS)
    if not known and not isinstance(error, dist.DistError):
        return None
    # "[.../gloo/transport/tcp/pair.cc:545] Read error [::1]:6547: Connection reset by
    # peer. This is typically caused by ..." -> "Read error [::1]:6547: Connection reset by peer"
    first = re.sub(r"^\[[^\]]*\.(?:cc|cpp):\d+\]\s*", "", text.splitlines()[0] if text else "")
    reason = first.split(". ")[0].rstrip(".") or type(error).__name__
    return ScenelabError(
        f"rank {world.rank} of {world.world_size}: lost another training process ({reason}). "
        "One process probably died or hung; its own log says why. The run can continue "
        "from its last checkpoint with --resume."
    )


def leave_world(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def gradient_sync(model: nn.Module, sync: bool) -> AbstractContextManager:
    """Around a backward pass: DDP's ``no_sync`` unless ``sync`` (the last batch of an
    accumulated step all-reduces the summed gradients once); nothing for a model that is
    not DDP. ``model`` may be DDP inside torch.compile's wrapper."""
    ddp = getattr(model, "_orig_mod", model)
    if sync or not isinstance(ddp, DistributedDataParallel):
        return nullcontext()
    return ddp.no_sync()


def sum_across(world: World, values: list[float], device: torch.device) -> list[float]:
    """Element-wise sums over all ranks (float64, so counts stay exact)."""
    if not world.distributed:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def any_across(world: World, flags: list[bool], device: torch.device) -> list[bool]:
    """Element-wise "any rank says yes", so that every rank takes the same decision."""
    return [count > 0 for count in sum_across(world, [float(flag) for flag in flags], device)]


def broadcast_object(world: World, value: object) -> object:
    """Rank 0's ``value`` on every rank."""
    if not world.distributed:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
