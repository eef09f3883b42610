"""`scenelab saliency RUN`: flags into `SaliencyOptions`; the work is
scenelab.explain.report.saliency_figure (a grid of images and their saliency maps)."""

from __future__ import annotations

import argparse

from scenelab.cli.types import count, device, non_negative, path, setting
from scenelab.explain.report import SaliencyOptions, saliency_figure
from scenelab.options import from_arguments


def options(args: argparse.Namespace) -> SaliencyOptions:
    return from_arguments(SaliencyOptions, args)


def _run(args: argparse.Namespace) -> int:
    saliency_figure(options(args))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "saliency",
        help="saliency maps of a trained model: image, heat map, predicted and true class",
        description="Draw N images of a split beside their saliency maps (the study's Figure "
        "12): vanilla gradient (Simonyan et al. 2014), SmoothGrad (Smilkov et al. 2017) or "
        "Integrated Gradients (Sundararajan et al. 2017), for the predicted class. Writes "
        "plots/saliency_METHOD.png in the run folder.",
    )
    parser.add_argument("run", type=path, metavar="RUN", help="run folder or checkpoint file")
    parser.add_argument(
        "--data", type=path, help="dataset: a folder or 'digits' (default: the run's data)"
    )
    parser.add_argument("--split", default="val", help="split to draw from (default: val)")
    parser.add_argument(
        "--n", type=count, default=20, help="images, spread evenly over the split (default: 20)"
    )
    parser.add_argument(
        "--method",
        choices=["gradient", "smoothgrad", "integrated_gradients"],
        default="gradient",
        help="default: gradient",
    )
    parser.add_argument(
        "--score",
        choices=["logit", "loss"],
        default="logit",
        help="differentiate the class logit (Simonyan et al.) or its cross-entropy loss "
        "(the study's variant) (default: logit)",
    )
    parser.add_argument(
        "--samples", type=count, default=50, help="SmoothGrad: noisy copies (default: 50)"
    )
    parser.add_argument(
        "--noise",
        type=non_negative,
        default=0.15,
        help="SmoothGrad: noise standard deviation as a fraction of each image's range "
        "(default: 0.15)",
    )
    parser.add_argument(
        "--steps",
        type=count,
        default=50,
        help="Integrated Gradients: quadrature nodes (default: 50)",
    )
    parser.add_argument(
        "--batch-size", type=setting("batch_size"), default=64, help="inputs per pass (default: 64)"
    )
    parser.add_argument(
        "--seed", type=setting("seed"), default=0, help="SmoothGrad noise seed (default: 0)"
    )
    parser.add_argument(
        "--out", type=path, help="PNG path (default: RUN/plots/saliency_METHOD.png)"
    )
    parser.add_argument(
        "--device", type=device(), default="auto", help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    parser.set_defaults(func=_run)
