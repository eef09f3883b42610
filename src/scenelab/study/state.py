"""The state of a study folder: what each run folder holds (new, stopped, finished),
whether a result is newer than its run's checkpoint, and the wall time of each step.

A training run whose last.pt holds every epoch (and whose metrics.csv has them all) is
finished; one that stopped part-way is resumed exactly; an evaluation, saliency figure or
attack newer than the run's checkpoint is kept.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scenelab.checkpoint import CHECKPOINT_DIR, load_checkpoint
from scenelab.config import RunConfig, resumed_config
from scenelab.errors import ScenelabError
from scenelab.files import write_json
from scenelab.runs import metrics_rows
from scenelab.study.plan import Plan
from scenelab.train.runfolder import has_checkpoint

NEW, PARTIAL, FINISHED = "new", "partial", "finished"


def run_state(run_dir: Path, epochs: int) -> str:
    """NEW (neither a checkpoint nor a config.yaml), FINISHED (last.pt and metrics.csv hold
    all ``epochs``) or PARTIAL (anything in between, a run stopped before its first
    checkpoint too: resume it)."""
    if not has_checkpoint(run_dir):
        return PARTIAL if (run_dir / "config.yaml").is_file() else NEW
    checkpoint = load_checkpoint(run_dir / CHECKPOINT_DIR / "last.pt")
    complete = checkpoint.get("epoch") == epochs and not checkpoint.get("position")
    return FINISHED if complete and metrics_rows(run_dir) == epochs else PARTIAL


def is_current(result: Path, run_dir: Path) -> bool:
    """``result`` exists and was made after the run's last checkpoint."""
    checkpoint = run_dir / CHECKPOINT_DIR / "last.pt"
    return result.is_file() and result.stat().st_mtime >= checkpoint.stat().st_mtime


class Timings:
    """Wall time of each step, by section, kept in DIR/timings.json across invocations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = json.loads(path.read_text()) if path.is_file() else {}

    @contextmanager
    def measure(self, section: int, step: str, add: bool = False) -> Iterator[None]:
        """Time the block as ``step`` of ``section``; ``add`` to the time already spent
        (a resumed run), else replace it. Recorded even when the block fails."""
        key = f"{section}/{step}"
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            self.seconds[key] = (self.seconds.get(key, 0.0) if add else 0.0) + spent
            write_json(self.path, self.seconds)

    def section_seconds(self, section: int) -> float | None:
        spent = [value for key, value in self.seconds.items() if key.startswith(f"{section}/")]
        return sum(spent) if spent else None


def checked_state(plan: Plan, name: str) -> tuple[str, RunConfig]:
    """The state of run ``name`` and the config to train it with; refuses a run folder
    that was trained with other settings."""
    settings = plan.run_settings(name)
    run_dir = Path(settings["out"])
    state = run_state(run_dir, settings["epochs"])
    if state == NEW:
        return state, RunConfig(**settings)
    try:
        return state, resumed_config(run_dir, settings, who="reproduce: run folder")
    except ScenelabError as error:
        raise ScenelabError(f"{error}; delete it or choose another --out") from None
