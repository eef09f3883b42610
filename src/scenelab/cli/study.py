"""``scenelab study conv``: flags into `ConvStudyOptions`; the work is study.conv.study_conv."""

from __future__ import annotations

import argparse

from scenelab.cli.types import device, path, setting
from scenelab.config import AMP_CHOICES, DTYPE_CHOICES
from scenelab.options import from_arguments
from scenelab.study.conv import ConvStudyOptions, study_conv


def conv_options(args: argparse.Namespace) -> ConvStudyOptions:
    return from_arguments(ConvStudyOptions, args)


def _conv(args: argparse.Namespace) -> int:
    study_conv(conv_options(args))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("study", help="experiments of the study in one command")
    studies = parser.add_subparsers(dest="study", metavar="STUDY", required=True)
    conv = studies.add_parser(
        "conv",
        help="train a model with native and with custom convolutions and compare the runs",
        description=(
            "Train the same model twice, same config, seed and batches: with PyTorch's "
            "convolution and with scenelab's CustomConv2d (OUT/native, OUT/custom). On the "
            "CPU both train at once with half the cores each, so machine load hits both "
            "alike. Then compare them (figures and compare.md in OUT) and report custom/native "
            "time per training image and peak memory, and the largest gap between the two val "
            "top-1 curves (study.json)."
        ),
    )
    conv.set_defaults(func=_conv)
    conv.add_argument(
        "--data", type=path, help="'digits' (built in, the default) or a dataset folder"
    )
    conv.add_argument("--model", help="model name (default simplenet)")
    conv.add_argument(
        "--epochs", type=setting("epochs"), help="default: the dataset's training default"
    )
    conv.add_argument("--batch-size", type=setting("batch_size"))
    conv.add_argument(
        "--amp",
        choices=AMP_CHOICES,
        help="mixed precision of both runs (default: bf16 where the hardware has it, else off)",
    )
    conv.add_argument(
        "--dtype",
        choices=DTYPE_CHOICES,
        help="of parameters and images (default float32); float64 (implies --amp off) "
        "takes rounding out of the comparison",
    )
    conv.add_argument("--image-size", type=setting("image_size"), help="default: the dataset's")
    conv.add_argument("--seed", type=setting("seed"), help="one seed for both runs (default 0)")
    conv.add_argument(
        "--workers", type=setting("workers"), help="data-loading processes per run (default 2)"
    )
    conv.add_argument("--device", type=device(), help="auto (CUDA if there), cpu, cuda, cuda:N")
    conv.add_argument("--out", type=path, metavar="DIR", help="default runs/study-conv-MODEL-DATA")
    conv.add_argument(
        "--control",
        action="store_true",
        help="also train the native convolution in the other memory layout (OUT/control, "
        "after the pair): its val top-1 gap to native is what rounding alone makes",
    )
