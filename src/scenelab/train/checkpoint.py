"""Checkpoints are data: plain dicts of tensors and primitives, saved atomically and
loaded with ``weights_only=True``.

A checkpoint dict holds "model" (state dict), "optimizer", "scheduler", "epoch",
"step", "rng", "config" (the resolved run config as a plain dict), "classes",
"metrics" (one dict per finished epoch) and "best_top1".
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch import nn

from scenelab.errors import ScenelabError

CHECKPOINT_DIR = "checkpoints"
MODEL_KEYS = ("model", "num_classes", "conv")  # what a stored config must name to rebuild
PREVIOUS_SUFFIX = ".prev"  # the file a save replaced, kept as a fallback
# The temporary files of save_checkpoint: .NAME.PID.HEX8.tmp and .NAME.prev.PID.tmp
TEMPORARY_NAME = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$|^\..+\.prev\.(\d+)\.tmp$")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` so that a crash at any moment leaves a readable file.

    The data goes to a temporary file in the same folder, is flushed to disk, and is
    then renamed over ``path``; the file it replaces is kept as ``path.prev`` (a hard
    link made before the rename, so that ``path`` itself never goes missing). A write
    that fails (disk full, file-size limit) raises ScenelabError and leaves ``path`` as
    it was. Temporary files of killed earlier saves are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as file:
            writer = _KeepWriteErrors(file)
            try:
                torch.save(state, writer)
            except RuntimeError:  # torch reports a failed write as "unexpected pos"
                if writer.error is None:
                    raise
                raise writer.error from None
            file.flush()
            os.fsync(file.fileno())
        if path.exists():
            _keep_previous(path)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        kept = f"; {path} still holds the previous checkpoint" if path.exists() else ""
        raise ScenelabError(
            f"cannot write checkpoint {path}: {error.strerror or error}{kept}"
        ) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    _remove_stale_temporaries(path)


class _KeepWriteErrors:
    """A binary file that remembers why a write failed (disk full, file too large)."""

    def __init__(self, file: BinaryIO) -> None:
        self.file, self.error = file, None

    def write(self, data: bytes) -> int:
        try:
            return self.file.write(data)
        except OSError as error:
            self.error = error
            raise

    def flush(self) -> None:
        self.file.flush()


def _keep_previous(path: Path) -> None:
    """Make ``path.prev`` a second name of ``path`` (a copy where hard links fail)."""
    staged = path.with_name(f".{path.name}{PREVIOUS_SUFFIX}.{os.getpid()}.tmp")
    staged.unlink(missing_ok=True)
    try:
        os.link(path, staged)
    except OSError:
        shutil.copyfile(path, staged)
    os.replace(staged, _previous(path))


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary files that saves killed mid-write (SIGKILL) left beside ``path``."""
    for stale in path.parent.glob(".*.tmp"):
        writer = TEMPORARY_NAME.match(stale.name)
        pid = int(writer[1] or writer[2]) if writer else os.getpid()
        if pid != os.getpid() and not _process_alive(pid):
            stale.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_directory(folder: Path) -> None:
    """Make the renames themselves durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def resolve_checkpoint(path_or_run_dir: str | Path) -> Path:
    """A checkpoint file itself, or for a run folder its best.pt, else its last.pt."""
    path = Path(path_or_run_dir)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            for candidate in (path / CHECKPOINT_DIR / name, path / name):
                if candidate.is_file() or _previous(candidate).is_file():
                    return candidate
        raise ScenelabError(f"{path}: a folder without {CHECKPOINT_DIR}/best.pt or last.pt")
    if not path.is_file() and not _previous(path).is_file():
        raise ScenelabError(f"{path}: no such checkpoint file or run folder")
    return path


def _previous(path: Path) -> Path:
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def load_checkpoint(path_or_run_dir: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint (``weights_only=True``); if the file is unreadable or missing,
    fall back to the one it replaced (``.prev``) with a warning."""
    path = resolve_checkpoint(path_or_run_dir)
    errors = []
    for candidate in (path, _previous(path)):
        if not candidate.is_file():
            continue
        try:
            state = torch.load(candidate, map_location=map_location, weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
            errors.append(f"{candidate}: {describe_load_error(error)}")
            continue
        if not isinstance(state, dict) or "model" not in state:
            errors.append(f"{candidate}: not a scenelab checkpoint (no 'model' entry)")
            continue
        if errors:
            print(f"scenelab: warning: {errors[0]}; using {candidate}", file=sys.stderr)
        return state
    raise ScenelabError("unreadable checkpoint: " + "; ".join(errors))


def describe_load_error(error: Exception) -> str:
    """torch.load's long error in one line; a refused pickle says what it asked for."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    wanted = next((line for line in lines if "GLOBAL" in line), None)
    if wanted is not None:
        return (
            "refused: it holds pickled objects, not just tensors and plain data, and "
            f"loading it could run code ({wanted.rstrip('.')}). scenelab loads checkpoints "
            "with weights_only=True and never runs code from them"
        )
    detail = next((line for line in lines if "Unsupported" in line), lines[0] if lines else "")
    return f"not a readable checkpoint (corrupt, truncated or another format): {detail}".split(
        ". "
    )[0]


def load_model(
    path_or_run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """The model a checkpoint describes, with its weights, on ``device``, in eval mode,
    and the checkpoint dict itself."""
    from scenelab.config import check_stored_config
    from scenelab.models import build_model

    state = load_checkpoint(path_or_run_dir, map_location="cpu")
    config = check_stored_config(
        state.get("config", {}), f"{path_or_run_dir} (stored config)", MODEL_KEYS
    )
    model = build_model(config["model"], config["num_classes"], conv=config["conv"])
    model.load_state_dict(state["model"])
    return model.to(device).eval(), state
