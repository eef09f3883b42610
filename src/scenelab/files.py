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
