"""`scenelab attack RUN`: flags into `AttackOptions`; the work is
scenelab.attacks.report.attack_run (clean vs under-attack accuracy, a sweep, examples)."""

from __future__ import annotations

import argparse

from scenelab.attacks.report import AttackOptions, attack_run
from scenelab.cli.types import class_index, count, device, path, pixel_list, pixels, setting
from scenelab.options import from_arguments

DEFAULT_SWEEP = "0,1/255,2/255,4/255,6/255,8/255"


def parse_target(text: str) -> str | int:
    """``untargeted``, ``least_likely`` (or ``least-likely``) or a class index."""
    name = text.strip().replace("-", "_")
    if name in ("untargeted", "least_likely"):
        return name
    try:
        return class_index(name)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not 'untargeted', 'least_likely' or a class index (0, 1, ...)"
        ) from None


def options(args: argparse.Namespace) -> AttackOptions:
    return from_arguments(AttackOptions, args)


def _run(args: argparse.Namespace) -> int:
    attack_run(options(args))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "attack",
        help="accuracy under an L-infinity PGD attack, an epsilon sweep and example images",
        description="Attack a trained model with L-infinity PGD in pixel space (Madry et al. "
        "2017) and report clean vs under-attack top-1/top-5, the targeted success rate and "
        "an epsilon sweep. Writes attack.json in the run folder, plots/attack_sweep.png and "
        "plots/attack_examples.png. Defaults mirror the study: 10 steps, epsilon 6/255 (its "
        "0.1 in normalised units), the least-likely class as target.",
    )
    parser.add_argument("run", type=path, metavar="RUN", help="run folder or checkpoint file")
    parser.add_argument(
        "--data", type=path, help="dataset: a folder or 'digits' (default: the run's data)"
    )
    parser.add_argument("--split", default="val", help="split to attack (default: val)")
    parser.add_argument(
        "--epsilon",
        type=pixels(),
        default=6 / 255,
        help="L-infinity budget in pixels, a number or a fraction like 6/255 (default: 6/255)",
    )
    parser.add_argument("--steps", type=count, default=10, help="PGD steps (default: 10)")
    parser.add_argument(
        "--step-size",
        type=pixels("step size"),
        default=None,
        help="step in pixels (default: 2.5*epsilon/steps, Madry et al.; capped at epsilon "
        "without a random start); the sweep's other epsilons always use the default rule",
    )
    parser.add_argument(
        "--target",
        type=parse_target,
        default="least_likely",
        help="least_likely (the study's choice), untargeted, or a class index "
        "(default: least_likely)",
    )
    parser.add_argument(
        "--no-random-start",
        action="store_true",
        help="start from the clean image instead of a uniform random point of the ball",
    )
    parser.add_argument(
        "--restarts",
        type=count,
        default=1,
        help="random restarts; each image keeps its strongest run (default: 1)",
    )
    parser.add_argument(
        "--sweep",
        type=pixel_list,
        default=DEFAULT_SWEEP,
        help=f"comma-separated epsilons for the accuracy-vs-epsilon plot (default: "
        f"{DEFAULT_SWEEP})",
    )
    parser.add_argument(
        "--limit",
        type=count,
        default=None,
        help="attack this many images spread evenly over the split (default: all)",
    )
    parser.add_argument(
        "--examples", type=count, default=6, help="images in the examples figure (default: 6)"
    )
    parser.add_argument(
        "--batch-size", type=setting("batch_size"), default=128, help="default: 128"
    )
    parser.add_argument(
        "--workers", type=setting("workers"), default=0, help="data-loading processes (default: 0)"
    )
    parser.add_argument(
        "--seed", type=setting("seed"), default=0, help="seed of the random starts (default: 0)"
    )
    parser.add_argument(
        "--device", type=device(), default="auto", help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    parser.set_defaults(func=_run)
