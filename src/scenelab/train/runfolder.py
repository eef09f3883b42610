"""Who owns a run folder: one process at a time, and only a run that may continue there.

A training run holds an exclusive OS lock on RUN/.lock for its whole life (`flock` on
POSIX, `msvcrt.locking` elsewhere). The operating system drops the lock when the process
ends however it ends, so a killed run never leaves a stale one; the file holds the
holder's PID and host only for the message a second process gets. A new run (no
--resume) is refused in a folder that holds any file a run writes, so that nothing a user
made there is ever written over.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from scenelab.checkpoint import CHECKPOINT_DIR, PREVIOUS_SUFFIX
from scenelab.errors import ScenelabError
from scenelab.train.distributed import World, broadcast_object

LOCK_NAME = ".lock"
RUN_FILES = ("config.yaml", "metrics.csv")  # and events.out.tfevents.*, checkpoints/*, plots/*
RUN_FOLDERS = (CHECKPOINT_DIR, "plots")
EVENTS_PREFIX = "events.out.tfevents."
HOLDER_WAIT_S = 1.0  # how long to wait for a new holder to write its PID

if os.name == "posix":
    import fcntl

    def _try_lock(descriptor: int) -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

else:  # Windows: lock one byte far past the PID text, which stays readable
    import msvcrt

    _LOCKED_BYTE = 1 << 20

    def _try_lock(descriptor: int) -> bool:
        os.lseek(descriptor, _LOCKED_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True


def has_checkpoint(run_dir: Path) -> bool:
    """The run wrote last.pt (or its previous copy survives): --resume continues it."""
    last = run_dir / CHECKPOINT_DIR / "last.pt"
    return last.is_file() or last.with_name(last.name + PREVIOUS_SUFFIX).is_file()


def first_run_file(run_dir: Path) -> Path | None:
    """A file in ``run_dir`` that a training run writes (config.yaml, metrics.csv,
    TensorBoard events, anything in checkpoints/ or plots/), or None."""
    for name in RUN_FILES:
        if (run_dir / name).exists():
            return run_dir / name
    if not run_dir.is_dir():
        return None
    events = sorted(run_dir.glob(EVENTS_PREFIX + "*"))
    if events:
        return events[0]
    for name in RUN_FOLDERS:
        folder = run_dir / name
        if folder.is_dir():
            inside = sorted(path for path in folder.rglob("*") if not path.is_dir())
            if inside:
                return inside[0]
    return None


def _holder(path: Path) -> str:
    """'PID 1234' (with the host when it is another one) from the lock file's text."""
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        try:
            words = path.read_text().split()
        except OSError:
            words = []
        if len(words) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.01)  # the holder has the lock and is writing its PID
    if len(words) != 2:
        return "PID unknown"
    pid, host = words
    return f"PID {pid}" if host == socket.gethostname() else f"PID {pid} on {host}"


@contextmanager
def run_folder_lock(run_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``run_dir`` (made if missing) until the block ends;
    raises ScenelabError naming the holder at once if another process holds it.

    On leaving, the lock file is removed while still locked (a process that opened it
    meanwhile sees it is gone and takes a new one), and ``run_dir`` itself if this made
    it and nothing was written there.
    """
    made = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(descriptor):
            os.close(descriptor)
            raise ScenelabError(
                f"{run_dir} is in use by another scenelab process ({_holder(path)}); wait "
                "for it to finish, or choose another --out"
            )
        try:
            if os.path.samestat(os.fstat(descriptor), os.stat(path)):
                break  # the file we locked is still the lock file
        except FileNotFoundError:
            pass
        os.close(descriptor)  # its holder removed it as we opened it: lock the new one
    try:
        os.ftruncate(descriptor, 0)
        os.lseek(descriptor, 0, os.SEEK_SET)
        os.write(descriptor, f"{os.getpid()} {socket.gethostname()}\n".encode())
        yield
    finally:
        with suppress(OSError):  # Windows cannot remove an open file; the next holder reuses it
            path.unlink()
        os.close(descriptor)
        if made:
            with suppress(OSError):  # the run wrote something: the folder stays
                run_dir.rmdir()


@contextmanager
def own_run_folder(run_dir: Path, world: World, resume: bool) -> Iterator[None]:
    """Make ``run_dir`` this run's for the block: rank 0 holds its lock, and without
    ``resume`` the folder must hold no file of a run. Under DDP every rank raises rank 0's
    refusal (a ScenelabError with its message and exit code), so that none waits for it."""
    with ExitStack() as stack:
        refusal: ScenelabError | OSError | None = None
        if world.is_main:
            try:
                stack.enter_context(run_folder_lock(run_dir))
                found = None if resume else first_run_file(run_dir)
                if found is not None:
                    raise ScenelabError(
                        f"{run_dir} already holds files of a run ({found}); choose another "
                        f"--out, or continue that run with `scenelab train --resume {run_dir}`"
                    )
            except (ScenelabError, OSError) as error:  # OSError: cannot make the folder
                refusal = error
        if world.distributed:
            told = broadcast_object(
                world, None if refusal is None else (str(refusal), getattr(refusal, "exit_code", 1))
            )
            if told is not None and refusal is None:
                message, exit_code = told
                refusal = ScenelabError(f"rank 0 refused the run: {message}", exit_code)
        if refusal is not None:
            raise refusal
        yield
