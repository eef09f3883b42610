"""What a training run is built from: its data (datasets, sampler, loaders), the model on
its device (DDP and torch.compile wrappers), the optimiser and the schedule."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from scenelab.config import ResolvedConfig
from scenelab.data import build_dataset, build_loader, build_transform
from scenelab.errors import ScenelabError
from scenelab.train.distributed import World
from scenelab.train.sampling import ResumableSampler, SeededSamples, shard_indices
from scenelab.train.schedule import WarmupCosineSchedule


@dataclass
class TrainData:
    """This process's share of the training and validation splits."""

    train_set: torch.utils.data.Dataset
    classes: list[str]
    sampler: ResumableSampler
    train_loader: torch.utils.data.DataLoader
    val_loader: torch.utils.data.DataLoader
    local_batch: int  # this process's part of the global batch
    steps_per_epoch: int


def build_data(config: ResolvedConfig, world: World) -> TrainData:
    """Both splits, checked against the batch size, and their loaders: the training
    loader resumable at any position (`ResumableSampler`), the validation one sharded."""
    if config.batch_size % world.world_size:
        raise ScenelabError(
            f"--batch-size {config.batch_size} (the global batch) is not divisible by "
            f"the {world.world_size} processes"
        )
    started = time.perf_counter()
    train_set = build_dataset(
        config.data,
        "train",
        transform=build_transform(config.augment, config.image_size, train=True),
        strict=config.strict_data,
        cache=config.cache_images,
    )
    val_set = build_dataset(
        config.data,
        "val",
        transform=build_transform(config.augment, config.image_size, train=False),
        cache=config.cache_images,
    )
    cached = train_set.cached_bytes + val_set.cached_bytes
    if cached and world.is_main:
        print(
            f"decoded {len(train_set) + len(val_set):,} images into memory "
            f"({cached / 2**30:.2f} GiB) in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    if config.batch_size > len(train_set):
        raise ScenelabError(
            f"--batch-size {config.batch_size} is larger than the training set "
            f"({len(train_set)} images in {config.data})"
        )
    local_batch = config.batch_size // world.world_size
    sampler = ResumableSampler(
        len(train_set), seed=config.seed, rank=world.rank, world_size=world.world_size
    )
    loader_settings = dict(
        shuffle=False, workers=config.workers, seed=config.seed, channels_last=config.channels_last
    )
    return TrainData(
        train_set=train_set,
        classes=list(train_set.classes),
        sampler=sampler,
        train_loader=build_loader(
            SeededSamples(train_set),
            local_batch,
            drop_last=True,
            sampler=sampler,
            **loader_settings,
        ),
        val_loader=build_loader(
            val_set,
            local_batch,
            sampler=shard_indices(len(val_set), world.rank, world.world_size),
            **loader_settings,
        ),
        local_batch=local_batch,
        steps_per_epoch=len(sampler) // local_batch,
    )


def place_model(
    model: nn.Module, config: ResolvedConfig, device: torch.device, world: World
) -> tuple[nn.Module, nn.Module]:
    """The model on ``device`` in the run's dtype and layout, and the module the steps
    call: the same, or its DDP and torch.compile wrappers."""
    model = model.to(device, getattr(torch, config.dtype))
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward = model
    if world.distributed:
        device_ids = [device] if device.type == "cuda" else None
        forward = DistributedDataParallel(model, device_ids=device_ids)
    return model, torch.compile(forward) if config.compile else forward


def build_optimizer(model: nn.Module, config: ResolvedConfig) -> torch.optim.SGD:
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.wd,
    )


def build_schedule(config: ResolvedConfig, steps_per_epoch: int) -> WarmupCosineSchedule:
    return WarmupCosineSchedule(
        base_lr=config.lr,
        weight_decay=config.wd,
        warmup_steps=round(config.warmup_epochs * steps_per_epoch),
        total_steps=config.epochs * steps_per_epoch,
    )
