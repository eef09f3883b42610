"""The training loop: SGD with warm-up and cosine decay, mixed precision, channels-last,
DDP, checkpoints that resume bit for bit, and the logs and plots of every epoch.

Images come from the loader as uint8 and become [0, 1] floats on the device; the model's
own Normalize layer does the rest (DESIGN.md).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from scenelab import plots
from scenelab.attacks.adversarial import RobustValidation, build_adversary, collapse_reason
from scenelab.checkpoint import (
    CHECKPOINT_DIR,
    checkpoint_classes,
    describe_class_mismatch,
    load_checkpoint,
    save_checkpoint,
)
from scenelab.config import RunConfig, resolve, validate
from scenelab.data import build_dataset, build_loader, build_transform, default_image_size
from scenelab.device import peak_memory_mib, pick_device
from scenelab.errors import ScenelabError
from scenelab.memory import reuse_freed_memory
from scenelab.models import build_model, check_image_size
from scenelab.safetext import terminal
from scenelab.train.distributed import (
    World,
    any_across,
    init_world,
    leave_world,
    peer_failure,
    sum_across,
)
from scenelab.train.logs import EpochProgress, TensorBoardLog, write_metrics_csv
from scenelab.train.precision import autocast_factory, default_amp, grad_scaler
from scenelab.train.rng import capture_rng_state, restore_rng_state, seed_everything
from scenelab.train.runfolder import has_checkpoint, own_run_folder
from scenelab.train.sampling import ResumableSampler, SeededSamples, shard_indices
from scenelab.train.schedule import WarmupCosineSchedule, warmup_cosine_lr
from scenelab.weights import load_weights

NONFINITE_LOSS_EXIT = 3
PLOT_INTERVAL_S = 60.0  # redraw plots/*.png at most this often, and after the last epoch


def to_model_input(
    images: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> torch.Tensor:
    """uint8 (B, 3, H, W) from the loader -> [0, 1] ``dtype`` on ``device``. The loader of
    a channels_last run delivers that layout already; otherwise it changes here, while the
    pixels are still bytes (a quarter of the copy)."""
    images = images.to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images.to(dtype).div_(255)


def train_step(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    autocast: Callable[[], AbstractContextManager],
    make_inputs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    grad_clip: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on [0, 1] float images; returns the (detached) loss and logits.

    ``make_inputs(images, labels)``, if given, replaces the batch first (adversarial
    training: it makes the examples in eval mode; the forward below runs in train mode).
    Gradients whose total L2 norm exceeds ``grad_clip`` are scaled down to it. A NaN or
    inf gradient raises NonFiniteStep before the update, leaving the weights as they
    were (with fp16 loss scaling the scaler skips such steps itself, by design).
    """
    if make_inputs is not None:
        with autocast():
            images = make_inputs(images, labels)
    with autocast():
        logits = model(images)
        loss = loss_fn(logits, labels)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    grads = [p.grad for p in parameters if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads)
    if not scaler.is_enabled() and not torch.isfinite(norm):
        raise NonFiniteStep(loss.item(), norm.item())
    if grad_clip is not None:
        torch.nn.utils.clip_grads_with_norm_(parameters, grad_clip, norm)
    scaler.step(optimizer)
    scaler.update()
    return loss.detach(), logits.detach()


class NonFiniteStep(ArithmeticError):
    """A training step whose gradients hold a NaN or inf; it was not applied."""

    def __init__(self, loss: float, grad_norm: float) -> None:
        super().__init__(f"loss {loss}, gradient norm {grad_norm}")
        self.loss, self.grad_norm = loss, grad_norm


def correct_top_k(logits: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...]) -> list[int]:
    """How many labels are among the k highest logits, for each k (k capped at #classes)."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hits = top == labels.unsqueeze(1)
    return [int(hits[:, :k].sum()) for k in ks]


@dataclass
class Totals:
    """Sums over the samples seen so far in an epoch; exact counts, reduced across ranks."""

    samples: int = 0
    loss_sum: float = 0.0
    correct1: int = 0
    correct5: int = 0

    def add(self, mean_loss: float, logits: torch.Tensor, labels: torch.Tensor) -> None:
        correct1, correct5 = correct_top_k(logits, labels, (1, 5))
        self.samples += len(labels)
        self.loss_sum += mean_loss * len(labels)
        self.correct1 += correct1
        self.correct5 += correct5

    def across(self, world: World, device: torch.device) -> Totals:
        samples, loss_sum, correct1, correct5 = sum_across(
            world, [self.samples, self.loss_sum, self.correct1, self.correct5], device
        )
        return Totals(round(samples), loss_sum, round(correct1), round(correct5))

    def as_metrics(self, prefix: str) -> dict[str, float]:
        count = max(self.samples, 1)
        return {
            f"{prefix}_loss": self.loss_sum / count,
            f"{prefix}_top1": 100.0 * self.correct1 / count,
            f"{prefix}_top5": 100.0 * self.correct5 / count,
        }


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    device: torch.device,
    autocast: Callable[[], AbstractContextManager],
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> Totals:
    """Cross-entropy (without label smoothing) and top-1/top-5 counts over ``loader``."""
    was_training = model.training
    model.eval()
    totals = Totals()
    for images, labels in loader:
        labels = labels.to(device, non_blocking=True)
        with autocast():
            logits = model(to_model_input(images, device, dtype, channels_last))
        loss = F.cross_entropy(logits.float(), labels)
        totals.add(loss.item(), logits, labels)
    model.train(was_training)
    return totals


class StopSignals:
    """SIGINT and SIGTERM ask the loop to stop after the current step (a second one
    interrupts at once)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def train(config: RunConfig, *, resume: bool = False) -> list[dict[str, Any]]:
    """Train as ``config`` says; with ``resume``, continue its run folder's last.pt (or
    start over when the run stopped before its first checkpoint).

    The run owns its folder while it runs (`own_run_folder`): a second process is
    refused, and so is a new run in a folder that already holds files of a run.

    The run keeps the memory freed tensors give back for reuse (`reuse_freed_memory`).
    Returns the metrics rows (one dict per epoch). Raises ScenelabError for bad input,
    a non-finite loss (exit code 3) or a stop signal (exit code 128 + signal number,
    after saving last.pt).
    """
    validate(config)
    device = pick_device(config.device)
    world = init_world(device.type)
    if world.distributed and device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    threads_before = torch.get_num_threads()
    try:
        config = resolve(
            config, image_size=default_image_size(config.data), default_amp=default_amp(device)
        )
        check_image_size(config.model, config.image_size)  # before anything is written
        run_dir = Path(config.out)
        with reuse_freed_memory(), own_run_folder(run_dir, world, resume):
            return Trainer(config, world, device, resume and has_checkpoint(run_dir)).run()
    except RuntimeError as error:
        failure = peer_failure(world, error)
        if failure is None:
            raise
        raise failure from None
    finally:
        torch.use_deterministic_algorithms(deterministic_before)
        torch.set_num_threads(threads_before)
        leave_world(world)


class Trainer:
    """One training run: built from a resolved config, run once; ``resume``: from last.pt."""

    def __init__(self, config: RunConfig, world: World, device: torch.device, resume: bool):
        self.world, self.device = world, device
        if config.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        seed_everything(config.seed)
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        self.run_dir = Path(config.out)
        self.last_path = self.run_dir / CHECKPOINT_DIR / "last.pt"
        if config.batch_size % world.world_size:
            raise ScenelabError(
                f"--batch-size {config.batch_size} (the global batch) is not divisible by "
                f"the {world.world_size} processes"
            )
        self._build_data(config)
        resumed = self._resumed_state() if resume else None
        self.config = config = config.replace(num_classes=len(self.classes))
        self.dtype = getattr(torch, config.dtype)
        self._build_model(config, resume)
        self.adversary = build_adversary(config)  # None unless --adv pgd / fgsm-rs
        self.robust_validation = (
            RobustValidation(self.val_loader.dataset, config.adv_epsilon, config.seed)
            if self.adversary
            else None
        )
        self.collapse: str | None = None  # set when adversarial training collapses
        self.epoch, self.step, self.position = 0, 0, 0  # position: batches done this epoch
        self.totals, self.epoch_elapsed = Totals(), 0.0
        self.metrics: list[dict[str, Any]] = []
        self.best_top1 = -math.inf
        self.pending_rng: dict[str, Any] | None = None
        if resumed is not None:
            self._restore(resumed)
            if self.adversary and self.metrics:  # a run stopped on a collapse stays stopped
                self.collapse = collapse_reason(self.metrics, config.num_classes)
        if world.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            config.to_yaml(self.run_dir / "config.yaml")
            self.tensorboard = TensorBoardLog(self.run_dir, first_epoch=self.epoch)
        self.last_save = self.last_plot = time.monotonic()

    # --- setting up ---------------------------------------------------------------------

    def _build_data(self, config: RunConfig) -> None:
        world = self.world
        train_transform = build_transform(config.augment, config.image_size, train=True)
        eval_transform = build_transform(config.augment, config.image_size, train=False)
        started = time.perf_counter()
        self.train_set = build_dataset(
            config.data,
            "train",
            transform=train_transform,
            strict=config.strict_data,
            cache=config.cache_images,
        )
        val_set = build_dataset(
            config.data, "val", transform=eval_transform, cache=config.cache_images
        )
        cached = self.train_set.cached_bytes + val_set.cached_bytes
        if cached and world.is_main:
            print(
                f"decoded {len(self.train_set) + len(val_set):,} images into memory "
                f"({cached / 2**30:.2f} GiB) in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        self.classes = list(self.train_set.classes)
        if config.batch_size > len(self.train_set):
            raise ScenelabError(
                f"--batch-size {config.batch_size} is larger than the training set "
                f"({len(self.train_set)} images in {config.data})"
            )
        self.local_batch = config.batch_size // world.world_size
        self.sampler = ResumableSampler(
            len(self.train_set), seed=config.seed, rank=world.rank, world_size=world.world_size
        )
        self.train_loader = build_loader(
            SeededSamples(self.train_set),
            self.local_batch,
            shuffle=False,
            workers=config.workers,
            seed=config.seed,
            drop_last=True,
            sampler=self.sampler,
            channels_last=config.channels_last,
        )
        self.val_loader = build_loader(
            val_set,
            self.local_batch,
            shuffle=False,
            workers=config.workers,
            seed=config.seed,
            sampler=shard_indices(len(val_set), world.rank, world.world_size),
            channels_last=config.channels_last,
        )
        self.steps_per_epoch = len(self.sampler) // self.local_batch

    def _build_model(self, config: RunConfig, resume: bool) -> None:
        model = build_model(
            config.model,
            config.num_classes,
            conv=config.conv,
            pretrained=None if resume else config.pretrained,  # resume loads every weight
        ).to(self.device, self.dtype)
        if config.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model  # the bare module: state dicts and evaluation
        if self.world.distributed:
            device_ids = [self.device] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=device_ids)
        self.forward_model = torch.compile(model) if config.compile else model
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.wd,
        )
        self.schedule = WarmupCosineSchedule(
            base_lr=config.lr,
            weight_decay=config.wd,
            warmup_steps=round(config.warmup_epochs * self.steps_per_epoch),
            total_steps=config.epochs * self.steps_per_epoch,
        )
        self.autocast = autocast_factory(self.device, config.amp)
        self.scaler = grad_scaler(self.device, config.amp)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    # --- checkpoints --------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "grad_scaler": self.scaler.state_dict(),
            "epoch": self.epoch,  # finished epochs
            "position": self.position,  # batches done in the epoch in progress
            "step": self.step,
            "epoch_totals": asdict(self.totals),
            "epoch_elapsed": self.epoch_elapsed,
            "world_size": self.world.world_size,
            "rng": capture_rng_state(),
            "config": self.config.to_dict(),
            "classes": self.classes,
            "metrics": self.metrics,
            "best_top1": self.best_top1,
        }

    def _save(self, *names: str) -> None:
        self.last_save = time.monotonic()
        if not self.world.is_main:
            return
        state = self._state()
        bad = [key for key, value in state["model"].items() if not value.isfinite().all()]
        if bad:  # never write NaN/inf weights over a good checkpoint
            raise ScenelabError(
                f"after step {self.step} the weights hold NaN or inf ({', '.join(bad[:3])}); "
                f"not saved, {self.last_path} keeps the last good state. Try a lower --lr "
                "or --grad-clip.",
                exit_code=NONFINITE_LOSS_EXIT,
            )
        for name in names:
            save_checkpoint(self.run_dir / CHECKPOINT_DIR / name, state)

    def _resumed_state(self) -> dict[str, Any]:
        """last.pt, refused when the dataset's classes are no longer the run's."""
        state = load_checkpoint(self.last_path)
        trained_on = checkpoint_classes(state)
        if trained_on != self.classes:
            raise ScenelabError(
                f"--resume {self.run_dir}: the dataset changed: "
                f"{describe_class_mismatch(trained_on, self.classes, 'the run')}; train a new "
                "run (another --out) on the new classes"
            )
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        if state["position"] and state["world_size"] != self.world.world_size:
            raise ScenelabError(
                f"{self.last_path} stopped mid-epoch with {state['world_size']} processes; "
                f"resume it with the same number (not {self.world.world_size})"
            )
        load_weights(
            self.model,
            state["model"],
            f"{self.last_path}: its weights do not fit the run's model ({self.config.model}, "
            f"{self.config.num_classes} classes)",
        )
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["grad_scaler"])
        self.epoch, self.step, self.position = state["epoch"], state["step"], state["position"]
        self.totals = Totals(**state["epoch_totals"])
        self.epoch_elapsed = state["epoch_elapsed"]
        self.metrics, self.best_top1 = state["metrics"], state["best_top1"]
        self.pending_rng = state["rng"]

    def _restore_rng_if(self, pending: bool) -> None:
        if pending and self.pending_rng is not None:
            restore_rng_state(self.pending_rng)
            self.pending_rng = None

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> list[dict[str, Any]]:
        if self.collapse and self.world.is_main:
            print(
                f"stopped at epoch {self.epoch} on a collapse ({self.collapse}); nothing to resume"
            )
        with StopSignals() as signals:
            for epoch in range(self.epoch, self.config.epochs):
                if self.collapse:
                    break
                started = self._train_epoch(epoch, signals)
                self._finish_epoch(epoch, started)
        if self.world.is_main:
            self.tensorboard.close()
            print(format_table(self.metrics), flush=True)
            best = max(self.metrics, key=lambda row: row["val_top1"])
            print(
                f"best val top-1 {best['val_top1']:.2f}% (epoch {best['epoch']}); "
                f"run folder {terminal(str(self.run_dir))}",
                flush=True,
            )
        return self.metrics

    def _train_epoch(self, epoch: int, signals: StopSignals) -> float:
        """Train the rest of ``epoch``; returns when it started (perf_counter)."""
        config, device = self.config, self.device
        self.sampler.set_epoch(epoch, start=self.position * self.local_batch)
        # Checkpoints hold the generators' state as of their step: at an epoch boundary
        # that is before the loader starts, in mid-epoch after it started.
        self._restore_rng_if(self.position == 0)
        batches = iter(self.train_loader)
        self._restore_rng_if(True)
        progress = (
            EpochProgress(epoch, config.epochs, self.steps_per_epoch, self.position)
            if self.world.is_main
            else None
        )
        started = time.perf_counter() - self.epoch_elapsed
        self.forward_model.train()
        for images, labels in batches:
            lr = self.schedule.apply(self.optimizer, self.step)
            labels = labels.to(device, non_blocking=True)
            try:
                loss, logits = train_step(
                    self.forward_model,
                    to_model_input(images, device, self.dtype, config.channels_last),
                    labels,
                    self.loss_fn,
                    self.optimizer,
                    self.scaler,
                    self.autocast,
                    partial(self.adversary, self.model) if self.adversary else None,
                    grad_clip=config.grad_clip,
                )
            except NonFiniteStep as fault:
                raise ScenelabError(
                    f"non-finite training step {self.step + 1} (epoch {epoch + 1}, batch "
                    f"{self.position + 1}, lr {lr:.4g}): {fault}; the step was not applied, "
                    f"training stopped and {self.last_path} keeps the last good state. "
                    "Try a lower --lr, --grad-clip or --amp off.",
                    exit_code=NONFINITE_LOSS_EXIT,
                ) from None
            loss_value = loss.item()
            self.totals.add(loss_value, logits, labels)
            self.step += 1
            self.position += 1
            stop, save_due, nonfinite = any_across(
                self.world,
                [
                    signals.received is not None,
                    config.ckpt_minutes is not None
                    and time.monotonic() - self.last_save >= 60 * config.ckpt_minutes,
                    not math.isfinite(loss_value),
                ],
                device,
            )
            if nonfinite:
                raise ScenelabError(
                    f"the loss became {loss_value} at step {self.step} (epoch {epoch + 1}, "
                    f"batch {self.position}, lr {lr:.4g}); training stopped and {self.last_path} "
                    "keeps the last good state. Try a lower --lr or --amp off.",
                    exit_code=NONFINITE_LOSS_EXIT,
                )
            if progress is not None:
                progress.update(loss_value, len(labels) * self.world.world_size)
            if stop or save_due:
                self.epoch_elapsed = time.perf_counter() - started
                self._save("last.pt")
            if stop:
                self._stop(signals.received or signal.SIGTERM, epoch)
        if progress is not None:
            progress.close()
        return started

    def _stop(self, signum: int, epoch: int) -> None:
        raise ScenelabError(
            f"stopped by {signal.Signals(signum).name} after step {self.step} "
            f"(epoch {epoch + 1}, batch {self.position}); {self.last_path} holds that state. "
            f"Continue with: scenelab train --resume {self.run_dir}",
            exit_code=128 + signum,
        )

    def _finish_epoch(self, epoch: int, started: float) -> None:
        train_time = time.perf_counter() - started
        train = self.totals.across(self.world, self.device)
        val = evaluate(
            self.model,
            self.val_loader,
            self.device,
            self.autocast,
            self.dtype,
            self.config.channels_last,
        ).across(self.world, self.device)
        skipped = sum_across(self.world, [self.train_set.skipped_images], self.device)[0]
        row = {
            "epoch": epoch + 1,
            "step": self.step,
            "lr": self.optimizer.param_groups[0]["lr"],
            **train.as_metrics("train"),
            **val.as_metrics("val"),
            "epoch_time_s": time.perf_counter() - started,
            "images_per_s": train.samples / train_time,
            "peak_memory_mib": peak_memory_mib(self.device),
            "skipped_images": round(skipped),
        }
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        if self.robust_validation:
            row.update(self.robust_validation.measure(self.model, self.device))
            self.collapse = collapse_reason([*self.metrics, row], self.config.num_classes)
            row["adv_collapsed"] = int(self.collapse is not None)
        self.metrics.append(row)
        self.epoch, self.position = epoch + 1, 0
        self.totals, self.epoch_elapsed = Totals(), 0.0
        # With --adv, best.pt is the most robust epoch (scenelab.attacks.adversarial).
        score = row["val_robust_top1" if self.adversary else "val_top1"]
        is_best = score > self.best_top1
        self.best_top1 = max(self.best_top1, score)
        if self.world.is_main:
            write_metrics_csv(self.run_dir / "metrics.csv", self.metrics)
            self.tensorboard.add_epoch(row)
            last_epoch = self.epoch == self.config.epochs or self.collapse is not None
            if last_epoch or time.monotonic() - self.last_plot >= PLOT_INTERVAL_S:
                self._plot()
            print(format_epoch(row, self.config.epochs), flush=True)
            if self.collapse:
                print(
                    f"catastrophic overfitting at epoch {self.epoch}: {self.collapse}; training "
                    f"stopped, {terminal(str(self.run_dir / CHECKPOINT_DIR / 'best.pt'))} holds "
                    "the most robust epoch",
                    flush=True,
                )
        # last.pt is written last: it commits the epoch, so that a run killed before it
        # redoes the epoch and rewrites the logs and best.pt exactly as they were.
        self._save(*(["best.pt"] if is_best else []), "last.pt")

    def _plot(self) -> None:
        self.last_plot = time.monotonic()
        folder = self.run_dir / "plots"
        title = f"{self.config.model} on {Path(self.config.data).name}"
        plots.plot_accuracy_curves(self.metrics, 1, folder / "top1.png", title)
        plots.plot_accuracy_curves(self.metrics, 5, folder / "top5.png", title)
        plots.plot_loss_curves(self.metrics, folder / "loss.png", title)
        if self.adversary:
            plots.plot_robust_accuracy(self.metrics, folder / "robust.png", title)
        total = self.schedule.total_steps
        lrs = [
            warmup_cosine_lr(step, self.schedule.base_lr, self.schedule.warmup_steps, total)
            for step in range(total)
        ]
        epochs = [(step + 1) / self.steps_per_epoch for step in range(total)]
        plots.plot_lr_schedule(epochs, lrs, self.config.warmup_epochs, folder / "lr.png", title)


def format_epoch(row: dict[str, Any], epochs: int) -> str:
    return (
        f"epoch {row['epoch']}/{epochs}  train loss {row['train_loss']:.4f} "
        f"top-1 {row['train_top1']:.2f}%  val loss {row['val_loss']:.4f} "
        f"top-1 {row['val_top1']:.2f}% top-5 {row['val_top5']:.2f}%  lr {row['lr']:.4g}  "
        f"{row['epoch_time_s']:.1f} s  {row['images_per_s']:.0f} images/s"
    ) + (f"  robust top-1 {row['val_robust_top1']:.2f}%" if "val_robust_top1" in row else "")


def format_table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'epoch':>5} {'lr':>9} {'train loss':>10} {'train top-1':>11} "
        f"{'val loss':>9} {'val top-1':>9} {'val top-5':>9} {'time s':>7} {'images/s':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['epoch']:>5} {row['lr']:>9.3g} {row['train_loss']:>10.4f} "
            f"{row['train_top1']:>10.2f}% {row['val_loss']:>9.4f} {row['val_top1']:>8.2f}% "
            f"{row['val_top5']:>8.2f}% {row['epoch_time_s']:>7.1f} {row['images_per_s']:>8.0f}"
        )
    return "\n".join(lines)
