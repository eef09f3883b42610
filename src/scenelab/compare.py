"""Runs side by side: `scenelab compare RUN RUN ...`.

Reads each run folder's metrics.csv and config.yaml, overlays the runs' train and val
curves (top-1, top-5, loss; one figure each) and tabulates wall time, training images/s,
peak memory, best and final val top-1/top-5 and parameter count (compare.md, compare.csv).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scenelab import plots
from scenelab.document import markdown_table
from scenelab.errors import ScenelabError
from scenelab.files import write_text
from scenelab.models import build_model
from scenelab.options import command_argv, option
from scenelab.runs import RunHistory, read_run
from scenelab.safetext import csv_cell, markdown, terminal

CURVES = ("top1", "top5", "loss")


@dataclass(frozen=True)
class CompareOptions:
    """`scenelab compare`: two or more run folders, the output folder."""

    runs: tuple[str, ...] = option(positional=True)
    out: str | None = option(None)  # default: 'compare' beside the first run

    def to_argv(self) -> list[str]:
        return command_argv(["compare"], self)

    def out_folder(self) -> Path:
        return Path(self.out) if self.out else Path(self.runs[0]).parent / "compare"


@dataclass
class CompareRow:
    """One row of the comparison table (compare.csv, compare.md, study.json's runs)."""

    run: str
    model: str
    conv: str
    epochs: int
    parameters: int
    wall_time_min: float
    images_per_s: float  # median over epochs, training only
    peak_memory_mib: float
    best_val_top1: float
    final_val_top1: float
    best_val_top5: float
    final_val_top5: float

    @classmethod
    def from_text(cls, cells: dict[str, str]) -> CompareRow:
        """A row read back from compare.csv, each cell in its field's type."""
        kinds = {"str": str, "int": int, "float": float}
        return cls(
            **{
                field.name: kinds[str(field.type)](cells[field.name])
                for field in dataclasses.fields(cls)
            }
        )


def parameter_count(config: dict[str, Any]) -> int:
    """Trainable parameters of the model the run's config describes."""
    model = build_model(config["model"], int(config["num_classes"]), conv=config["conv"])
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)


def summarise(run: RunHistory) -> CompareRow:
    """One row of the comparison table. Images/s is the median over epochs (training only)."""
    last = run.rows[-1]
    return CompareRow(
        run=run.name,
        model=run.config.get("model", "?"),
        conv=run.config.get("conv", "?"),
        epochs=int(last["epoch"]),
        parameters=parameter_count(run.config),
        wall_time_min=sum(run.column("epoch_time_s")) / 60,
        images_per_s=statistics.median(run.column("images_per_s")),
        peak_memory_mib=max(run.column("peak_memory_mib")),
        best_val_top1=max(run.column("val_top1")),
        final_val_top1=run.column("val_top1")[-1],
        best_val_top5=max(run.column("val_top5")),
        final_val_top5=run.column("val_top5")[-1],
    )


def read_compare_table(folder: Path) -> list[CompareRow]:
    """The rows of folder/compare.csv, as `compare_runs` wrote them."""
    with (folder / "compare.csv").open(newline="") as file:
        return [CompareRow.from_text(cells) for cells in csv.DictReader(file)]


def compare_runs(folders: list[str | Path], out: str | Path) -> list[CompareRow]:
    """Write the overlay figures and the table for `folders` to `out`; return the table."""
    seen: dict[Path, str | Path] = {}
    for folder in folders:
        first = seen.setdefault(Path(folder).resolve(), folder)
        if first is not folder:
            raise ScenelabError(f"compare: {folder} is named twice (as {first} before)")
    runs = [read_run(folder) for folder in folders]
    if len(runs) < 2:
        raise ScenelabError("compare needs at least two run folders")
    names = [run.name for run in runs]
    if len(set(names)) < len(names):  # runs/a/native and runs/b/native: say which is which
        for run in runs:
            run.name = f"{run.folder.parent.name}/{run.folder.name}"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curves = {run.name: run.rows for run in runs}
    title = " vs ".join(curves)
    for curve in CURVES:
        plots.plot_run_comparison(curves, curve, out / f"compare_{curve}.png", title)
    table = [summarise(run) for run in runs]
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=[field.name for field in dataclasses.fields(CompareRow)]
    )
    writer.writeheader()
    writer.writerows(
        {key: csv_cell(value) for key, value in dataclasses.asdict(row).items()} for row in table
    )
    write_text(out / "compare.csv", buffer.getvalue())
    write_text(out / "compare.md", format_table(table, markdown) + "\n")
    return table


COLUMNS = (  # key, header, format
    ("run", "run", "{}"),
    ("model", "model", "{}"),
    ("conv", "conv", "{}"),
    ("epochs", "epochs", "{}"),
    ("parameters", "parameters", "{:,}"),
    ("wall_time_min", "wall time (min)", "{:.1f}"),
    ("images_per_s", "train images/s", "{:.0f}"),
    ("peak_memory_mib", "peak memory (MiB)", "{:.0f}"),
    ("best_val_top1", "best val top-1 (%)", "{:.2f}"),
    ("final_val_top1", "final val top-1 (%)", "{:.2f}"),
    ("best_val_top5", "best val top-5 (%)", "{:.2f}"),
    ("final_val_top5", "final val top-5 (%)", "{:.2f}"),
)


def format_table(table: list[CompareRow], escape: Callable[[str], str]) -> str:
    """A Markdown table, readable as plain text too. Text cells (run, model and conv names)
    go through ``escape``: `safetext.markdown` for compare.md, `safetext.terminal` for
    the terminal."""

    def cell(value: Any, form: str) -> str:
        return value if isinstance(value, str) else form.format(value)

    rows = ([cell(getattr(row, key), form) for key, _, form in COLUMNS] for row in table)
    return markdown_table([header for _, header, _ in COLUMNS], rows, escape)


def compare(options: CompareOptions) -> list[CompareRow]:
    """The whole `scenelab compare`: figures and tables written, the table printed."""
    out = options.out_folder()
    table = compare_runs(list(options.runs), out)
    print(format_table(table, terminal))
    print(
        terminal(f"wrote compare.md, compare.csv and compare_{{{','.join(CURVES)}}}.png to {out}")
    )
    return table
