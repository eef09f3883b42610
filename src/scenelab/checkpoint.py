"""Checkpoints are data: plain dicts of tensors and primitives, saved atomically and
loaded with ``weights_only=True``.

A training checkpoint holds what `scenelab.train.state.TrainState` writes (its docstring
lists the keys); what every reader needs is "model" (state dict), "config" (the resolved
run config as a plain dict, with "model", "num_classes", "conv"), "classes" and "metrics".
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch import nn

from scenelab.errors import ScenelabError
from scenelab.files import temporary_name
from scenelab.weights import NAMED_KEYS, describe_load_error, load_weights

log = logging.getLogger(__name__)


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
    temporary = temporary_name(path)
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
    fall back to the one it replaced (``.prev``) with a warning. There is no other
    fallback: a broken best.pt is not replaced by last.pt (other weights), the error
    says that last.pt is there."""
    path = resolve_checkpoint(path_or_run_dir)
    errors = []
    for candidate in (path, _previous(path)):
        if not candidate.is_file():
            continue
        try:
            state = torch.load(candidate, map_location=map_location, weights_only=True)
        except Exception as error:  # parsing untrusted bytes may raise anything
            errors.append(f"{candidate}: {describe_load_error(error)}")
            continue
        if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
            errors.append(f"{candidate}: not a scenelab checkpoint (no 'model' state dict)")
            continue
        if errors:
            log.warning(f"{errors[0]}; using {candidate}")
        return state
    raise ScenelabError("unreadable checkpoint: " + "; ".join(errors) + _other_checkpoint(path))


def _other_checkpoint(path: Path) -> str:
    """For a broken best.pt beside a last.pt: where the run's other weights are."""
    last = path.with_name("last.pt")
    if path.name != "best.pt" or not (last.is_file() or _previous(last).is_file()):
        return ""
    return (
        f". {last} is there too, with the weights of the run's last epoch rather than its "
        "best; give that file instead of the run folder to use it"
    )


def checkpoint_classes(state: dict[str, Any]) -> list[str]:
    """The class names a checkpoint stores, or "0", "1", ... for one that has none."""
    classes = state.get("classes")
    if classes is None:
        return [str(index) for index in range(state["config"]["num_classes"])]
    return list(classes)


def check_classes(state: dict[str, Any], classes: list[str], checkpoint: Path) -> None:
    """Refuse a dataset whose classes are not the ones the checkpoint was trained on."""
    trained_on = checkpoint_classes(state)
    if trained_on != list(classes):
        raise ScenelabError(f"{checkpoint}: {describe_class_mismatch(trained_on, classes)}")


def describe_class_mismatch(
    trained_on: list[str], dataset: list[str], holder: str = "the checkpoint"
) -> str:
    """How the classes ``holder`` was trained on differ from the dataset's: the counts and
    the names new or gone, or the first name that differs."""
    if len(trained_on) != len(dataset):
        added = [name for name in dataset if name not in trained_on]
        removed = [name for name in trained_on if name not in dataset]
        names = [
            f"{title} {', '.join(map(repr, found[:NAMED_KEYS]))}"
            f"{', ...' if len(found) > NAMED_KEYS else ''}"
            for title, found in (("new in the dataset:", added), ("gone from it:", removed))
            if found
        ]
        return (
            f"{holder} was trained on {len(trained_on)} classes "
            f"but the dataset has {len(dataset)}" + (f" ({'; '.join(names)})" if names else "")
        )
    index = next(i for i, (a, b) in enumerate(zip(trained_on, dataset, strict=True)) if a != b)
    return (
        f"{holder}'s classes differ from the dataset's: class {index} is "
        f"{trained_on[index]!r} in {holder} and {dataset[index]!r} in the dataset"
    )


def _check_class_list(path: Path, classes: Any, outputs: int) -> None:
    """A checkpoint's class list must hold one name (a string) per output of its model."""
    if not isinstance(classes, list) or not all(isinstance(name, str) for name in classes):
        raise ScenelabError(f"{path}: its class list is not a list of names: {classes!r:.80}")
    if len(classes) != outputs:
        raise ScenelabError(
            f"{path}: its class list holds {len(classes)} name{'s' * (len(classes) != 1)} "
            f"but its model has {outputs} outputs; it needs one class name per output"
        )


def load_model(
    path_or_run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """The model a checkpoint describes, with its weights, on ``device``, in eval mode,
    and the checkpoint dict itself. A checkpoint whose weights, class list or image size
    do not fit the model its config names is refused, naming the file and the misfit."""
    from scenelab.config import check_stored_config
    from scenelab.models import build_model, check_image_size

    path = resolve_checkpoint(path_or_run_dir)
    state = load_checkpoint(path, map_location="cpu")
    config = check_stored_config(state.get("config", {}), f"{path} (stored config)", MODEL_KEYS)
    model = build_model(config["model"], config["num_classes"], conv=config["conv"])
    load_weights(
        model,
        state["model"],
        f"{path}: its weights do not fit its config's model ({config['model']}, "
        f"{config['num_classes']} classes)",
    )
    if state.get("classes") is not None:
        _check_class_list(path, state["classes"], config["num_classes"])
    if config.get("image_size") is not None:
        size = int(config["image_size"])
        check_image_size(config["model"], size, f"{path}: its config's {config['model']}")
    return model.to(device).eval(), state
