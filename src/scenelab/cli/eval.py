"""``scenelab eval``: flags into `EvalOptions`; the work is evaluate.evaluate_checkpoint."""

from __future__ import annotations

import argparse

from scenelab.cli.types import device, path, setting
from scenelab.evaluate import TTA_MODES, EvalOptions, evaluate_checkpoint
from scenelab.options import from_arguments


def options(args: argparse.Namespace) -> EvalOptions:
    return from_arguments(EvalOptions, args)


def _run(args: argparse.Namespace) -> int:
    evaluate_checkpoint(options(args))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="top-1/top-5, per-class accuracy, mAP, confusion matrix and calibration of a model",
        description=(
            "Evaluate a checkpoint (or a run folder: its best.pt, else last.pt) on a dataset "
            "split: top-1 and top-5 (k clipped to the class count), accuracy per class and its "
            "mean, one-vs-rest average precision per class and mAP from the softmax scores, "
            "the confusion matrix and the expected calibration error (15 bins). A class with "
            "no image in the split has no accuracy or AP (n/a) and is left out of both means. "
            "Writes eval.json, confusion.csv, confusion.png and calibration.png to the run "
            "folder (or beside the checkpoint, or to --out) and prints the table; another "
            "split or --tta adds its name to each file (eval_train.json, eval_flip.json, "
            "eval_test_flip.json), so the val results are never overwritten."
        ),
    )
    parser.set_defaults(func=_run)
    parser.add_argument(
        "run", type=path, metavar="RUN|CHECKPOINT", help="run folder or checkpoint file"
    )
    parser.add_argument(
        "--data",
        type=path,
        default="digits",
        help="'digits' (built in, the default) or a dataset folder",
    )
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument(
        "--tta",
        choices=TTA_MODES,
        help="test-time augmentation: flip averages the softmax of each image and its mirror",
    )
    parser.add_argument(
        "--out",
        type=path,
        metavar="DIR",
        help="folder for the results (default: the run folder, or the checkpoint's folder)",
    )
    parser.add_argument("--batch-size", type=setting("batch_size"), default=256, metavar="N")
    parser.add_argument(
        "--workers",
        type=setting("workers"),
        default=2,
        metavar="N",
        help="data-loading processes (default 2)",
    )
    parser.add_argument(
        "--device", type=device(), default="auto", help="auto (CUDA if there), cpu, cuda, cuda:N"
    )
