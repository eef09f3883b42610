"""`scenelab train --out RUN` never writes over what RUN already holds: a folder with any
file of a run is refused unless --resume, and every byte in it stays as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from scenelab.cli import main

# What a run writes; each one alone makes a folder a run's.
RUN_FILES = (
    "config.yaml",
    "metrics.csv",
    "checkpoints/best.pt",
    "checkpoints/last.pt.prev",
    "events.out.tfevents.1700000000.host.1.0",
    "plots/top1.png",
)


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256 (hashlib as the reference)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def train_argv(data: Path, run: Path, *extra: str) -> list[str]:
    return [
        *("train", "--data", str(data), "--model", "simplenet", "--epochs", "1"),
        *("--batch-size", "8", "--image-size", "16", "--workers", "0", "--threads", "1"),
        *("--amp", "off", "--device", "cpu", "--out", str(run), *extra),
    ]


@pytest.mark.parametrize("name", RUN_FILES)
def test_a_folder_with_a_file_of_a_run_is_refused_and_kept(tiny_dataset, tmp_path, capsys, name):
    run = tmp_path / "run"
    (run / name).parent.mkdir(parents=True, exist_ok=True)
    (run / name).write_bytes(b"the user's own " + name.encode())
    (run / "notes.txt").write_text("mine too")
    before = tree_digest(run)
    assert main(train_argv(tiny_dataset, run)) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"scenelab: error: {run} already holds files of a run ({run / name}")
    assert f"--resume {run}" in error and "another --out" in error
    assert tree_digest(run) == before


def test_an_empty_folder_is_used(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert main(train_argv(tiny_dataset, run)) == 0
    assert (run / "checkpoints" / "last.pt").is_file()


def test_resume_of_a_run_stopped_before_its_first_checkpoint_starts_it_over(
    tiny_dataset, tmp_path, capsys
):
    """Its own config.yaml (and whatever it wrote before the checkpoint) is the run's."""
    run = tmp_path / "run"
    assert main(train_argv(tiny_dataset, run)) == 0
    for path in (run / "checkpoints").iterdir():
        path.unlink()
    assert main(["train", "--resume", str(run)]) == 0
    assert "stopped before its first checkpoint" in capsys.readouterr().out
    assert (run / "checkpoints" / "last.pt").is_file()
