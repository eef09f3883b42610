"""A disk that fills up while a checkpoint is written: a clear error, and the previous
checkpoint stays intact and loadable."""

from __future__ import annotations

import errno

import reliability_harness as harness
from reliability_runs import load, train_args

from scenelab import checkpoint
from scenelab.checkpoint import load_checkpoint
from scenelab.cli import main
from scenelab.train import engine

EPOCH_1_STEPS = 6  # 24 images in batches of 4


def assert_epoch_1_kept(run) -> None:
    folder = run / "checkpoints"
    assert load(folder / "last.pt")["epoch"] == 1  # the file itself, not a fallback
    state = load_checkpoint(run)
    assert (state["epoch"], state["step"]) == (1, EPOCH_1_STEPS)
    assert not list(folder.glob(".*.tmp")), "the failed write left its temporary file"


def test_file_size_limit_hit_by_the_kernel(tiny_data, tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse the write (EFBIG) as a full disk does (ENOSPC)."""
    run = tmp_path / "run"
    child = harness.run(
        train_args(tiny_data, run),
        tmp_path / "logs",
        # Epoch 1 writes best.pt and last.pt; after that no file may pass 64 KiB.
        faults=[("file_size_limit_after_saves", {"saves": 2, "limit_bytes": 64 << 10})],
    )
    assert child.process.exitcode == 2, child.stderr
    message = child.stderr
    assert "Traceback" not in message
    assert "scenelab: error: cannot write checkpoint" in message and "File too large" in message
    assert "still holds the previous checkpoint" in message
    assert_epoch_1_kept(run)


def test_no_space_left_during_a_checkpoint_write(tiny_data, tmp_path, monkeypatch, capsys):
    real_save = checkpoint.torch.save
    saves = 0

    def filling_disk(state, file):
        nonlocal saves
        saves += 1
        if saves <= 2:  # epoch 1: best.pt and last.pt
            return real_save(state, file)
        file.write(b"\0" * 4096)  # part of it made it to disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", filling_disk)
    run = tmp_path / "run"
    assert main(train_args(tiny_data, run)) == 2
    message = capsys.readouterr().err
    assert "No space left on device" in message and "Traceback" not in message
    assert_epoch_1_kept(run)


def test_no_space_left_for_the_logs(tiny_data, tmp_path, monkeypatch, capsys):
    """Any other write that fails is reported as what it is, exit code 1; epoch 2 was not
    committed to last.pt, so a resume redoes it."""
    real_write = engine.write_metrics_csv
    writes = 0

    def filling_disk(path, rows):
        nonlocal writes
        writes += 1
        if writes == 1:
            return real_write(path, rows)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(engine, "write_metrics_csv", filling_disk)
    run = tmp_path / "run"
    assert main(train_args(tiny_data, run)) == 1
    message = capsys.readouterr().err
    assert message.startswith("scenelab: error: [Errno 28] No space left on device")
    assert "metrics.csv" in message and "Traceback" not in message
    assert_epoch_1_kept(run)
