"""Writing files whole or not at all: the one atomic-write helper every writer uses.

A file is written to a temporary name in its own folder, flushed to disk and renamed over
its final name, so that a run killed at any moment leaves either the old file or the new
one, never half of one; the temporary file goes when the write fails.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scenelab.errors import ScenelabError
from scenelab.safetext import terminal


def output_file(value: str | Path, flag: str = "--out") -> Path:
    """``value`` as the path of a file to write, refused (naming ``flag``) when it names a
    folder: one that exists (``/``, ``.``), or any path written with a trailing slash."""
    path = Path(value)
    if path.is_dir() or not path.name or str(value).endswith(("/", os.sep)):
        raise ScenelabError(
            f"{flag} {terminal(str(value))}: a folder; give the path of the file to write"
        )
    return path


def temporary_name(path: Path) -> Path:
    """``.NAME.PID.HEX8.tmp`` beside ``path``: unique per process and per write."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on a clean exit it is flushed and renamed to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        yield temporary
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, value: Any) -> Path:
    """Write ``value`` as indented JSON atomically; NaN or infinity is an error, not JSON."""
    return write_text(path, json.dumps(value, indent=2, allow_nan=False) + "\n")
