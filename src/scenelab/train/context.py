"""`RunContext`: what a training loop uses besides its `TrainState`: the resolved config,
this process's place in the world, the module the steps call, the non-finite guard, the
stop signals, the batch mixing, the run's logs, and when it last saved and plotted."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from scenelab.config import ResolvedConfig
from scenelab.errors import ScenelabError
from scenelab.log import log_file
from scenelab.safetext import terminal
from scenelab.train.distributed import World
from scenelab.train.guard import StepGuard, StopSignals
from scenelab.train.logs import TensorBoardLog, format_table, validated
from scenelab.train.schedule import warmup_cosine_lr
from scenelab.train.state import TrainState

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """What the loop uses besides the state: the resolved config, this process's place in
    the world, the module the steps call, the guard, the stop signals, the logs, and when
    it last saved and plotted."""

    config: ResolvedConfig
    world: World
    device: torch.device
    forward_model: nn.Module  # the model, or its DDP / torch.compile wrapper
    guard: StepGuard
    signals: StopSignals
    mixing: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None  # --mixup/--cutmix
    tensorboard: TensorBoardLog | None = None  # on the main process only
    last_save: float = field(default_factory=time.monotonic)
    last_plot: float = field(default_factory=time.monotonic)

    @property
    def folder(self) -> Path:
        return Path(self.config.out)

    @property
    def dtype(self) -> torch.dtype:
        return getattr(torch, self.config.dtype)

    def save_due(self) -> bool:
        minutes = self.config.ckpt_minutes
        return minutes is not None and time.monotonic() - self.last_save >= 60 * minutes

    def stopped(self, signum: int, state: TrainState) -> ScenelabError:
        return ScenelabError(
            f"stopped by {signal.Signals(signum).name} after step {state.step} "
            f"(epoch {state.epoch + 1}, batch {state.position}); {self.guard.last_good} holds "
            f"that state. Continue with: scenelab train --resume {self.folder}",
            exit_code=128 + signum,
        )

    @contextmanager
    def logs(self, state: TrainState, collapse: str | None) -> Iterator[None]:
        """config.yaml, the TensorBoard log and train.log (appended to by a resumed run), on
        the main process, for the block; says so when an adversarial run that collapsed
        (``collapse``: why) has nothing left to do."""
        if not self.world.is_main:
            yield
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        state.stored_config().to_yaml(self.folder / "config.yaml")
        self.tensorboard = TensorBoardLog(self.folder, first_epoch=state.epoch)
        with log_file(self.folder / "train.log"):
            self._say_where(state, collapse)
            yield

    def _say_where(self, state: TrainState, collapse: str | None) -> None:
        where = f"at epoch {state.epoch + 1}, step {state.step + 1}" if state.step else ""
        log.info(
            f"{'resuming' if where else 'training'} {terminal(str(self.folder))} {where}".strip()
        )
        log.debug(f"resolved config: {terminal(str(self.config.to_dict()))}")
        if collapse:
            log.info(
                f"stopped at epoch {state.epoch} on a collapse ({collapse}); nothing to resume"
            )
        if state.extended_from is not None:
            lr = warmup_cosine_lr(
                state.step,
                state.schedule.base_lr,
                state.schedule.warmup_steps,
                state.schedule.total_steps,
            )
            log.info(
                f"extending {terminal(str(self.folder))} from {state.extended_from} to "
                f"{self.config.epochs} epochs: the learning-rate schedule is re-planned for "
                f"{self.config.epochs} epochs and continues at step {state.step + 1} with lr "
                f"{lr:.4g}",
            )

    def close_logs(self, state: TrainState) -> None:
        if self.tensorboard is None:
            return
        if state.history:
            self.tensorboard.add_hparams(self.config.to_dict(), state.history)
        self.tensorboard.close()
        log.info(format_table(state.history))
        best = max(validated(state.history), key=lambda row: row["val_top1"])
        log.info(
            f"best val top-1 {best['val_top1']:.2f}% (epoch {best['epoch']}); "
            f"run folder {terminal(str(self.folder))}",
        )
