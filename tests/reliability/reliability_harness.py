"""Run the real ``scenelab`` command line in child processes that a test can kill.

Children are forked from a fork server that has already imported scenelab, torch and
matplotlib, so each start costs milliseconds instead of the ten seconds that
``python -m scenelab`` takes to import on a busy machine. Each child runs exactly what
``python -m scenelab ARGS`` runs (``raise SystemExit(scenelab.cli.main(ARGS))``), with its
stdout and stderr in files, and optionally with *faults* installed first: named
functions of this module that change the child only (a slow disk, a file-size limit).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

CONTEXT = multiprocessing.get_context("forkserver")
WAIT_S = 120.0  # longest any child may take in these tests (a loaded 2-core machine)


def _preload() -> list[str]:
    from scenelab.cli import COMMAND_MODULES

    return [
        "torch",
        "matplotlib.pyplot",
        "torch.utils.tensorboard",
        "scenelab.train.engine",
        *(f"scenelab.cli.{name}" for name in COMMAND_MODULES),
        __name__,
    ]


# --- faults, installed in the child before the command runs ------------------------------


def slow_checkpoint_writes(marker: str, chunks: int = 16, pause_s: float = 0.004) -> None:
    """torch.save into a file writes in ``chunks`` pieces with a pause between them, so
    that a kill lands in the middle of a checkpoint write far more often; the file
    ``marker`` exists while such a write is in progress."""
    import io

    real_save = torch.save

    def write_slowly(data: bytes, file: Any) -> None:
        step = max(1, len(data) // chunks)
        Path(marker).touch()
        try:
            for start in range(0, len(data), step):
                file.write(data[start : start + step])
                file.flush()
                time.sleep(pause_s)
        finally:
            Path(marker).unlink()

    def save(obj: Any, file: Any, *args: Any, **kwargs: Any) -> None:
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        if isinstance(file, (str, os.PathLike)):
            with open(file, "wb") as opened:
                write_slowly(buffer.getvalue(), opened)
        else:
            write_slowly(buffer.getvalue(), file)

    torch.save = save


def file_size_limit_after_saves(saves: int, limit_bytes: int) -> None:
    """After ``saves`` checkpoint files were written, no file may grow past ``limit_bytes``
    (RLIMIT_FSIZE: the kernel fails the write with EFBIG, as a full disk fails it with
    ENOSPC)."""
    from scenelab.train import engine

    real_save = engine.save_checkpoint
    done = 0

    def save(path: Any, state: dict) -> None:
        nonlocal done
        real_save(path, state)
        done += 1
        if done == saves:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error, not a killed process
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    engine.save_checkpoint = save


def slow_steps(pause_s: float) -> None:
    """Each training step takes ``pause_s`` longer (the numbers are unchanged), so that a
    signal sent during training lands mid-run however fast the machine is."""
    from scenelab.train import engine

    real_step = engine.train_step

    def step(*args: Any, **kwargs: Any) -> Any:
        result = real_step(*args, **kwargs)
        time.sleep(pause_s)
        return result

    engine.train_step = step


FAULTS: dict[str, Callable[..., None]] = {
    "slow_checkpoint_writes": slow_checkpoint_writes,
    "slow_steps": slow_steps,
    "file_size_limit_after_saves": file_size_limit_after_saves,
}


def _child_main(
    argv: list[str], out: str, err: str, faults: list[tuple[str, dict]], env: dict[str, str]
) -> None:
    for fd, path in ((1, out), (2, err)):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(descriptor, fd)
        os.close(descriptor)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    os.environ.update(env)
    for name, kwargs in faults:
        FAULTS[name](**kwargs)
    from scenelab.cli import main

    raise SystemExit(main(argv))


# --- the parent's side -------------------------------------------------------------------


@dataclass
class Child:
    """One ``scenelab ARGS`` process; its output accumulates in ``log_dir``."""

    argv: list[str]
    log_dir: Path
    process: Any = field(repr=False)

    @property
    def stdout(self) -> str:
        return (self.log_dir / "stdout.txt").read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return (self.log_dir / "stderr.txt").read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.is_alive()

    def wait(self, timeout: float = WAIT_S) -> int:
        """The exit code (negative: killed by that signal); fails the test on a hang."""
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
            raise AssertionError(f"scenelab {' '.join(self.argv)} hung for {timeout} s")
        return self.process.exitcode

    def send(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, like a machine losing power for this process."""
        self.process.kill()
        self.process.join()


def start(
    argv: Sequence[str],
    log_dir: Path,
    faults: Sequence[tuple[str, dict]] = (),
    env: dict[str, str] | None = None,
) -> Child:
    """Start ``scenelab ARGV`` in a child process; stdout/stderr append to ``log_dir``."""
    CONTEXT.set_forkserver_preload(_preload())  # takes effect when the server starts
    log_dir.mkdir(parents=True, exist_ok=True)
    args = (
        list(argv),
        str(log_dir / "stdout.txt"),
        str(log_dir / "stderr.txt"),
        [(name, dict(kwargs)) for name, kwargs in faults],
        dict(env or {}),
    )
    process = CONTEXT.Process(target=_child_main, args=args, daemon=True)
    process.start()
    return Child(list(argv), log_dir, process)


def run(argv: Sequence[str], log_dir: Path, **kwargs: Any) -> Child:
    """``start`` and wait for the exit; the child is returned with its exit code known."""
    child = start(argv, log_dir, **kwargs)
    child.wait()
    return child


def wait_for(condition: Callable[[], bool], child: Child, timeout: float = WAIT_S) -> bool:
    """Poll ``condition`` every 2 ms; False if the child exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if not child.alive():
            return condition()
        time.sleep(0.002)
    raise AssertionError(f"scenelab {' '.join(child.argv)}: condition not met in {timeout} s")
