"""``scenelab predict``: flags into `PredictOptions`; the work is scenelab.predict.predict."""

from __future__ import annotations

import argparse

from scenelab.cli.types import count, device, path, setting
from scenelab.options import from_arguments
from scenelab.predict import PredictOptions, predict


def options(args: argparse.Namespace) -> PredictOptions:
    return from_arguments(PredictOptions, args)


def _run(args: argparse.Namespace) -> int:
    predict(options(args))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="the top-5 classes and their probabilities for each image (CSV)",
        description=(
            "Predict with a checkpoint (or a run folder: its best.pt, else last.pt): the top-k "
            "classes by name with their softmax probabilities, for image files (--images) or "
            "for a dataset split (--data, default split test). Prints the first rows and "
            "writes them all to a CSV."
        ),
    )
    parser.set_defaults(func=_run)
    parser.add_argument(
        "run", type=path, metavar="RUN|CHECKPOINT", help="run folder or checkpoint file"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--images",
        type=path,
        nargs="+",
        metavar="PATH",
        help="image files, or folders of image files",
    )
    source.add_argument("--data", type=path, help="'digits' or a dataset folder")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument(
        "--top-k", type=count, metavar="K", help="classes per image (default 5, or the class count)"
    )
    parser.add_argument(
        "--out", type=path, metavar="CSV", help="output file (default RUN/predictions.csv)"
    )
    parser.add_argument("--batch-size", type=setting("batch_size"), default=256, metavar="N")
    parser.add_argument(
        "--workers",
        type=setting("workers"),
        default=0,
        metavar="N",
        help="data-loading processes (default 0)",
    )
    parser.add_argument(
        "--device", type=device(), default="auto", help="auto (CUDA if there), cpu, cuda, cuda:N"
    )
