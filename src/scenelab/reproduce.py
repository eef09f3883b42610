"""`scenelab reproduce`: every experiment of the study, in order, restartable, then the report.

The plan is fixed by the data, the budget and the output folder. Each experiment keeps
what it makes under that folder, so a second invocation reuses it: a training run whose
last.pt holds every epoch (and whose metrics.csv has them all) is finished; one that
stopped part-way is resumed exactly (`scenelab train --resume`); an evaluation, saliency
figure or attack newer than the run's checkpoint is kept. Comparisons and the report are
cheap and always redone.

Training runs in this process, one after the other, except the custom-vs-native pair,
whose subject is memory: each of the two has a process of its own, so that its peak
memory is its own, and on the CPU they train side by side, as `scenelab study conv` does.
(A process costs seconds of imports; the other runs need none.)

Commands whose library entry point takes parsed arguments (bench, eval, saliency, attack)
are run in this process through the CLI's own parser, so the command the report prints is
exactly what ran.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from scenelab.checkpoint import CHECKPOINT_DIR, load_checkpoint
from scenelab.compare import compare_runs, read_run
from scenelab.config import RunConfig, dataset_defaults
from scenelab.data.layout import check_dataset
from scenelab.device import pick_device
from scenelab.errors import ScenelabError
from scenelab.files import write_json
from scenelab.ops.check import check_conv2d
from scenelab.safetext import terminal
from scenelab.study import summarise_study, train_side_by_side
from scenelab.train.engine import train
from scenelab.train.runfolder import has_checkpoint


@dataclass(frozen=True)
class Budget:
    """How much of the study to run: the same experiments, smaller or larger."""

    name: str
    epochs: int
    batch_size: int
    image_size: int
    amp: str | None  # None: the hardware's default (bf16 where supported)
    channels_last: bool  # the fast layout of bf16 convolutions on CPUs and GPUs
    workers: int  # data-loading processes of every run and evaluation
    attack_images: int | None  # val images attacked (None: all)
    saliency_images: int
    bench_flags: tuple[str, ...]  # of `scenelab bench conv`
    meant_for: str


BUDGETS = {
    # Digits are 8x8 scans shown at 32x32, so 16x16 loses nothing and costs a quarter. At
    # that size float32 is as fast as bf16 on a CPU, and ResNet-18's 1x1 feature maps
    # overflow bf16 gradients.
    "smoke": Budget(
        name="smoke",
        epochs=2,
        batch_size=64,
        image_size=16,
        amp="off",
        channels_last=False,
        workers=0,
        attack_images=64,
        saliency_images=8,
        bench_flags=("--quick", "--batch-size", "8"),
        meant_for="digits, minutes on a CPU; it exercises every step, and its numbers are "
        "too short-trained to conclude anything from",
    ),
    "small": Budget(
        name="small",
        epochs=6,
        batch_size=128,
        image_size=64,
        amp=None,
        channels_last=True,
        workers=2,
        attack_images=500,
        saliency_images=20,
        bench_flags=("--quick", "--batch-size", "32"),
        meant_for="miniplaces20, 1-2 hours on 2 CPU cores",
    ),
    "full": Budget(
        name="full",
        epochs=60,
        batch_size=256,
        image_size=128,
        amp=None,
        channels_last=True,
        workers=2,
        attack_images=None,
        saliency_images=20,
        bench_flags=(),
        meant_for="the study's settings, for a GPU",
    ),
}
BLOCK_MODELS = ("ourbestnet2", "ourbestnet3", "ourbestnet4")
CONV_STUDY = "conv-study"  # laid out as `scenelab study conv` lays out its folder
CONV_PAIR = (f"{CONV_STUDY}/native", f"{CONV_STUDY}/custom")
FINE_TUNED = "resnet18-pretrained"
# Run folder name (under DIR/runs) -> what the run changes from the budget's recipe.
RUNS: dict[str, dict[str, Any]] = {
    "simplenet": {"model": "simplenet"},
    CONV_PAIR[0]: {"model": "simplenet", "conv": "native"},
    CONV_PAIR[1]: {"model": "simplenet", "conv": "custom"},
    **{model: {"model": model} for model in BLOCK_MODELS},
    "resnet18": {"model": "resnet18"},
    FINE_TUNED: {"model": "resnet18"},  # and the weights of --pretrained
    # The study's adversarial training: PGD-5 at 6/255 aimed at the least-likely class,
    # the target of the attack it is then measured against.
    "simplenet-adv": {"model": "simplenet", "adv": "pgd", "adv_target": "least_likely"},
}


@dataclass(frozen=True)
class Plan:
    """Where everything of one `scenelab reproduce` goes and how each run is configured."""

    data: str
    out: Path
    budget: Budget
    pretrained: str | None = None
    device: str = "auto"

    def command(self, only: int | None = None) -> str:
        """The `scenelab reproduce` command of this plan (of one section with ``only``)."""
        words = ["scenelab", "reproduce", "--data", self.data, "--budget", self.budget.name]
        words += ["--out", str(self.out)]
        if self.pretrained:
            words += ["--pretrained", self.pretrained]
        if self.device != "auto":
            words += ["--device", self.device]
        if only is not None:
            words += ["--only", str(only)]
        return shlex.join(words)

    def run_dir(self, name: str) -> Path:
        return self.out / "runs" / name

    def run_settings(self, name: str) -> dict[str, Any]:
        """The `scenelab train` settings of run ``name`` (RunConfig fields)."""
        settings = {
            "data": self.data,
            **RUNS[name],
            "epochs": self.budget.epochs,
            "batch_size": self.budget.batch_size,
            "image_size": self.budget.image_size,
            "workers": self.budget.workers,
            "out": str(self.run_dir(name)),
        }
        if self.budget.amp is not None:
            settings["amp"] = self.budget.amp
        if self.budget.channels_last:
            settings["channels_last"] = True
        if name == FINE_TUNED:
            settings["pretrained"] = self.pretrained
        if self.device != "auto":
            settings["device"] = self.device
        return settings

    def train_command(self, name: str) -> str:
        """`scenelab train ...` with exactly the settings of run ``name``."""
        words = ["scenelab", "train"]
        for key, value in self.run_settings(name).items():
            flag = f"--{key.replace('_', '-')}"
            words += [flag] if value is True else [flag, str(value)]
        return shlex.join(words)

    def device_type(self) -> str:
        return pick_device(self.device).type

    def threads(self) -> int:
        """CPU threads of the steps run in this process (check, bench, eval, saliency,
        attack): as many as training uses on this data, one for digits, whose tensors are
        too small to share (on a busy machine more threads made them 5x slower)."""
        return dataset_defaults(self.data).threads or torch.get_num_threads()


# --- the state of a run and of a result ------------------------------------------------

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


def metrics_rows(run_dir: Path) -> int:
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return 0
    with path.open(newline="") as file:
        return sum(1 for _ in csv.DictReader(file))


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


# --- steps ----------------------------------------------------------------------------


def run_command(argv: list[str]) -> None:
    """Run a scenelab command in this process, through the CLI's parser; errors propagate."""
    from scenelab.cli import build_parser

    args = build_parser().parse_args(argv)
    args.func(args)


def command_line(argv: list[str]) -> str:
    return shlex.join(["scenelab", *argv])


def checked_state(plan: Plan, name: str) -> tuple[str, RunConfig]:
    """The state of run ``name`` and the config to train it with; refuses a run folder
    that was trained with other settings."""
    settings = plan.run_settings(name)
    run_dir = Path(settings["out"])
    state = run_state(run_dir, plan.budget.epochs)
    if state == NEW:
        return state, RunConfig(**settings)
    saved = RunConfig.from_yaml(run_dir / "config.yaml", flag="")
    wanted = saved.replace(**settings)
    differences = saved.differences(wanted)
    if differences:
        raise ScenelabError(
            f"{run_dir} was trained with other settings than this plan's "
            f"({'; '.join(differences)}); delete it or choose another --out"
        )
    return state, wanted


def train_runs(plan: Plan, names: list[str], timings: Timings, section: int) -> None:
    """Train, in this process and one after the other, the runs that are not finished:
    new ones from the start, stopped ones resumed where they stopped."""
    for name in names:
        state, config = checked_state(plan, name)
        if state != FINISHED:
            with timings.measure(section, name, add=state == PARTIAL):
                train(config, resume=state == PARTIAL)


def train_conv_pair(plan: Plan, timings: Timings) -> None:
    """The native and custom SimpleNet runs, each in a process of its own so that each
    has its own peak memory; new ones side by side on the CPU (`scenelab study conv`)."""
    states = [checked_state(plan, name) for name in CONV_PAIR]
    new = [config for state, config in states if state == NEW]
    if new:
        with timings.measure(3, CONV_STUDY):
            train_side_by_side(new, side_by_side=len(new) > 1 and plan.device_type() == "cpu")
    for state, config in states:
        if state == PARTIAL:
            with timings.measure(3, CONV_STUDY, add=True):
                train_side_by_side([config], side_by_side=False, resume=True)


def best_block_run(plan: Plan) -> str:
    """The OurBestNet variant with the highest best val top-1."""
    return max(BLOCK_MODELS, key=lambda name: max(read_run(plan.run_dir(name)).column("val_top1")))


# The commands of sections 1, 6 and 7 (also printed in the report).


def device(plan: Plan) -> list[str]:
    return [] if plan.device == "auto" else ["--device", plan.device]


def bench_argv(plan: Plan) -> list[str]:
    device = ["--device", "cuda"] if plan.device_type() == "cuda" else []
    json_path = plan.out / "conv" / "bench.json"
    return ["bench", "conv", *plan.budget.bench_flags, *device, "--json", str(json_path)]


def eval_argv(plan: Plan) -> list[str]:
    workers = ["--workers", str(plan.budget.workers)]
    return ["eval", str(plan.run_dir("simplenet")), "--data", plan.data, *workers, *device(plan)]


def saliency_argv(plan: Plan) -> list[str]:
    n = str(plan.budget.saliency_images)
    return [
        "saliency",
        str(plan.run_dir("simplenet")),
        "--data",
        plan.data,
        "--n",
        n,
        *device(plan),
    ]


def attack_argv(plan: Plan, name: str) -> list[str]:
    """The study's attack (PGD-10, 6/255, least-likely target: `scenelab attack`'s defaults)."""
    argv = ["attack", str(plan.run_dir(name)), "--data", plan.data, *device(plan)]
    if plan.budget.attack_images is not None:
        argv += ["--limit", str(plan.budget.attack_images)]
    return argv


# --- the sections -----------------------------------------------------------------------


def conv_check(plan: Plan, timings: Timings) -> None:
    check_path = plan.out / "conv" / "check.json"
    if not check_path.is_file():
        with timings.measure(1, "check"):
            checks = [check.to_dict() for check in check_conv2d()]
            write_json(check_path, checks)
    if not (plan.out / "conv" / "bench.json").is_file():
        with timings.measure(1, "bench"):
            run_command(bench_argv(plan))


def simplenet_training(plan: Plan, timings: Timings) -> None:
    train_runs(plan, ["simplenet"], timings, 2)


def custom_vs_native(plan: Plan, timings: Timings) -> None:
    train_conv_pair(plan, timings)
    summarise_study(plan.run_dir(CONV_STUDY))


def inception_blocks(plan: Plan, timings: Timings) -> None:
    train_runs(plan, list(BLOCK_MODELS), timings, 4)
    compare_runs([plan.run_dir(name) for name in BLOCK_MODELS], plan.out / "compare" / "blocks")


def resnet_vs_ourbestnet(plan: Plan, timings: Timings) -> None:
    train_runs(plan, list(BLOCK_MODELS), timings, 4)
    names = ["resnet18", *([FINE_TUNED] if plan.pretrained else [])]
    train_runs(plan, names, timings, 5)
    runs = [plan.run_dir(name) for name in [*names, best_block_run(plan)]]
    compare_runs(runs, plan.out / "compare" / "resnet")


def evaluation(plan: Plan, timings: Timings) -> None:
    train_runs(plan, ["simplenet"], timings, 2)
    if not is_current(plan.run_dir("simplenet") / "eval.json", plan.run_dir("simplenet")):
        with timings.measure(6, "eval"):
            run_command(eval_argv(plan))


def robustness(plan: Plan, timings: Timings) -> None:
    simplenet = plan.run_dir("simplenet")
    train_runs(plan, ["simplenet"], timings, 2)
    if not is_current(simplenet / "plots" / "saliency_gradient.png", simplenet):
        with timings.measure(7, "saliency"):
            run_command(saliency_argv(plan))
    train_runs(plan, ["simplenet-adv"], timings, 7)
    for name in ("simplenet", "simplenet-adv"):
        if not is_current(plan.run_dir(name) / "attack.json", plan.run_dir(name)):
            with timings.measure(7, f"attack {name}"):
                run_command(attack_argv(plan, name))


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    run: Callable[[Plan, Timings], None]
    runs: tuple[str, ...] = ()  # the run folders whose settings the report states


SECTIONS = (
    Section(1, "The custom convolution: correctness and cost", conv_check),
    Section(2, "SimpleNet training", simplenet_training, ("simplenet",)),
    Section(3, "Custom vs native convolution", custom_vs_native, CONV_PAIR),
    Section(4, "OurBestNet with 2, 3 and 4 Inception blocks", inception_blocks, BLOCK_MODELS),
    Section(
        5,
        "ResNet-18 from scratch and fine-tuned vs OurBestNet",
        resnet_vs_ourbestnet,
        ("resnet18", FINE_TUNED),
    ),
    Section(6, "Evaluation of SimpleNet", evaluation, ("simplenet",)),
    Section(
        7,
        "Saliency, PGD attacks and adversarial training",
        robustness,
        ("simplenet", "simplenet-adv"),
    ),
)


def reproduce(plan: Plan, only: list[int] | None = None) -> tuple[Path, Path]:
    """Run the plan's sections (all, or those numbered in ``only``) and write the report;
    returns the paths of report.md and report.html."""
    from scenelab.report import write_report

    unknown = sorted(set(only or []) - {section.number for section in SECTIONS})
    if unknown:
        raise ScenelabError(f"--only {unknown[0]}: sections are numbered 1 to {len(SECTIONS)}")
    if plan.pretrained and not Path(plan.pretrained).is_file():
        raise ScenelabError(f"--pretrained {plan.pretrained}: no such file")
    check_dataset(plan.data)  # before section 1's minutes of benchmarks
    plan.out.mkdir(parents=True, exist_ok=True)
    timings = Timings(plan.out / "timings.json")
    threads = torch.get_num_threads()
    torch.set_num_threads(plan.threads())
    try:
        for section in SECTIONS:
            if only and section.number not in only:
                continue
            print(f"== {section.number}. {section.title}", flush=True)
            section.run(plan, timings)
    finally:
        torch.set_num_threads(threads)
    return write_report(plan, timings)


def reproduce_command(args: argparse.Namespace) -> int:
    if args.budget not in BUDGETS:
        raise ScenelabError(f"--budget must be one of {', '.join(BUDGETS)}, got {args.budget!r}")
    default = Path("runs") / f"reproduce-{Path(args.data).name}-{args.budget}"
    out = Path(args.out) if args.out else default
    plan = Plan(args.data, out, BUDGETS[args.budget], args.pretrained, args.device)
    markdown, html = reproduce(plan, args.only)
    print(terminal(f"the report is in {markdown} and {html}"))
    return 0
