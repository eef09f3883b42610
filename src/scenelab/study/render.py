"""The report's shared pieces: its header, each section's settings table, and the helpers
of the section renderers (`render_conv`, `render_training`, `render_results`).

Everything is read back from what the experiments left in the output folder, through the
dataclasses that wrote it (a run's `RunConfig`, `BenchResult`, `ConvStudy`, `CompareRow`,
`EvalRecord`, `AttackRecord`), so the report can be rewritten at any time and says "not
run yet" for what is missing.
"""

from __future__ import annotations

import datetime
import json
import platform
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from scenelab import __version__
from scenelab.bench.conv import BenchResult
from scenelab.compare import read_compare_table
from scenelab.config import RunConfig
from scenelab.data.spec import dataset_name
from scenelab.document import Block, Code, Figure, Heading, Paragraph, Table, pct
from scenelab.errors import ScenelabError
from scenelab.options import Command
from scenelab.safetext import markdown, markdown_code
from scenelab.study.plan import Plan
from scenelab.study.verdicts import CONCLUSIONS, Verdict, combined

NOT_YET = "Not run yet."
Record = TypeVar("Record")


def header(plan: Plan) -> list[Block]:
    budget = plan.budget
    attacked = "all" if budget.attack_images is None else str(budget.attack_images)
    adversarial = (
        f" (the adversarially trained one {budget.adversarial_epochs}: PGD training learns slower)"
        if budget.adversarial_epochs != budget.epochs
        else ""
    )
    return [
        Heading(
            f"scenelab study report: {markdown(dataset_name(plan.data))}, {budget.name} budget", 1
        ),
        Paragraph(
            f"Made by {markdown_code(plan.command())} with scenelab {__version__}, "
            f"torch {torch.__version__}, "
            f"Python {platform.python_version()}, on {platform.machine()} "
            f"({plan.threads()} CPU thread(s) outside training"
            f"{', ' + torch.cuda.get_device_name() if torch.cuda.is_available() else ''}); "
            f"written {datetime.datetime.now().isoformat(timespec='seconds')}."
        ),
        Paragraph(
            f"Budget **{budget.name}** ({budget.meant_for}): every run trains {budget.epochs} "
            f"epochs{adversarial}, batch {budget.batch_size}, "
            f"{budget.image_size}x{budget.image_size} images, "
            f"with SGD, warm-up and cosine decay; {attacked} val images are attacked. Finished "
            "runs are reused when the command is run again and stopped ones are resumed; "
            "delete a run folder under `runs/` (or choose another `--out`) to redo it. Wall "
            "times are those of this machine when each step ran."
        ),
    ]


# --- settings -------------------------------------------------------------------------

SETTINGS_HEADER = ["model", "epochs", "batch", "image size", "device", "precision", "wall time"]


def settings_block(plan: Plan, runs: tuple[str, ...], seconds: float | None) -> list[Block]:
    """The settings of the section's ``runs`` (the benchmark's without runs) and its wall
    time, ``seconds``."""
    wall = "not run yet" if seconds is None else format_seconds(seconds)
    if not runs:
        return [Table(SETTINGS_HEADER, [[*bench_settings(plan), wall]])]
    configs = [run_config(plan.run_dir(name)) for name in runs]
    found = [config for config in configs if config]
    if not found:
        return [Table(SETTINGS_HEADER, [["-"] * 6 + [wall]])]

    def values(key: str, show: Callable[[Any], str] = str) -> str:
        return ", ".join(dict.fromkeys(show(getattr(config, key)) for config in found))

    row = [
        ", ".join(describe_model(config) for config in found),
        values("epochs"),
        values("batch_size"),
        values("image_size", lambda size: f"{size}x{size}"),
        values("device", device_name),
        values("amp", lambda amp: "float32" if amp == "off" else f"{amp} autocast"),
        wall,
    ]
    return [Table(SETTINGS_HEADER, [row])]


def describe_model(config: RunConfig) -> str:
    """simplenet, simplenet (custom conv), simplenet (adversarial, pgd), ..."""
    notes = []
    if config.conv == "custom":
        notes.append("custom conv")
    if config.pretrained:
        notes.append("fine-tuned")
    if config.adv != "none":
        notes.append(f"adversarial, {config.adv}")
    return config.model + (f" ({', '.join(notes)})" if notes else "")


def bench_settings(plan: Plan) -> list[str]:
    bench = read_record(plan.out / "conv" / "bench.json", BenchResult.from_dict)
    if bench is None:
        return ["SimpleNet", "-", "-", "-", "-", "-"]
    settings = bench.settings
    size = settings.image_size
    return [
        "SimpleNet (benchmark); small convolutions (check)",
        "-",
        str(settings.batch_size),
        f"{size}x{size}",
        settings.device,
        f"{settings.dtype} (benchmark), float64 gradcheck, float32 parity",
    ]


def device_name(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


# --- helpers of the section renderers ---------------------------------------------------


def run_config(run_dir: Path) -> RunConfig | None:
    """The config.yaml the run was trained with, None before it started."""
    path = run_dir / "config.yaml"
    return RunConfig.from_yaml(path, flag="") if path.is_file() else None


def read_record(path: Path, read: Callable[[Any], Record]) -> Record | None:
    """The JSON file ``path`` read back through ``read`` (a ``from_dict``); None if absent.
    A file cut short or written by another version is refused, by name."""
    if not path.is_file():
        return None
    try:
        return read(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise ScenelabError(
            f"{path}: not a record this scenelab can read ({type(error).__name__}: "
            f"{' '.join(str(error).split())}); delete it and run the step again"
        ) from None


def format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values)


def command_line(argv: list[str]) -> str:
    return shlex.join(["scenelab", *argv])


def commands(*options: Command) -> Code:
    """The command lines of ``options``, as they ran."""
    return Code("\n".join(command_line(command.to_argv()) for command in options))


def commands_train(plan: Plan, *names: str) -> Code:
    return Code("\n".join(plan.train_command(name) for name in names))


def figure(path: Path, caption: str, wide: bool = False) -> list[Block]:
    return [Figure(path, caption, wide)] if path.is_file() else []


def compare_table(folder: Path, memory: bool = False) -> Table:
    """The rows of compare.csv (written by `scenelab compare`). Peak memory only with
    ``memory``: runs trained in the reproducing process share its peak."""
    header = ["run", "parameters", "seconds per epoch", "train images/s"]
    header += ["peak memory (MiB)"] * memory
    header += ["best val top-1 (%)", "final val top-1 (%)", "final val top-5 (%)"]
    rows = [
        [
            row.run,
            f"{row.parameters:,}",
            f"{row.wall_time_min * 60 / row.epochs:.1f}",
            f"{row.images_per_s:.0f}",
            *[f"{row.peak_memory_mib:.0f}"] * memory,
            pct(row.best_val_top1),
            pct(row.final_val_top1),
            pct(row.final_val_top5),
        ]
        for row in read_compare_table(folder)
    ]
    return Table(header, rows)


# --- the verdicts -------------------------------------------------------------------------


def conclusions_block(verdicts: dict[int, list[Verdict]]) -> list[Block]:
    """The table of the seven conclusions, each with the verdict of the sections
    (numbered keys of ``verdicts``) that test it."""
    rows = []
    for conclusion, claim in CONCLUSIONS.items():
        tested = {
            number: [verdict for verdict in found if verdict.conclusion == conclusion]
            for number, found in verdicts.items()
        }
        tested = {number: found for number, found in tested.items() if found}
        verdict = combined([verdict for found in tested.values() for verdict in found])
        where = ", ".join(map(str, tested))
        rows.append([str(conclusion), claim, verdict.status, where, verdict.reason])
    return [
        Heading("Conclusions"),
        Paragraph(
            "The study's seven conclusions, each judged by a stated rule from the numbers of "
            "the sections that test it (every section ends with its verdicts): it holds, does "
            "not hold at this budget (the part that fails, with its numbers), or was not "
            "tested (and why)."
        ),
        Table(["no.", "conclusion", "verdict", "sections", "numbers"], rows),
    ]


def verdict_blocks(verdicts: list[Verdict]) -> list[Block]:
    return [
        Paragraph(
            f"**Conclusion {verdict.conclusion}.** {CONCLUSIONS[verdict.conclusion]} "
            f"Verdict: **{verdict.status}**: {verdict.reason}."  # the rules' own text
        )
        for verdict in verdicts
    ]
