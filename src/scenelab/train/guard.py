"""What stops a run: SIGINT/SIGTERM (after the current step), and a non-finite step.

The non-finite guard reads nothing per step: each step's loss and gradient norm stay on
the device until `StepGuard.check` reads all of them at once, at the log interval and
before every checkpoint. A run whose guard fails stops with exit code 3 naming the first
bad step; since every save checks first, no state after that step ever reaches a file.
"""

from __future__ import annotations

import math
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from scenelab.errors import ScenelabError
from scenelab.train.distributed import World, any_across

NONFINITE_LOSS_EXIT = 3


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


@dataclass(frozen=True)
class StepPlace:
    """Where a step ran: its number (1-based), epoch and batch (1-based), learning rate."""

    step: int
    epoch: int
    batch: int
    lr: float

    def describe(self) -> str:
        return f"epoch {self.epoch}, batch {self.batch}, lr {self.lr:.4g}"


@dataclass
class StepGuard:
    """The losses and gradient norms (device tensors) of the steps since the last check.

    ``last_good`` is the checkpoint the error message names as holding the last good state.
    """

    last_good: Path
    places: list[StepPlace] = field(default_factory=list)
    losses: list[torch.Tensor] = field(default_factory=list)
    norms: list[torch.Tensor] = field(default_factory=list)

    def record(self, place: StepPlace, loss: torch.Tensor, grad_norm: torch.Tensor | None) -> None:
        """``grad_norm`` None: the step's gradients are not checked (fp16 loss scaling skips
        non-finite steps itself)."""
        self.places.append(place)
        self.losses.append(loss.detach().reshape(()))
        if grad_norm is not None:
            self.norms.append(grad_norm.detach().reshape(()))

    def check(self, world: World, device: torch.device) -> float | None:
        """Read the recorded steps in one transfer and forget them; returns the last loss
        (None if no step was recorded). Raises ScenelabError (exit code 3) at the first
        step whose gradient norm or loss is NaN or inf, in this process or another."""
        stacks = [torch.stack(kept).double() for kept in (self.losses, self.norms) if kept]
        values = torch.cat(stacks).tolist() if stacks else []
        places, count = self.places, len(self.places)
        losses, norms = values[:count], values[count:] or [0.0] * count
        self.places, self.losses, self.norms = [], [], []
        bad = next(
            (i for i in range(count) if not (math.isfinite(losses[i]) and math.isfinite(norms[i]))),
            None,
        )
        if any_across(world, [bad is not None], device)[0]:
            if bad is None:
                raise self._error(
                    "another training process took a non-finite step; training stopped and"
                )
            place, loss, norm = places[bad], losses[bad], norms[bad]
            if not math.isfinite(norm):
                raise self._error(
                    f"non-finite training step {place.step} ({place.describe()}): loss {loss}, "
                    f"gradient norm {norm}; the step was not applied to any saved state, "
                    "training stopped and",
                    "Try a lower --lr, --grad-clip or --amp off.",
                )
            raise self._error(
                f"the loss became {loss} at step {place.step} ({place.describe()}); "
                "training stopped and"
            )
        return losses[-1] if losses else None

    def _error(self, what: str, advice: str = "Try a lower --lr or --amp off.") -> ScenelabError:
        return ScenelabError(
            f"{what} {self.last_good} keeps the last good state. {advice}",
            exit_code=NONFINITE_LOSS_EXIT,
        )


def check_finite_weights(weights: dict[str, torch.Tensor], step: int, last_good: Path) -> None:
    """Refuse to save NaN/inf weights over a good checkpoint (one read for all of them)."""
    finite = torch.stack([value.isfinite().all() for value in weights.values()]).tolist()
    bad = [key for key, ok in zip(weights, finite, strict=True) if not ok]
    if bad:
        raise ScenelabError(
            f"after step {step} the weights hold NaN or inf ({', '.join(bad[:3])}); "
            f"not saved, {last_good} keeps the last good state. Try a lower --lr "
            "or --grad-clip.",
            exit_code=NONFINITE_LOSS_EXIT,
        )
