"""The training recipe: `train` builds the data, the model, the optimiser and the
schedule, restores a stopped run, then for each epoch trains (`train_one_epoch`),
evaluates, logs and checkpoints. SGD with warm-up and cosine decay, mixed precision,
channels-last, DDP, checkpoints that resume bit for bit.

The pieces live beside it: `build` (data, model placement, optimiser, schedule), `step`
(one step, evaluation, the epoch's sums), `state` (what a checkpoint holds), `guard` (stop
signals, the non-finite guard), `logs` (metrics.csv, TensorBoard, progress, plots).
"""

from __future__ import annotations

import logging
import math
import signal
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scenelab.attacks.adversarial import (
    Adversary,
    RobustValidation,
    build_adversary,
    collapse_reason,
)
from scenelab.checkpoint import CHECKPOINT_DIR, load_checkpoint, save_checkpoint
from scenelab.config import ResolvedConfig, RunConfig, resolve
from scenelab.data import default_image_size
from scenelab.data.spec import dataset_name
from scenelab.device import peak_memory_mib, pick_device
from scenelab.memory import reuse_freed_memory
from scenelab.models import build_model, check_image_size
from scenelab.safetext import terminal
from scenelab.train.build import (
    TrainData,
    build_data,
    build_ema,
    build_mixing,
    build_optimizer,
    build_schedule,
    place_model,
    pretrained_weights,
)
from scenelab.train.context import RunContext
from scenelab.train.distributed import (
    any_across,
    sum_across,
)
from scenelab.train.guard import (
    NONFINITE_LOSS_EXIT,
    StepGuard,
    StepPlace,
    StopSignals,
    check_finite_weights,
)
from scenelab.train.logs import (
    EpochProgress,
    format_epoch,
    log_interval,
    plot_run,
    write_metrics_csv,
)
from scenelab.train.precision import autocast_factory, grad_scaler
from scenelab.train.process import training_process
from scenelab.train.runfolder import has_checkpoint, own_run_folder
from scenelab.train.state import TrainState
from scenelab.train.step import Totals, evaluate, to_model_input, train_step

__all__ = ["NONFINITE_LOSS_EXIT", "to_model_input", "train", "train_one_epoch", "train_step"]

log = logging.getLogger(__name__)

PLOT_INTERVAL_S = 60.0  # redraw plots/*.png at most this often, and after the last epoch
Step = Callable[
    ..., tuple[torch.Tensor, torch.Tensor, Any]
]  # (images, labels, index=, group_size=)


def train(config: RunConfig, *, resume: bool = False) -> list[dict[str, Any]]:
    """Train as ``config`` says (resolved here, once); with ``resume``, continue its run
    folder's last.pt (or start over when the run stopped before its first checkpoint).
    The run owns its folder while it runs (`own_run_folder`) and keeps the memory freed
    tensors give back (`reuse_freed_memory`). Returns the metrics rows, one per epoch.
    Raises ScenelabError for bad input, a non-finite step (exit code 3) or a stop signal
    (exit code 128 + signal number, after saving last.pt)."""
    device = pick_device(config.device)
    config = resolve(config, image_size=default_image_size(config.data))
    check_image_size(config.model, config.image_size)  # before anything is written
    run_dir = Path(config.out)
    with (
        training_process(config, device) as (world, device),
        reuse_freed_memory(),
        own_run_folder(run_dir, world, resume),
    ):
        resuming = resume and has_checkpoint(run_dir)
        data = build_data(config, world)
        model = build_model(
            config.model,
            len(data.classes),
            conv=config.conv,
            pretrained=pretrained_weights(None if resuming else config.pretrained),
        )
        model, forward_model = place_model(model, config, device, world)
        optimizer = build_optimizer(model, config)
        parts = dict(
            model=model,
            optimizer=optimizer,
            scaler=grad_scaler(device, config.amp),
            schedule=build_schedule(config, data.length),
            config=config,
            classes=data.classes,
            world_size=world.world_size,
            totals=Totals(device),
            ema=build_ema(model, config),
        )
        last = run_dir / CHECKPOINT_DIR / "last.pt"
        state = (
            TrainState.from_checkpoint(load_checkpoint(last), last, **parts)
            if resuming
            else TrainState(**parts)
        )
        adversary = build_adversary(config)  # None unless --adv pgd / fgsm-rs
        robust, collapse = robust_validation(adversary, config, data, state)  # --adv only
        autocast = autocast_factory(device, config.amp)
        step = step_function(forward_model, state, config, autocast, adversary)
        mixing = build_mixing(config, state.num_classes)  # None unless --mixup / --cutmix
        signals, guard = StopSignals(), StepGuard(last)
        run = RunContext(config, world, device, forward_model, guard, signals, mixing)
        with run.logs(state, collapse), run.signals:
            for epoch in range(state.epoch, data.length.epochs):
                if collapse:
                    break
                started = train_one_epoch(epoch, state, step, data, run)
                train_seconds = time.perf_counter() - started
                validates = (epoch + 1) % config.val_every == 0 or epoch + 1 == data.length.epochs
                val = validate(model, data, run) if validates else None  # --val-every
                row = epoch_row(epoch, state, val, started, train_seconds, data, run)
                if robust:
                    row.update(robust.measure(model, device))
                    collapse = collapse_reason([*state.history, row], state.num_classes, config.adv)
                    row["adv_collapsed"] = int(collapse is not None)
                is_best = state.finish_epoch(row)
                log_epoch(row, state, data, run, collapse)
                # last.pt is written last: it commits the epoch, so that a run killed before it
                # redoes the epoch and rewrites the logs and best.pt exactly as they were.
                save(state, run, *(["best.pt"] if is_best else []), "last.pt")
            run.close_logs(state)
        return state.history


def train_one_epoch(
    epoch: int, state: TrainState, step: Step, data: TrainData, run: RunContext
) -> float:
    """Train the rest of ``epoch`` (from ``state.position``), or up to --max-steps; returns
    when it started (perf_counter, earlier by the time a stopped run had spent in it). With
    --accum-steps K, every K batches make one optimizer step. Reads the loss and the guard
    once per `log_interval` (a whole number of steps), and then saves last.pt if a stop
    signal came (then stops) or --ckpt-minutes passed."""
    config, device, world, length = run.config, run.device, run.world, data.length
    data.sampler.set_epoch(epoch, start=state.position * data.local_batch)
    # Checkpoints hold the generators' state as of their step: at an epoch boundary
    # that is before the loader starts, in mid-epoch after it started.
    if state.position == 0:
        state.restore_rng()
    batches = iter(data.train_loader)
    state.restore_rng()
    progress = (
        EpochProgress(epoch, length.epochs, length.batches_per_epoch, state.position)
        if world.is_main
        else None
    )
    accum = config.accum_steps
    every = accum * log_interval(length.steps_per_epoch)
    started = time.perf_counter() - state.epoch_elapsed
    run.forward_model.train()
    for images, labels in batches:
        index = state.position % accum  # groups start at the epoch's start; so do resumes
        group_size = min(accum, length.batches_per_epoch - state.position + index)
        if index == 0:
            lr = state.schedule.apply(state.optimizer, state.step)
            place = StepPlace(state.step + 1, epoch + 1, state.position + 1, lr)
        labels = labels.to(device, non_blocking=True)
        inputs = to_model_input(images, device, run.dtype, config.channels_last)
        inputs, targets = run.mixing(inputs, labels) if run.mixing else (inputs, labels)
        loss, logits, grad_norm = step(inputs, targets, index=index, group_size=group_size)
        state.totals.add(loss, logits, labels)
        state.position += 1
        if progress is not None:
            progress.advance(len(labels) * world.world_size)
        if index < group_size - 1:
            continue  # the optimizer steps after the group's last batch
        run.guard.record(place, loss, grad_norm)
        if state.ema is not None:
            state.ema.update_parameters(state.model)
        state.step += 1
        limit_reached = state.step == length.total_steps  # --max-steps
        epoch_ends = limit_reached or state.position == length.batches_per_epoch
        if state.position % every and not epoch_ends:
            continue
        last_loss = run.guard.check(world, device)
        if progress is not None and last_loss is not None:
            progress.show(last_loss)
        # Under DDP every rank takes the same decision: all_reduces once per interval.
        stop, save_due = any_across(
            world, [run.signals.received is not None, run.save_due()], device
        )
        if stop or save_due:
            state.epoch_elapsed = time.perf_counter() - started
            save(state, run, "last.pt")
        if stop:
            raise run.stopped(run.signals.received or signal.SIGTERM, state)
        if limit_reached:
            break
    if progress is not None:
        progress.close()
    return started


def robust_validation(
    adversary: Adversary | None, config: ResolvedConfig, data: TrainData, state: TrainState
) -> tuple[RobustValidation | None, str | None]:
    """With --adv: the robust accuracy measured each epoch, and why a resumed run already
    collapsed (None if it did not); without: (None, None)."""
    if adversary is None:
        return None, None
    robust = RobustValidation(data.val_loader.dataset, config.adv_epsilon, config.seed)
    if not state.history:
        return robust, None
    return robust, collapse_reason(state.history, state.num_classes, config.adv)


def step_function(
    forward_model: nn.Module,
    state: TrainState,
    config: ResolvedConfig,
    autocast: Callable[[], AbstractContextManager],
    adversary: Adversary | None,
) -> Step:
    """`train_step` with everything but the batch bound: ``step(images, labels)``."""
    return partial(
        train_step,
        forward_model,
        loss_fn=nn.CrossEntropyLoss(label_smoothing=config.label_smoothing),
        optimizer=state.optimizer,
        scaler=state.scaler,
        autocast=autocast,
        make_inputs=partial(adversary, state.model) if adversary else None,
        grad_clip=config.grad_clip,
    )


def epoch_row(
    epoch: int,
    state: TrainState,
    val: Totals | None,
    started: float,
    train_seconds: float,
    data: TrainData,
    run: RunContext,
) -> dict[str, Any]:
    """The metrics row of a finished epoch, over every process (columns: logs.METRIC_COLUMNS);
    ``val`` None: not validated (--val-every), its val columns NaN."""
    world, device = run.world, run.device
    skipped = sum_across(world, [data.train_set.skipped_images], device)[0]
    ema = {}
    if state.ema is not None:
        averaged = validate(state.ema.module, data, run) if val is not None else None
        ema = val_metrics(averaged, "val_ema", run)
    row = {
        "epoch": epoch + 1,
        "step": state.step,
        "lr": state.optimizer.param_groups[0]["lr"],
        **state.totals.metrics("train", world, device),
        **val_metrics(val, "val", run),
        "epoch_time_s": time.perf_counter() - started,
        "images_per_s": state.totals.samples * world.world_size / train_seconds,
        "peak_memory_mib": peak_memory_mib(device),
        "skipped_images": round(skipped),
        **ema,
    }
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    return row


def validate(model: nn.Module, data: TrainData, run: RunContext) -> Totals:
    return evaluate(model, data.val_loader, run.device, run.dtype, run.config.channels_last)


def val_metrics(val: Totals | None, prefix: str, run: RunContext) -> dict[str, float]:
    """``val``'s loss, top-1 and top-5 over every process; NaN for an epoch not validated."""
    if val is None:
        return {f"{prefix}_{name}": math.nan for name in ("loss", "top1", "top5")}
    return val.metrics(prefix, run.world, run.device)


def log_epoch(
    row: dict[str, Any], state: TrainState, data: TrainData, run: RunContext, collapse: str | None
) -> None:
    """metrics.csv, TensorBoard, the plots (at most every PLOT_INTERVAL_S, and after the
    last epoch) and the epoch's line, on the main process."""
    if not run.world.is_main:
        return
    config = run.config
    write_metrics_csv(run.folder / "metrics.csv", state.history)
    run.tensorboard.add_epoch(row)
    if (
        state.epoch == data.length.epochs
        or collapse is not None
        or time.monotonic() - run.last_plot >= PLOT_INTERVAL_S
    ):
        run.last_plot = time.monotonic()
        title = f"{config.model} on {dataset_name(config.data)}"
        plot_run(
            state.history,
            state.schedule,
            data.length.steps_per_epoch,
            config.warmup_epochs,
            run.folder / "plots",
            title,
        )
    log.info(format_epoch(row, data.length.epochs))
    if collapse:
        log.info(
            f"catastrophic overfitting at epoch {state.epoch}: {collapse}; training "
            f"stopped, {terminal(str(run.folder / CHECKPOINT_DIR / 'best.pt'))} holds "
            "the most robust epoch",
        )


def save(state: TrainState, run: RunContext, *names: str) -> None:
    """Write ``names`` (in checkpoints/) from ``state``: never after a non-finite step
    (the guard is checked first, on every process) nor with NaN/inf weights."""
    run.last_save = time.monotonic()
    run.guard.check(run.world, run.device)
    if not run.world.is_main:
        return
    checkpoint = state.to_checkpoint()
    check_finite_weights(checkpoint["model"], state.step, run.guard.last_good)
    for name in names:
        save_checkpoint(run.folder / CHECKPOINT_DIR / name, checkpoint)
    log.debug(f"saved {', '.join(names)} at step {state.step} (epoch {state.epoch + 1})")
