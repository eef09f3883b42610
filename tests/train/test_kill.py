"""A training process killed with SIGKILL (no chance to save) at a random moment, then
resumed from the command line, ends with the weights of a run never stopped."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest
import torch

from scenelab.checkpoint import load_checkpoint


def cli_flags(config) -> list[str]:
    """The command line that gives ``config`` (the tiny one) once resolved."""
    return [
        "--data", config.data, "--model", config.model, "--epochs", str(config.epochs),
        "--batch-size", str(config.batch_size), "--image-size", str(config.image_size),
        "--augment", config.augment, "--workers", str(config.workers), "--amp", config.amp,
        "--threads", str(config.threads), "--deterministic", "--out", config.out,
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_at_a_random_moment_then_resume_is_bit_exact(
    tiny_config, uninterrupted, tmp_path, seed
):
    run = tmp_path / "killed"
    command = [sys.executable, "-m", "scenelab", "train"]
    flags = cli_flags(tiny_config(run))
    process = subprocess.Popen([*command, *flags, "--ckpt-minutes", "0.0001"])
    last = run / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 300
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(random.Random(seed).uniform(0.0, 1.5))  # somewhere in the first epochs
    process.kill()
    process.wait()
    if process.returncode == 0:
        pytest.skip("the run finished before it was killed; nothing to resume")
    stopped_at = load_checkpoint(last)["step"]

    subprocess.run([*command, "--resume", str(run)], check=True, timeout=600)
    resumed = load_checkpoint(last)
    # A kill after the last checkpoint but before the exit leaves nothing to redo.
    assert resumed["step"] == uninterrupted["step"] >= stopped_at
    for key, value in uninterrupted["model"].items():
        assert torch.equal(resumed["model"][key], value), key
