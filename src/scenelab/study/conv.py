"""The custom-vs-native convolution study: `scenelab study conv`.

Trains the same model twice with the same config and seed, hence the same initial
weights (convert_convs keeps the parameters) and the same batches and augmentations, once
with PyTorch's convolution and once with scenelab's CustomConv2d, then compares the runs.

Each run trains in its own process, so that each has its own peak memory (RSS on the CPU
is per process). On the CPU the two run at the same time, each with half the cores: a
shared, noisy machine then slows both alike. The time ratio is the median, over the
epochs both runs spent training at the same time, of the ratio of their training
throughputs: once the faster run has finished, the other has the machine to itself, and
its remaining epochs would flatter it. On a GPU the runs go one after the other and every
epoch counts.

With ``--control`` a third run, OUT/control, trains the native convolution again with only
the summation order changed (the other memory layout: channels_last on one side), same
seed and batches, after the pair: the gap between its val top-1 curve and native's is what
rounding alone makes, the yardstick for the custom-vs-native gap.
"""

from __future__ import annotations

import io
import itertools
import multiprocessing
import statistics
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TextIO

import torch

from scenelab.compare import CompareRow, compare_runs, format_table
from scenelab.config import RunConfig
from scenelab.data.layout import check_dataset
from scenelab.data.spec import dataset_name
from scenelab.device import pick_device
from scenelab.errors import ScenelabError
from scenelab.files import write_json
from scenelab.options import command_argv, option
from scenelab.runs import read_run
from scenelab.safetext import terminal, terminal_lines
from scenelab.train.engine import train

CONVS = ("native", "custom")
CONTROL = "control"  # the run folder of the native-vs-native control
OVERLAP_NEEDED = 0.9  # share of an epoch both runs must spend training at once to be timed


@dataclass(frozen=True)
class ConvStudyOptions:
    """`scenelab study conv`: the settings both runs share (None: the training default)."""

    data: str | None = option(None)
    model: str | None = option(None)
    epochs: int | None = option(None)
    batch_size: int | None = option(None)
    amp: str | None = option(None)
    dtype: str | None = option(None)
    image_size: int | None = option(None)
    seed: int | None = option(None)
    workers: int | None = option(None)
    device: str | None = option(None)
    out: str | None = option(None)  # default runs/study-conv-MODEL-DATA
    control: bool = option(False)  # also native vs native in the other memory layout

    def to_argv(self) -> list[str]:
        return command_argv(["study", "conv"], self)


@dataclass
class EpochPair:
    epoch: int
    native_val_top1: float
    custom_val_top1: float
    native_images_per_s: float
    custom_images_per_s: float


@dataclass
class ConvStudy:
    """custom / native ratios (above 1: custom costs more) and how far the curves part."""

    time_ratio: float  # training time per image, median over `time_ratio_epochs`
    time_ratio_epochs: list[int]
    memory_ratio: float  # peak memory (RSS on the CPU, max allocated on a GPU)
    native_peak_memory_mib: float
    custom_peak_memory_mib: float
    largest_val_top1_gap: float  # percentage points, over all epochs
    gap_epoch: int
    epochs: list[EpochPair]
    runs: list[CompareRow] = field(default_factory=list)  # compare table: native, custom(, control)
    # The native-vs-native control (None without one): percentage points, at epoch.
    control_largest_val_top1_gap: float | None = None
    control_gap_epoch: int | None = None

    @classmethod
    def from_dict(cls, values: dict) -> ConvStudy:
        """study.json read back."""
        return cls(
            **{
                **values,
                "epochs": [EpochPair(**pair) for pair in values["epochs"]],
                "runs": [CompareRow(**row) for row in values["runs"]],
            }
        )


def control_config(config: RunConfig, out: Path) -> RunConfig:
    """The control run: native convolutions in the other memory layout, into out/control."""
    changes = {"conv": "native", "channels_last": not config.channels_last}
    return config.replace(**changes, out=str(out / CONTROL))


def conv_study(config: RunConfig, out: str | Path, control: bool = False) -> ConvStudy:
    """Train `config` with native and with custom convolutions into out/native and
    out/custom (and the control into out/control), compare them into `out` (figures,
    compare.md) and write study.json."""
    out = Path(out)
    check_dataset(config.data)  # here, not in each of the training processes
    configs = [config.replace(conv=conv, out=str(out / conv)) for conv in CONVS]
    side_by_side = pick_device(config.device).type == "cpu"
    train_side_by_side(configs, side_by_side=side_by_side)
    if control:
        train_side_by_side([control_config(config, out)], side_by_side=False)
    return summarise_study(out, side_by_side)


def summarise_study(out: str | Path, side_by_side: bool = True) -> ConvStudy:
    """Compare the finished runs out/native and out/custom (and out/control, if trained)
    into `out` (figures, compare.md) and write out/study.json. `side_by_side`: the pair
    trained at once."""
    out = Path(out)
    control = out / CONTROL
    folders = [out / conv for conv in CONVS] + [control] * (control / "metrics.csv").is_file()
    table = compare_runs(folders, out)
    native, custom = (read_run(out / conv).rows for conv in CONVS)
    study = measure(native, custom, side_by_side)
    study.runs = table
    if len(folders) > len(CONVS):
        control_rows = read_run(control).rows
        if len(control_rows) != len(native):
            raise ScenelabError(
                f"the runs finished {len(native)} (native) and {len(control_rows)} (control) epochs"
            )
        gap, epoch = largest_gap(native, control_rows)
        study.control_largest_val_top1_gap, study.control_gap_epoch = gap, epoch
    write_json(out / "study.json", asdict(study))
    return study


def largest_gap(first: list[dict[str, float]], second: list[dict[str, float]]) -> tuple[float, int]:
    """The widest val top-1 gap between two runs' metrics.csv rows (points) and its epoch."""
    gaps = [
        (abs(a["val_top1"] - b["val_top1"]), int(a["epoch"]))
        for a, b in zip(first, second, strict=True)
    ]
    return max(gaps, key=lambda gap: gap[0])


def measure(
    native: list[dict[str, float]], custom: list[dict[str, float]], side_by_side: bool = True
) -> ConvStudy:
    """The study's three numbers from the two runs' metrics.csv rows."""
    if len(native) != len(custom):
        raise ScenelabError(
            f"the runs finished {len(native)} (native) and {len(custom)} (custom) epochs"
        )
    pairs = [
        EpochPair(
            int(n["epoch"]), n["val_top1"], c["val_top1"], n["images_per_s"], c["images_per_s"]
        )
        for n, c in zip(native, custom, strict=True)
    ]
    gap, gap_epoch = largest_gap(native, custom)
    native_memory = max(row["peak_memory_mib"] for row in native)
    custom_memory = max(row["peak_memory_mib"] for row in custom)
    timed = overlapping_epochs(native, custom) if side_by_side else []
    timed = timed or [pair.epoch for pair in pairs]  # no overlap at all: every epoch
    return ConvStudy(
        time_ratio=statistics.median(
            pair.native_images_per_s / pair.custom_images_per_s
            for pair in pairs
            if pair.epoch in timed
        ),
        time_ratio_epochs=timed,
        memory_ratio=custom_memory / native_memory,
        native_peak_memory_mib=native_memory,
        custom_peak_memory_mib=custom_memory,
        largest_val_top1_gap=gap,
        gap_epoch=gap_epoch,
        epochs=pairs,
    )


def overlapping_epochs(native: list[dict[str, float]], custom: list[dict[str, float]]) -> list[int]:
    """The epochs that both runs spent (at least OVERLAP_NEEDED of) training side by side,
    taking both to start together: those that ended before the first run finished."""
    spans = [
        list(itertools.pairwise([0.0, *itertools.accumulate(row["epoch_time_s"] for row in rows)]))
        for rows in (native, custom)
    ]
    first_finish = min(run[-1][1] for run in spans)

    def overlap(span: tuple[float, float]) -> float:
        start, end = span
        return (min(end, first_finish) - start) / max(end - start, 1e-9)

    return [
        int(row["epoch"])
        for row, native_span, custom_span in zip(native, *spans, strict=True)
        if min(overlap(native_span), overlap(custom_span)) >= OVERLAP_NEEDED
    ]


def train_side_by_side(configs: list[RunConfig], side_by_side: bool, resume: bool = False) -> None:
    """Train each config in a process of its own; all at once with an equal share of the
    cores if `side_by_side`, else one after the other; with `resume`, continue each run
    folder's last.pt. Output lines are prefixed with the run folder's name."""
    context = multiprocessing.get_context("spawn")
    threads = max(1, torch.get_num_threads() // len(configs)) if side_by_side else 0
    labels = [Path(str(config.out)).name for config in configs]
    processes = []
    for config, label in zip(configs, labels, strict=True):
        process = context.Process(target=_train_child, args=(config, label, threads, resume))
        process.start()
        processes.append(process)
        if not side_by_side:
            process.join()
    for process in processes:
        process.join()
    failed = [
        f"{label} (exit code {process.exitcode})"
        for label, process in zip(labels, processes, strict=True)
        if process.exitcode != 0
    ]
    if failed:
        prefixes = "/".join(f"[{label}]" for label in labels)
        raise ScenelabError(f"training failed: {', '.join(failed)}; see the {prefixes} lines above")


def _train_child(config: RunConfig, label: str, threads: int, resume: bool) -> None:
    sys.stdout = _Prefixed(sys.stdout, f"[{label}] ")
    sys.stderr = _Prefixed(sys.stderr, f"[{label}] ")
    if threads:
        torch.set_num_threads(threads)
    try:
        train(config, resume=resume)
    except ScenelabError as error:
        print(f"scenelab: error: {terminal_lines(str(error))}", file=sys.stderr)
        sys.exit(error.exit_code)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


class _Prefixed(io.TextIOBase):
    """A text stream that writes whole lines, each with a prefix; never a terminal, so
    progress bars become plain log lines."""

    def __init__(self, stream: TextIO, prefix: str) -> None:
        self.stream, self.prefix, self.pending = stream, prefix, ""

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            self.stream.write(f"{self.prefix}{line}\n")
        self.stream.flush()
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.stream.write(f"{self.prefix}{self.pending}\n")
            self.pending = ""
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def format_study(study: ConvStudy) -> str:
    lines = [
        f"{'epoch':>5}  {'native val top-1':>16}  {'custom val top-1':>16}  {'gap':>6}  "
        f"{'native img/s':>12}  {'custom img/s':>12}"
    ]
    for pair in study.epochs:
        gap = abs(pair.native_val_top1 - pair.custom_val_top1)
        lines.append(
            f"{pair.epoch:>5}  {pair.native_val_top1:>15.2f}%  {pair.custom_val_top1:>15.2f}%  "
            f"{gap:>6.2f}  {pair.native_images_per_s:>12.0f}  {pair.custom_images_per_s:>12.0f}"
        )
    lines += [
        "",
        f"time ratio custom/native     {study.time_ratio:.2f}x  (training time per image, "
        f"median over epochs {', '.join(map(str, study.time_ratio_epochs))})",
        f"memory ratio custom/native   {study.memory_ratio:.2f}x  "
        f"({study.custom_peak_memory_mib:.0f} vs {study.native_peak_memory_mib:.0f} MiB peak)",
        f"largest val top-1 gap        {study.largest_val_top1_gap:.2f} points "
        f"(epoch {study.gap_epoch})",
    ]
    if study.control_largest_val_top1_gap is not None:
        lines.append(
            f"control gap, native vs native {study.control_largest_val_top1_gap:.2f} points "
            f"(epoch {study.control_gap_epoch}; only the summation order differs)"
        )
    return "\n".join(lines)


def study_conv(options: ConvStudyOptions) -> ConvStudy:
    """The whole `scenelab study conv`: train both runs, compare them, print the numbers."""
    settings = {
        item.name: getattr(options, item.name)
        for item in fields(options)
        if item.name not in ("out", "control") and getattr(options, item.name) is not None
    }
    config = RunConfig(**settings)
    default = Path("runs") / f"study-conv-{config.model}-{dataset_name(config.data)}"
    out = Path(options.out or default)
    study = conv_study(config, out, control=options.control)
    print(format_table(study.runs, terminal))
    print()
    print(format_study(study))
    print(
        terminal(f"wrote {out / 'study.json'}, compare.md, compare_{{top1,top5,loss}}.png to {out}")
    )
    return study
