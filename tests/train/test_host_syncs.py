"""The training loop reads the device (a host sync on a GPU) once per log interval: every
`Tensor.item`, `int()`, `float()`, `bool()` and `tolist` of a tensor is counted between one
training step and the next, with torch's own methods patched to count."""

from __future__ import annotations

import math

import pytest
import torch

from scenelab.train import engine, logs

READS = ("item", "__int__", "__float__", "__bool__", "tolist")
STEPS_PER_EPOCH = 12  # the tiny dataset's 24 training images, batch 2
EPOCHS = 2


@pytest.fixture
def reads_after_each_step(monkeypatch):
    """``reads[k]``: tensor reads made after training step k+1 and before the next one."""
    reads: list[int] = []
    for name in READS:
        real = getattr(torch.Tensor, name)

        def counted(self, *args, _real=real, **kwargs):
            if reads:
                reads[-1] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    real_step = engine.train_step

    def step(*args, **kwargs):
        result = real_step(*args, **kwargs)
        reads.append(0)
        return result

    monkeypatch.setattr(engine, "train_step", step)
    return reads


def test_one_read_per_log_interval_and_none_between(
    tiny_config, tmp_path, monkeypatch, reads_after_each_step
):
    monkeypatch.setattr(logs, "PLAIN_LOG_FRACTION", 0.25)  # a log line every 3 steps
    every = max(1, round(STEPS_PER_EPOCH * 0.25))
    engine.train(tiny_config(tmp_path / "run", epochs=EPOCHS, batch_size=2, augment="none"))

    reads = reads_after_each_step
    assert len(reads) == EPOCHS * STEPS_PER_EPOCH
    for step, count in enumerate(reads, start=1):
        position = (step - 1) % STEPS_PER_EPOCH + 1
        if position == STEPS_PER_EPOCH:
            continue  # the epoch's end: its metrics, evaluation and checkpoint follow
        assert count == (1 if position % every == 0 else 0), (step, reads)
    intervals = math.ceil(STEPS_PER_EPOCH / every)
    assert sum(reads) <= EPOCHS * (intervals + 8), reads  # at most 8 more at each epoch end


def test_the_stop_and_save_decision_is_shared_once_per_log_interval(
    tiny_config, tmp_path, monkeypatch
):
    """Under DDP that decision is an all_reduce (a host sync): it must not run every step."""
    monkeypatch.setattr(logs, "PLAIN_LOG_FRACTION", 0.25)  # a log line every 3 steps
    every = max(1, round(STEPS_PER_EPOCH * 0.25))
    steps, decided_after = [0], []
    real_step, real_any = engine.train_step, engine.any_across

    def step(*args, **kwargs):
        steps[0] += 1
        return real_step(*args, **kwargs)

    def any_across(*args, **kwargs):
        decided_after.append(steps[0])
        return real_any(*args, **kwargs)

    monkeypatch.setattr(engine, "train_step", step)
    monkeypatch.setattr(engine, "any_across", any_across)
    engine.train(tiny_config(tmp_path / "run", epochs=EPOCHS, batch_size=2, augment="none"))
    positions = [(done - 1) % STEPS_PER_EPOCH + 1 for done in decided_after]
    expected = [p for p in range(1, STEPS_PER_EPOCH + 1) if p % every == 0 or p == STEPS_PER_EPOCH]
    assert positions == expected * EPOCHS
