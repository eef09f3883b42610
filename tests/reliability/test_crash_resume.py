"""Crash safety: a run killed with SIGKILL at any moment, even in the middle of writing a
checkpoint, leaves a checkpoint that loads, and `scenelab train --resume RUN` then ends
bit for bit where the uninterrupted run ends."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
import reliability_harness as harness
from reliability_runs import assert_same_run, load, train_args

from scenelab import checkpoint
from scenelab.checkpoint import load_checkpoint, save_checkpoint
from scenelab.train.runfolder import has_checkpoint

SAVE_EVERY_STEP = ["--ckpt-minutes", "1e-6"]


def temporaries(run: Path) -> list[Path]:
    folder = run / "checkpoints"
    return sorted(folder.glob(".*.tmp")) if folder.is_dir() else []


def checked_step(run: Path) -> int | None:
    """Every checkpoint file present is complete (torch.load with weights_only reads it
    whole); returns the step last.pt holds, None before the first checkpoint."""
    folder = run / "checkpoints"
    files = sorted(folder.glob("*.pt")) + sorted(folder.glob("*.pt.prev"))
    states = {path.name: load(path) for path in files}  # raises if any is half-written
    if not has_checkpoint(run):
        return None
    assert "last.pt" in states, "last.pt must never go missing once written"
    return load_checkpoint(folder / "last.pt")["step"]


def crash_many_times(first: list[str], run: Path, kills: int, seed: int) -> int:
    """Start ``scenelab FIRST`` (a training run into ``run``), SIGKILL it ``kills`` times
    (alternately in the middle of a checkpoint write and at a random moment), resuming
    after each kill, then let it finish. Returns how many kills interrupted a write."""
    rng = random.Random(seed)
    first = first + SAVE_EVERY_STEP
    resume = ["train", "--resume", str(run)]
    steps, interrupted_writes = [0], 0
    writing = run.parent / "writing"  # exists while the child writes a checkpoint
    faults = [("slow_checkpoint_writes", {"marker": str(writing)})]
    for attempt in range(kills):
        # A run killed before it wrote config.yaml is simply started again.
        argv = resume if (run / "config.yaml").is_file() else first
        child = harness.start(argv, run.parent / f"logs{attempt}", faults=faults)
        if attempt % 2 == 0:
            harness.wait_for(writing.exists, child)
            time.sleep(rng.uniform(0.0, 0.04))
        else:
            time.sleep(rng.uniform(0.1, 1.5))
        if not child.alive():
            break
        child.kill()
        interrupted_writes += writing.exists()
        writing.unlink(missing_ok=True)
        step = checked_step(run)
        if step is not None:
            assert step >= steps[-1], "a checkpoint went back in time"
            steps.append(step)
    final = harness.run(resume, run.parent / "final")
    assert final.process.exitcode == 0, final.stderr
    assert "Traceback" not in final.stderr
    assert not temporaries(run), "the files of killed writes are cleaned up"
    return interrupted_writes


def test_killed_at_random_moments_resumes_bit_exact(tiny_data, reference_run, tmp_path):
    seed = int.from_bytes(os.urandom(2), "little")
    print(f"seed {seed}")
    run = tmp_path / "run"
    interrupted_writes = crash_many_times(train_args(tiny_data, run), run, kills=4, seed=seed)
    assert interrupted_writes >= 1, "no kill landed in a checkpoint write"
    assert_same_run(tmp_path / "run", reference_run)


def test_killed_before_its_first_checkpoint_resume_starts_over(tiny_data, reference_run, tmp_path):
    run = tmp_path / "run"
    child = harness.start(train_args(tiny_data, run), tmp_path / "logs")
    harness.wait_for((run / "config.yaml").is_file, child)
    child.kill()
    assert not has_checkpoint(run)  # epoch 1 takes far longer than this
    resumed = harness.run(["train", "--resume", str(run)], tmp_path / "resumed")
    assert resumed.process.exitcode == 0, resumed.stderr
    assert "stopped before its first checkpoint; starting it from the beginning" in resumed.stdout
    assert_same_run(run, reference_run)


def digits_args(out: Path) -> list[str]:
    """The same recipe on the built-in digits at their own 32x32: 23 steps per epoch."""
    argv = train_args("digits", out, epochs=2, batch_size=64)
    argv[argv.index("--image-size") + 1] = "32"
    return argv


@pytest.mark.slow
def test_digits_killed_many_times_resumes_bit_exact(tmp_path):
    reference, run = tmp_path / "reference", tmp_path / "run"
    child = harness.run(digits_args(reference), tmp_path / "reference-logs")
    assert child.process.exitcode == 0, child.stderr
    seed = int.from_bytes(os.urandom(2), "little")
    print(f"seed {seed}")
    interrupted_writes = crash_many_times(digits_args(run), run, kills=16, seed=seed)
    assert interrupted_writes >= 4
    assert_same_run(run, reference)


class Crash(BaseException):
    """Stands for the process dying at this very instruction."""


@pytest.mark.parametrize("crash_at", range(8))
def test_a_crash_at_any_point_of_a_save_leaves_a_loadable_last_pt(tmp_path, monkeypatch, crash_at):
    """Every file-system call of save_checkpoint in turn is where the process dies."""
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, {"model": {}, "step": 1})
    save_checkpoint(path, {"model": {}, "step": 2})
    calls = 0

    def dying(real):
        def call(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == crash_at + 1:
                raise Crash
            return real(*args, **kwargs)

        return call

    for name in ("replace", "link", "fsync", "unlink"):
        monkeypatch.setattr(checkpoint.os, name, dying(getattr(os, name)))
    monkeypatch.setattr(checkpoint.torch, "save", dying(checkpoint.torch.save))
    try:
        save_checkpoint(path, {"model": {}, "step": 3})
        crashed = False
    except Crash:
        crashed = True
    monkeypatch.undo()
    if not crashed:
        assert calls < crash_at + 1  # the save made fewer calls than this crash point
        assert load(path)["step"] == 3
        return
    assert path.is_file(), "last.pt must exist at every instant"
    assert load(path)["step"] in (2, 3)  # the old or the new state, whole
    assert load_checkpoint(path)["step"] in (2, 3)
    assert load(path.with_name("last.pt.prev"))["step"] in (1, 2)
