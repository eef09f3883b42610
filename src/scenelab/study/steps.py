"""What each section of the study runs, restartably: what is finished is reused.

Training runs in this process, one after the other, except the custom-vs-native pair
(and its native-vs-native control), whose subject is memory: each has a process of its
own, so that its peak memory is its own, and on the CPU the pair trains side by side, as
`scenelab study conv --control` does. (A process costs seconds of imports; the other runs
need none.)

The other commands (bench conv, eval, saliency, attack, compare) are library calls with
the typed options of `scenelab.study.plan`; the command line each stands for is printed
before it runs and is the one the report shows.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from scenelab.attacks.report import attack_run
from scenelab.bench.conv import bench_conv
from scenelab.compare import CompareOptions, compare_runs
from scenelab.device import pick_device
from scenelab.evaluate import evaluate_checkpoint
from scenelab.explain.report import saliency_figure
from scenelab.files import write_json
from scenelab.ops.check import check_conv2d
from scenelab.options import Command
from scenelab.safetext import terminal
from scenelab.study.conv import summarise_study, train_side_by_side
from scenelab.study.focus import FOCUS_FILE, focus_of_run, read_focus
from scenelab.study.plan import (
    ADVERSARIAL,
    BLOCK_MODELS,
    CONV_CONTROL,
    CONV_PAIR,
    CONV_STUDY,
    Plan,
    attack_options,
    bench_options,
    blocks_compare_options,
    eval_options,
    resnet_compare_options,
    resnet_runs,
    saliency_options,
)
from scenelab.study.render import command_line
from scenelab.study.state import FINISHED, NEW, PARTIAL, Timings, checked_state, is_current
from scenelab.study.step_time import STEP_TIMES_FILE, time_steps
from scenelab.train.engine import train

log = logging.getLogger(__name__)


def train_runs(plan: Plan, names: list[str], timings: Timings, section: int) -> None:
    """Train, in this process and one after the other, the runs that are not finished:
    new ones from the start, stopped ones resumed where they stopped."""
    for name in names:
        state, config = checked_state(plan, name)
        if state != FINISHED:
            with timings.measure(section, name, add=state == PARTIAL):
                train(config, resume=state == PARTIAL)


def train_conv_study(plan: Plan, timings: Timings) -> None:
    """The native and custom SimpleNet runs, each in a process of its own so that each
    has its own peak memory; new ones side by side on the CPU; then the native-vs-native
    control alone (`scenelab study conv --control`)."""
    states = [checked_state(plan, name) for name in CONV_PAIR]
    new = [config for state, config in states if state == NEW]
    if new:
        with timings.measure(3, CONV_STUDY):
            train_side_by_side(new, side_by_side=len(new) > 1 and plan.device_type() == "cpu")
    for state, config in states:
        if state == PARTIAL:
            with timings.measure(3, CONV_STUDY, add=True):
                train_side_by_side([config], side_by_side=False, resume=True)
    state, config = checked_state(plan, CONV_CONTROL)
    if state != FINISHED:
        with timings.measure(3, CONV_STUDY, add=True):
            train_side_by_side([config], side_by_side=False, resume=state == PARTIAL)


def announce(options: Command) -> None:
    """Print the command line that the options stand for, before they run."""
    log.info(terminal(f"$ {command_line(options.to_argv())}"))


def compare(options: CompareOptions) -> None:
    """`scenelab compare` without its printed table (the report holds it)."""
    compare_runs(list(options.runs), options.out_folder())


# --- the sections -----------------------------------------------------------------------


def conv_check(plan: Plan, timings: Timings) -> None:
    check_path = plan.out / "conv" / "check.json"
    if not check_path.is_file():
        with timings.measure(1, "check"):
            checks = [check.to_dict() for check in check_conv2d()]
            write_json(check_path, checks)
    if not (plan.out / "conv" / "bench.json").is_file():
        with timings.measure(1, "bench"):
            options = bench_options(plan)
            announce(options)
            bench_conv(options)


def simplenet_training(plan: Plan, timings: Timings) -> None:
    train_runs(plan, ["simplenet"], timings, 2)


def custom_vs_native(plan: Plan, timings: Timings) -> None:
    train_conv_study(plan, timings)
    summarise_study(plan.run_dir(CONV_STUDY))


def inception_blocks(plan: Plan, timings: Timings) -> None:
    train_runs(plan, list(BLOCK_MODELS), timings, 4)
    options = blocks_compare_options(plan)
    compare(options)
    run_dirs = [plan.run_dir(name) for name in BLOCK_MODELS]
    times = options.out_folder() / STEP_TIMES_FILE
    if not all(is_current(times, run_dir) for run_dir in run_dirs):
        with timings.measure(4, "step times"):
            log.info(f"timing a training step of {', '.join(BLOCK_MODELS)}, interleaved")
            write_json(times, asdict(time_steps(run_dirs)))


def resnet_vs_ourbestnet(plan: Plan, timings: Timings) -> None:
    train_runs(plan, list(BLOCK_MODELS), timings, 4)
    train_runs(plan, resnet_runs(plan), timings, 5)
    compare(resnet_compare_options(plan))


def evaluation(plan: Plan, timings: Timings) -> None:
    train_runs(plan, ["simplenet"], timings, 2)
    if not is_current(plan.run_dir("simplenet") / "eval.json", plan.run_dir("simplenet")):
        with timings.measure(6, "eval"):
            options = eval_options(plan)
            announce(options)
            evaluate_checkpoint(options)


def robustness(plan: Plan, timings: Timings) -> None:
    simplenet = plan.run_dir("simplenet")
    train_runs(plan, ["simplenet"], timings, 2)
    focus = simplenet / "plots" / FOCUS_FILE
    figure = simplenet / "plots" / "saliency_gradient.png"
    if not is_current(figure, simplenet):
        with timings.measure(7, "saliency"):
            options = saliency_options(plan)
            announce(options)
            saliency_figure(options)
    if not (is_current(focus, simplenet) and read_focus(focus)):
        with timings.measure(7, "saliency deletion"):
            device = pick_device(plan.device)
            write_json(focus, focus_of_run(simplenet, plan.data, device).to_dict())
    train_runs(plan, [ADVERSARIAL], timings, 7)
    for name in ("simplenet", ADVERSARIAL):
        if not is_current(plan.run_dir(name) / "attack.json", plan.run_dir(name)):
            with timings.measure(7, f"attack {name}"):
                options = attack_options(plan, name)
                announce(options)
                attack_run(options)
