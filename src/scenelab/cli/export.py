"""``scenelab export``: flags only; the work is scenelab.export.export_model."""

from __future__ import annotations

import argparse

from scenelab.cli.types import path
from scenelab.export import FORMATS, export_model
from scenelab.safetext import terminal


def export_command(args: argparse.Namespace) -> int:
    path, sidecar = export_model(args.run, args.format, args.out)
    print(
        f"wrote {terminal(str(path))} and {terminal(sidecar.name)} "
        "(how to feed the model: its metadata)"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run's model as a state dict, safetensors, ONNX or a torch.export program",
        description=(
            "Export the model of a run folder (its best.pt, else last.pt) or checkpoint file. "
            "state-dict and safetensors hold the plain network's weights (a torchvision "
            "model's own keys, loadable with strict=True; its input is (pixels - mean) / std), "
            "onnx and torch-export the whole model taking [0, 1] RGB pixels, any batch size. "
            "Beside the file, PATH.json gives the model name, classes, image size, mean and "
            "std. Existing files are never overwritten."
        ),
    )
    parser.add_argument(
        "run", type=path, metavar="RUN|CHECKPOINT", help="run folder or checkpoint file"
    )
    parser.add_argument(
        "--format", choices=tuple(FORMATS), default="state-dict", help="default: state-dict"
    )
    parser.add_argument(
        "--out",
        type=path,
        metavar="PATH",
        help="output file (default RUN/export/model.SUFFIX, or CHECKPOINT-export.SUFFIX)",
    )
    parser.set_defaults(func=export_command)
