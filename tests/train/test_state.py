"""`TrainState` writes everything a checkpoint holds and reads all of it back: weights,
optimizer and scaler state, the schedule, the position, the epoch's sums, the history and
the best metric by name; checkpoints written before "best_metric" existed still read."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from scenelab.config import RunConfig
from scenelab.errors import ScenelabError
from scenelab.train.schedule import WarmupCosineSchedule
from scenelab.train.state import TrainState
from scenelab.train.step import Totals

CLASSES = ["a", "b", "c"]
LAST = Path("run/checkpoints/last.pt")


def parts(seed: int, total_steps: int, adv: str = "none") -> dict:
    """A freshly built model, SGD, scaler and schedule: what `train` hands TrainState."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    return dict(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        scaler=torch.amp.GradScaler("cpu", enabled=False),
        schedule=WarmupCosineSchedule(0.1, 1e-4, 2, total_steps),
        config=RunConfig(adv=adv),
        classes=list(CLASSES),
        world_size=1,
        totals=Totals(torch.device("cpu")),
    )


def trained_state() -> TrainState:
    state = TrainState(**parts(seed=0, total_steps=30))
    images, labels = torch.rand(4, 3, 2, 2), torch.tensor([0, 1, 2, 1])
    loss = nn.functional.cross_entropy(state.model(images), labels)
    loss.backward()
    state.optimizer.step()  # momentum buffers now exist
    state.totals.add(loss.detach(), state.model(images).detach(), labels)
    state.epoch, state.step, state.position, state.epoch_elapsed = 2, 7, 1, 3.5
    state.history, state.best = [{"epoch": 1, "val_top1": 40.0}], 40.0
    return state


def test_a_checkpoint_restores_every_part_into_freshly_built_ones():
    saved = trained_state()
    checkpoint = saved.to_checkpoint()
    assert checkpoint["config"]["num_classes"] == 3  # from the data, for load_model
    assert checkpoint["best_metric"] == "val_top1"

    restored = TrainState.from_checkpoint(checkpoint, LAST, **parts(seed=1, total_steps=99))
    for key, value in saved.model.state_dict().items():
        assert torch.equal(restored.model.state_dict()[key], value), key
    for before, after in zip(
        saved.optimizer.state.values(), restored.optimizer.state.values(), strict=True
    ):
        assert torch.equal(before["momentum_buffer"], after["momentum_buffer"])
    assert restored.schedule == saved.schedule  # the schedule the run ran, not the new one
    assert (restored.epoch, restored.step, restored.position) == (2, 7, 1)
    assert restored.epoch_elapsed == 3.5 and restored.best == 40.0
    assert restored.history == saved.history
    assert restored.totals.read() == saved.totals.read()
    assert restored.rng is not None  # restored into the generators by the loop


def test_an_older_checkpoint_without_best_metric_reads_as_its_config_says():
    checkpoint = trained_state().to_checkpoint()
    del checkpoint["best_metric"]
    restored = TrainState.from_checkpoint(checkpoint, LAST, **parts(1, 30, adv="pgd"))
    assert restored.best_metric == "val_robust_top1"


def test_a_changed_dataset_is_refused():
    checkpoint = trained_state().to_checkpoint()
    checkpoint["classes"] = ["a", "b", "d"]
    with pytest.raises(ScenelabError, match=r"the dataset changed: .*class 2 is 'd'"):
        TrainState.from_checkpoint(checkpoint, LAST, **parts(1, 30))
