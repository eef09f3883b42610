"""``scenelab train``: flags only; the work is scenelab.train.command.train_command."""

from __future__ import annotations

import argparse

from scenelab.config import AMP_CHOICES, AUGMENT_CHOICES, CONV_CHOICES
from scenelab.train.command import train_command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model (SGD, warm-up + cosine); resumable run folder",
        description=(
            "Train a scene classifier with the study's recipe: SGD with momentum, linear "
            "warm-up then cosine decay per step, cross-entropy. Writes config.yaml, "
            "metrics.csv, TensorBoard events, checkpoints/ and plots/ to --out. Unset "
            "settings come from --config, else from per-dataset defaults (digits: 10 "
            "epochs, batch 32, 32x32; otherwise 60 epochs, batch 256, 128x128)."
        ),
        argument_default=argparse.SUPPRESS,  # only given flags override --config / defaults
    )
    parser.set_defaults(func=train_command, config=None, resume=None)
    source = parser.add_argument_group("run")
    source.add_argument("--config", metavar="YAML", help="settings file (flags override it)")
    source.add_argument(
        "--resume",
        metavar="RUN",
        help="continue the run folder RUN exactly where it stopped (no other flag needed)",
    )
    source.add_argument("--out", metavar="DIR", help="run folder (default runs/MODEL-DATA)")
    source.add_argument(
        "--ckpt-minutes",
        type=float,
        metavar="M",
        help="also save checkpoints/last.pt every M minutes, mid-epoch",
    )

    what = parser.add_argument_group("data and model")
    what.add_argument("--data", help="'digits' (built in, the default) or a dataset folder")
    what.add_argument("--model", help="model name (`scenelab models` lists them)")
    what.add_argument("--conv", choices=CONV_CHOICES, help="convolution implementation")
    what.add_argument(
        "--pretrained",
        metavar="PATH",
        help="torchvision-format state dict to start from (torchvision models only)",
    )
    what.add_argument("--image-size", type=int, metavar="PX", help="square input size")
    what.add_argument("--augment", choices=AUGMENT_CHOICES, help="augmentation recipe")
    what.add_argument("--workers", type=int, help="data-loading processes (default 2)")
    what.add_argument(
        "--strict-data",
        action="store_true",
        help="stop at an undecodable image instead of skipping it",
    )

    recipe = parser.add_argument_group("optimisation")
    recipe.add_argument("--epochs", type=int)
    recipe.add_argument("--batch-size", type=int, help="global batch over all processes")
    recipe.add_argument("--lr", type=float, help="peak learning rate (default 0.1 x batch/256)")
    recipe.add_argument("--wd", type=float, help="weight decay (default 1e-4; 0 during warm-up)")
    recipe.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    recipe.add_argument("--nesterov", action=argparse.BooleanOptionalAction)
    recipe.add_argument("--warmup-epochs", type=float, help="linear warm-up length (default 1)")
    recipe.add_argument("--label-smoothing", type=float, metavar="EPS", help="default 0")
    recipe.add_argument("--seed", type=int, help="default 0")

    speed = parser.add_argument_group("hardware")
    speed.add_argument(
        "--amp", choices=AMP_CHOICES, help="mixed precision (default bf16 where supported)"
    )
    speed.add_argument("--channels-last", action=argparse.BooleanOptionalAction)
    speed.add_argument("--compile", action=argparse.BooleanOptionalAction, help="torch.compile")
    speed.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    speed.add_argument(
        "--threads", type=int, help="CPU threads for compute (default: one per core; digits 1)"
    )
    speed.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        help="torch.use_deterministic_algorithms: bit-exact reruns and resumes",
    )
