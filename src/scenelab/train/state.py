"""`TrainState`: everything a training checkpoint holds, written by `to_checkpoint` and
read back by `from_checkpoint`.

A checkpoint is a plain dict (scenelab.checkpoint): "model", "optimizer", "scheduler",
"grad_scaler" (state dicts), "epoch" (finished epochs), "position" (batches done in the
epoch in progress), "step", "epoch_totals" (that epoch's sums so far), "epoch_elapsed",
"world_size", "rng" (every generator), "config" (the resolved run config, with
"num_classes"), "classes", "metrics" (one row per finished epoch), "best_metric" (the
metrics column best.pt maximises: val_top1, or val_robust_top1 under --adv), "best_top1"
(its best value so far; the name predates --adv) and, with --ema, "ema" (the
AveragedModel's state dict: "n_averaged" and "module.*"). Checkpoints written before
"best_metric" existed read as the run's config says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from scenelab.checkpoint import checkpoint_classes, describe_class_mismatch
from scenelab.config import RunConfig
from scenelab.errors import ScenelabError
from scenelab.train.rng import capture_rng_state, restore_rng_state
from scenelab.train.schedule import WarmupCosineSchedule
from scenelab.train.step import Totals
from scenelab.weights import load_weights


def best_metric_of(config: RunConfig) -> str:
    """With --adv, best.pt is the most robust epoch (scenelab.attacks.adversarial)."""
    return "val_top1" if config.adv == "none" else "val_robust_top1"


@dataclass
class TrainState:
    """A run's model, optimiser, loss scaler and schedule, and where it is: ``epoch``
    finished epochs, ``position`` batches into the next, ``step`` optimizer steps."""

    model: nn.Module  # the bare module, not its DDP or compiled wrapper
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    schedule: WarmupCosineSchedule
    config: RunConfig  # resolved
    classes: list[str]  # from the data; the stored config's num_classes is their number
    world_size: int
    totals: Totals  # the sums of the epoch in progress
    ema: AveragedModel | None = None  # --ema: the averaged weights
    epoch: int = 0
    step: int = 0
    position: int = 0
    epoch_elapsed: float = 0.0  # seconds the epoch in progress trained before a stop
    history: list[dict[str, Any]] = field(default_factory=list)
    best: float = -math.inf
    best_metric: str = ""  # "" -> best_metric_of(config)
    rng: dict[str, Any] | None = None  # generator state read back, not yet restored
    extended_from: int | None = None  # the epochs a resumed run had, when it now has more

    def __post_init__(self) -> None:
        self.best_metric = self.best_metric or best_metric_of(self.config)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def stored_config(self) -> RunConfig:
        """The config as config.yaml and the checkpoint store it: with num_classes."""
        return self.config.replace(num_classes=self.num_classes)

    def finish_epoch(self, row: dict[str, Any]) -> bool:
        """Record a finished epoch's metrics row; True if it is the best so far."""
        self.history.append(row)
        self.epoch, self.position, self.epoch_elapsed = row["epoch"], 0, 0.0
        self.totals = Totals(self.totals.loss_sum.device)
        is_best = row[self.best_metric] > self.best  # False for NaN: not validated
        if is_best:
            self.best = row[self.best_metric]
        return is_best

    def restore_rng(self) -> None:
        """Put back the generators' state read from the checkpoint, once."""
        if self.rng is not None:
            restore_rng_state(self.rng)
            self.rng = None

    def to_checkpoint(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "grad_scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "position": self.position,
            "step": self.step,
            "epoch_totals": self.totals.read(),
            "epoch_elapsed": self.epoch_elapsed,
            "world_size": self.world_size,
            "rng": capture_rng_state(),
            "config": self.stored_config().to_dict(),
            "classes": self.classes,
            "metrics": self.history,
            "best_metric": self.best_metric,
            "best_top1": self.best,
            **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
        }

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any], path: Path, **parts: Any) -> TrainState:
        """The state ``checkpoint`` (read from ``path``, a run's last.pt) holds, loaded into
        the freshly built ``parts`` (TrainState's fields up to ``totals``). Refused when the
        dataset's classes are no longer the run's, or when a run stopped mid-epoch resumes
        with another number of processes. A run given more epochs than it was planned for
        keeps the schedule built for them: the warm-up and cosine of the new length, from
        the step it stopped at on."""
        state = cls(**parts)
        trained_on = checkpoint_classes(checkpoint)
        if trained_on != state.classes:
            raise ScenelabError(
                f"--resume {path.parent.parent}: the dataset changed: "
                f"{describe_class_mismatch(trained_on, state.classes, 'the run')}; train a new "
                "run (another --out) on the new classes"
            )
        if checkpoint["position"] and checkpoint["world_size"] != state.world_size:
            raise ScenelabError(
                f"{path} stopped mid-epoch with {checkpoint['world_size']} processes; "
                f"resume it with the same number (not {state.world_size})"
            )
        load_weights(
            state.model,
            checkpoint["model"],
            f"{path}: its weights do not fit the run's model ({state.config.model}, "
            f"{state.num_classes} classes)",
        )
        state.optimizer.load_state_dict(checkpoint["optimizer"])
        state.scaler.load_state_dict(checkpoint["grad_scaler"])
        planned = checkpoint["config"].get("epochs")
        if planned is not None and planned < state.config.epochs:
            state.extended_from = planned  # the schedule just built, for the new length
        else:
            state.schedule.load_state_dict(checkpoint["scheduler"])
        state.epoch, state.step = checkpoint["epoch"], checkpoint["step"]
        state.position, state.epoch_elapsed = checkpoint["position"], checkpoint["epoch_elapsed"]
        state.totals = Totals(state.totals.loss_sum.device, **checkpoint["epoch_totals"])
        state.history, state.best = checkpoint["metrics"], checkpoint["best_top1"]
        state.best_metric = checkpoint.get("best_metric", state.best_metric)
        state.rng = checkpoint["rng"]
        if state.ema is not None:
            if "ema" not in checkpoint:
                raise ScenelabError(f"{path} holds no --ema weights to continue averaging")
            state.ema.load_state_dict(checkpoint["ema"])
        return state
