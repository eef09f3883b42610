"""What a training run is built from: its data (datasets, sampler, loaders), the model on
its device (DDP and torch.compile wrappers), the optimiser and the schedule."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchvision.transforms import v2

from scenelab.checkpoint import load_checkpoint
from scenelab.config import ResolvedConfig
from scenelab.data import build_dataset, build_loader, build_transform
from scenelab.errors import ScenelabError
from scenelab.models.torchvision_models import read_weights
from scenelab.train.distributed import World
from scenelab.train.sampling import ResumableSampler, SeededSamples, shard_indices
from scenelab.train.schedule import WarmupCosineSchedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunLength:
    """How long a run trains, in loader batches and in optimizer steps: one step per
    ``--accum-steps`` batches (the last of an epoch's groups may be shorter), and at most
    ``--max-steps`` steps in all, the last epoch then cut short where they end (as
    Hugging Face's Trainer does). The schedule is planned for ``total_steps``."""

    batches_per_epoch: int
    steps_per_epoch: int
    total_steps: int

    @classmethod
    def plan(cls, config: ResolvedConfig, batches_per_epoch: int) -> RunLength:
        steps_per_epoch = math.ceil(batches_per_epoch / config.accum_steps)
        total = config.epochs * steps_per_epoch
        if config.max_steps is not None:
            total = min(total, config.max_steps)
        return cls(batches_per_epoch, steps_per_epoch, total)

    @property
    def epochs(self) -> int:
        """The epochs the run trains (the last may be cut short by --max-steps)."""
        return math.ceil(self.total_steps / self.steps_per_epoch)


@dataclass
class TrainData:
    """This process's share of the training and validation splits."""

    train_set: torch.utils.data.Dataset
    classes: list[str]
    sampler: ResumableSampler
    train_loader: torch.utils.data.DataLoader
    val_loader: torch.utils.data.DataLoader
    local_batch: int  # this process's part of the global batch
    length: RunLength


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
        log.info(
            f"decoded {len(train_set) + len(val_set):,} images into memory "
            f"({cached / 2**30:.2f} GiB) in {time.perf_counter() - started:.1f} s",
        )
    if config.batch_size > len(train_set):
        raise ScenelabError(
            f"--batch-size {config.batch_size} is larger than the training set "
            f"({len(train_set)} images in {config.data})"
        )
    local_batch = config.batch_size // world.world_size
    limit = config.limit_train_batches
    sampler = ResumableSampler(
        len(train_set),
        seed=config.seed,
        rank=world.rank,
        world_size=world.world_size,
        limit=None if limit is None else limit * local_batch,
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
        length=RunLength.plan(config, len(sampler) // local_batch),
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


def pretrained_weights(path: str | None) -> str | dict[str, torch.Tensor] | None:
    """What ``--pretrained`` gives `build_model`: a torchvision state dict file as it is, or
    for a scenelab run folder (its best.pt, else last.pt) or checkpoint the backbone of its
    model: the torchvision network's weights without scenelab's ``net.`` prefix and without
    the Normalize layer's buffers (build_model then drops the classifier)."""
    if path is None:
        return None
    source = Path(path)
    if source.is_dir():
        try:
            checkpoint = load_checkpoint(source)
        except ScenelabError as error:  # it names the folder
            raise ScenelabError(f"--pretrained {error}") from None
    else:
        checkpoint = read_weights(source)
    if not (isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict)):
        return path  # not a scenelab checkpoint: a torchvision state dict, or refused there
    weights = checkpoint["model"].items()
    return {key.removeprefix("net."): value for key, value in weights if key.startswith("net.")}


def build_optimizer(model: nn.Module, config: ResolvedConfig) -> torch.optim.Optimizer:
    """``--opt sgd``: SGD with momentum (the study's); ``adamw``: AdamW (Loshchilov & Hutter
    2019, decoupled weight decay) with PyTorch's betas. The schedule sets lr and weight
    decay of either every step."""
    if config.opt == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.wd)
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.wd,
    )


def build_ema(model: nn.Module, config: ResolvedConfig) -> AveragedModel | None:
    """``--ema DECAY``: an exponential moving average of the weights and buffers (BatchNorm's
    running statistics too), updated after every step; None without it."""
    if config.ema is None:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema), use_buffers=True)


def build_mixing(config: ResolvedConfig, num_classes: int) -> v2.Transform | None:
    """``--mixup`` / ``--cutmix`` ALPHA: torchvision's v2.MixUp / v2.CutMix on a batch of
    [0, 1] images and its labels (which become mixed one-hot targets); with both, one of
    the two for each batch, at random. None without either."""
    mixings = [
        mixing(alpha=alpha, num_classes=num_classes)
        for mixing, alpha in ((v2.MixUp, config.mixup), (v2.CutMix, config.cutmix))
        if alpha is not None
    ]
    if not mixings:
        return None
    return mixings[0] if len(mixings) == 1 else v2.RandomChoice(mixings)


def build_schedule(config: ResolvedConfig, length: RunLength) -> WarmupCosineSchedule:
    return WarmupCosineSchedule(
        base_lr=config.lr,
        weight_decay=config.wd,
        warmup_steps=round(config.warmup_epochs * length.steps_per_epoch),
        total_steps=length.total_steps,
    )
