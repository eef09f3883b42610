"""`scenelab reproduce`: the whole study in one restartable command, with its report."""

from __future__ import annotations

import argparse

from scenelab.cli.types import count, device, path

BUDGET_CHOICES = ("smoke", "small", "full")


def _sections(text: str) -> list[int]:
    """A type: comma-separated section numbers (reproduce checks that they exist)."""
    try:
        return [count(part) for part in text.split(",") if part.strip()]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of section numbers (1-7)"
        ) from None


def _run(args: argparse.Namespace) -> int:
    from scenelab.study.reproduce import reproduce_study

    keys = ("data", "budget", "out", "pretrained", "device", "pretrain_data", "only")
    reproduce_study(**{key: getattr(args, key) for key in keys})
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="run every experiment of the study and write report.md and report.html",
        description="Run the study's experiments in order: the custom conv check and "
        "benchmark, SimpleNet, custom vs native conv, OurBestNet with 2/3/4 blocks, ResNet-18 "
        "(scratch, fine-tuned with --pretrained) vs OurBestNet, evaluation, saliency, PGD "
        "attacks and adversarial training; then write OUT/report.md and a self-contained "
        "OUT/report.html. Run it again to continue: finished runs are reused, stopped ones "
        "resumed.",
    )
    parser.add_argument(
        "--data",
        type=path,
        default="digits",
        help="'digits' (built in, the default) or a dataset folder",
    )
    parser.add_argument(
        "--budget",
        choices=BUDGET_CHOICES,
        default="smoke",
        help="smoke: 10 epochs at 16x16, minutes on a CPU (made for digits); small: 6 epochs "
        "at 64x64 with bf16 and channels_last, about 3 hours on 2 CPU cores (made for "
        "miniplaces20); full: the study's 60 epochs, batch 256, 128x128, for a GPU "
        "(default: smoke)",
    )
    parser.add_argument(
        "--out", type=path, metavar="DIR", help="output folder (default runs/reproduce-DATA-BUDGET)"
    )
    parser.add_argument(
        "--pretrained",
        type=path,
        metavar="PATH",
        help="torchvision ResNet-18 ImageNet state dict for the fine-tuned run (skipped without "
        "it or --pretrain-data)",
    )
    parser.add_argument(
        "--pretrain-data",
        type=path,
        metavar="ROOT",
        help="instead of --pretrained: a second dataset to train ResNet-18 on first, then "
        "fine-tune it on DATA (its classifier replaced)",
    )
    parser.add_argument(
        "--device", type=device(), default="auto", help="auto (default), cpu, cuda or cuda:N"
    )
    parser.add_argument(
        "--only",
        type=_sections,
        metavar="N[,N...]",
        help="run only these sections (and what they need); the report covers all",
    )
    parser.set_defaults(func=_run)
