"""Checkpoints are data: plain dicts of tensors and primitives, saved atomically and
loaded with ``weights_only=True``.

A checkpoint dict holds "model" (state dict), "optimizer", "scheduler", "epoch",
"step", "rng", "config" (the resolved run config as a plain dict), "classes",
"metrics" (one dict per finished epoch) and "best_top1".
"""

from __future__ import annotations

import os
import pickle
import sys
import uuid
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scenelab.errors import ScenelabError

CHECKPOINT_DIR = "checkpoints"
PREVIOUS_SUFFIX = ".prev"  # the file a save replaced, kept as a fallback


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` so that a crash at any moment leaves a readable file.

    The data goes to a temporary file in the same folder, is flushed to disk, and is
    then renamed over ``path``; the file it replaces is kept as ``path.prev``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        if path.exists():
            os.replace(path, path.with_name(path.name + PREVIOUS_SUFFIX))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


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
            errors.append(f"{candidate}: {error}")
            continue
        if not isinstance(state, dict) or "model" not in state:
            errors.append(f"{candidate}: not a scenelab checkpoint (no 'model' entry)")
            continue
        if errors:
            print(f"scenelab: warning: {errors[0]}; using {candidate}", file=sys.stderr)
        return state
    raise ScenelabError("unreadable checkpoint: " + "; ".join(errors))


def load_model(
    path_or_run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """The model a checkpoint describes, with its weights, on ``device``, in eval mode,
    and the checkpoint dict itself."""
    from scenelab.models import build_model

    state = load_checkpoint(path_or_run_dir, map_location="cpu")
    config = state.get("config", {})
    missing = [key for key in ("model", "num_classes", "conv") if key not in config]
    if missing:
        raise ScenelabError(f"{path_or_run_dir}: checkpoint config lacks {', '.join(missing)}")
    model = build_model(config["model"], config["num_classes"], conv=config["conv"])
    model.load_state_dict(state["model"])
    return model.to(device).eval(), state
