"""Two gloo processes under torchrun against one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from scenelab.checkpoint import load_checkpoint
from scenelab.train.engine import train

# Gradients are averaged in a different order (all-reduce of two half-batch means versus
# one full-batch mean), so weights and losses agree to float32 rounding, not bit for bit;
# counts (accuracies) are exact.
WEIGHT_ATOL = 1e-6
LOSS_RTOL = 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("accum_steps", [1, 2])
def test_two_processes_match_one_with_the_same_global_batch(tiny_config, tmp_path, accum_steps):
    """With --accum-steps 2 the ranks all-reduce once per group (DDP's no_sync before):
    still the one-process run's weights."""
    config = tiny_config(tmp_path / "one", lr=0.05, deterministic=False, accum_steps=accum_steps)
    train(config)
    flags = [
        "--accum-steps", str(accum_steps),
        "--data", config.data, "--model", config.model, "--epochs", str(config.epochs),
        "--batch-size", str(config.batch_size), "--image-size", str(config.image_size),
        "--augment", config.augment, "--workers", "0", "--amp", "off", "--threads", "1",
        "--lr", str(config.lr), "--out", str(tmp_path / "two"),
    ]  # fmt: skip
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    subprocess.run(
        [*launcher, "--nproc_per_node", "2", "-m", "scenelab", "train", *flags],
        check=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    one = load_checkpoint(tmp_path / "one" / "checkpoints" / "last.pt")
    two = load_checkpoint(tmp_path / "two" / "checkpoints" / "last.pt")
    for key, value in one["model"].items():
        torch.testing.assert_close(two["model"][key], value, rtol=0, atol=WEIGHT_ATOL)
    assert len(one["metrics"]) == len(two["metrics"]) == config.epochs
    for row_one, row_two in zip(one["metrics"], two["metrics"], strict=True):
        for column in ("train_top1", "train_top5", "val_top1", "val_top5", "step"):
            assert row_two[column] == row_one[column], column
        for column in ("train_loss", "val_loss"):
            assert row_two[column] == pytest.approx(row_one[column], rel=LOSS_RTOL), column
