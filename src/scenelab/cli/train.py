"""``scenelab train``: flags only; the work is scenelab.train.command.train_command."""

from __future__ import annotations

import argparse

from scenelab.attack_settings import ADV_CHOICES, ADV_TARGETS
from scenelab.cli.types import device, path, pixels, setting
from scenelab.config import (
    AMP_CHOICES,
    AUGMENT_CHOICES,
    CONV_CHOICES,
    DTYPE_CHOICES,
    OPT_CHOICES,
)
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
    source.add_argument(
        "--config", type=path, metavar="YAML", help="settings file (flags override it)"
    )
    source.add_argument(
        "--resume",
        type=path,
        metavar="RUN",
        help="continue the run folder RUN (or the run of a checkpoint in it) exactly where it "
        "stopped (no other flag needed); with a larger --epochs, extend it",
    )
    source.add_argument(
        "--out", type=path, metavar="DIR", help="run folder (default runs/MODEL-DATA)"
    )
    source.add_argument(
        "--ckpt-minutes",
        type=setting("ckpt_minutes"),
        metavar="M",
        help="also save checkpoints/last.pt every M minutes, mid-epoch",
    )

    what = parser.add_argument_group("data and model")
    what.add_argument(
        "--data",
        type=path,
        metavar="ROOT",
        help="'digits' (built in, the default) or a dataset folder",
    )
    what.add_argument("--model", metavar="NAME", help="model name (`scenelab models` lists them)")
    what.add_argument("--conv", choices=CONV_CHOICES, help="convolution implementation")
    what.add_argument(
        "--pretrained",
        type=path,
        metavar="PATH",
        help="weights to start from (torchvision models only; the classifier is new): a "
        "torchvision-format state dict, or a scenelab run folder or checkpoint (its backbone)",
    )
    what.add_argument(
        "--image-size", type=setting("image_size"), metavar="PX", help="square input size"
    )
    what.add_argument("--augment", choices=AUGMENT_CHOICES, help="augmentation recipe")
    what.add_argument(
        "--workers",
        type=setting("workers"),
        metavar="N",
        help="data-loading processes (default 2; digits 0)",
    )
    what.add_argument(
        "--strict-data",
        action="store_true",
        help="stop at an undecodable image instead of skipping it",
    )
    what.add_argument(
        "--cache-images",
        action=argparse.BooleanOptionalAction,
        help="decode every image once, at start, and keep it in memory (3 x H x W bytes "
        "each) instead of decoding it every epoch",
    )

    recipe = parser.add_argument_group("optimisation")
    recipe.add_argument(
        "--epochs", type=setting("epochs"), metavar="N", help="default 60; digits 10"
    )
    recipe.add_argument(
        "--limit-train-batches",
        type=setting("limit_train_batches"),
        metavar="N",
        help="train on the first N batches of each epoch's shuffled order only, for smoke "
        "runs (validation stays whole; the schedule spans the shortened epochs)",
    )
    recipe.add_argument(
        "--max-steps",
        type=setting("max_steps"),
        metavar="N",
        help="stop after N optimizer steps, the last epoch cut short there (validated and "
        "saved); the schedule is planned for N steps (as Hugging Face's Trainer)",
    )
    recipe.add_argument(
        "--accum-steps",
        type=setting("accum_steps"),
        metavar="K",
        help="sum the gradients of K batches into each optimizer step: the step of a batch "
        "K times larger, in the memory of one (default 1; BatchNorm still sees each batch)",
    )
    recipe.add_argument(
        "--val-every",
        type=setting("val_every"),
        metavar="N",
        help="validate every N epochs and after the last (default 1); the others' val "
        "columns in metrics.csv are NaN, and best.pt is chosen among validated epochs",
    )
    recipe.add_argument(
        "--batch-size",
        type=setting("batch_size"),
        metavar="N",
        help="global batch over all processes (256; digits 32)",
    )
    recipe.add_argument(
        "--lr", type=setting("lr"), help="peak learning rate (default 0.1 x batch/256)"
    )
    recipe.add_argument(
        "--wd", type=setting("wd"), help="weight decay (default 1e-4; 0 during warm-up)"
    )
    recipe.add_argument(
        "--opt", choices=OPT_CHOICES, help="optimiser: sgd (default, with momentum) or adamw"
    )
    recipe.add_argument(
        "--momentum", type=setting("momentum"), metavar="M", help="SGD momentum (default 0.9)"
    )
    recipe.add_argument("--nesterov", action=argparse.BooleanOptionalAction)
    recipe.add_argument(
        "--warmup-epochs",
        type=setting("warmup_epochs"),
        metavar="E",
        help="linear warm-up length (default 1)",
    )
    recipe.add_argument(
        "--label-smoothing", type=setting("label_smoothing"), metavar="EPS", help="default 0"
    )
    recipe.add_argument(
        "--grad-clip",
        type=setting("grad_clip"),
        metavar="NORM",
        help="scale the gradients down to this total L2 norm when above it (default: off)",
    )
    recipe.add_argument(
        "--ema",
        type=setting("ema"),
        metavar="DECAY",
        help="also keep an exponential moving average of the weights (torch.optim.swa_utils."
        "AveragedModel, e.g. 0.999 per step), evaluated each epoch and saved in the checkpoints",
    )
    recipe.add_argument(
        "--mixup",
        type=setting("mixup"),
        metavar="ALPHA",
        help="MixUp of each batch (torchvision.transforms.v2.MixUp, Beta(ALPHA, ALPHA))",
    )
    recipe.add_argument(
        "--cutmix",
        type=setting("cutmix"),
        metavar="ALPHA",
        help="CutMix of each batch (v2.CutMix); with --mixup, one of the two per batch",
    )
    recipe.add_argument("--seed", type=setting("seed"), metavar="N", help="default 0")

    adversarial = parser.add_argument_group(
        "adversarial training",
        "L-infinity examples made on the fly for every batch, in pixel units. Each epoch "
        "also logs robust val accuracy (10-step untargeted PGD at the same epsilon on the "
        "first 512 val images); best.pt is then the most robust epoch, and training stops "
        "if robust accuracy collapses (catastrophic overfitting).",
    )
    adversarial.add_argument(
        "--adv",
        choices=ADV_CHOICES,
        help="pgd (Madry et al. 2017) or fgsm-rs (one step of 1.25 epsilon from a random "
        "start, Wong et al. 2020); default none",
    )
    adversarial.add_argument(
        "--adv-steps",
        type=setting("adv_steps"),
        metavar="N",
        help="PGD steps (default 5, the study's)",
    )
    adversarial.add_argument(
        "--adv-epsilon",
        type=pixels(),
        metavar="EPS",
        help="budget in pixels, a number or a fraction like 6/255 (default 6/255)",
    )
    adversarial.add_argument(
        "--adv-step-size",
        type=pixels("step size"),
        metavar="STEP",
        help="step in pixels (default 2.5*epsilon/steps for pgd, 1.25*epsilon for fgsm-rs)",
    )
    adversarial.add_argument(
        "--adv-target",
        choices=ADV_TARGETS,
        help="untargeted (default: raise the true label's loss) or least_likely (the study's)",
    )
    adversarial.add_argument(
        "--adv-random-start",
        action=argparse.BooleanOptionalAction,
        help="start each PGD walk at a uniform random point of the ball (default: yes)",
    )

    speed = parser.add_argument_group("hardware")
    speed.add_argument(
        "--amp",
        choices=AMP_CHOICES,
        help="mixed precision (default off: full precision; validation is always in it)",
    )
    speed.add_argument(
        "--dtype",
        choices=DTYPE_CHOICES,
        help="of parameters and images (default float32); float64 implies --amp off",
    )
    speed.add_argument("--channels-last", action=argparse.BooleanOptionalAction)
    speed.add_argument("--compile", action=argparse.BooleanOptionalAction, help="torch.compile")
    speed.add_argument(
        "--device", type=device(), metavar="DEV", help="auto (default), cpu, cuda or cuda:N"
    )
    speed.add_argument(
        "--threads",
        type=setting("threads"),
        metavar="N",
        help="CPU threads for compute (default: one per core; digits 1)",
    )
    speed.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        help="torch.use_deterministic_algorithms: bit-exact reruns and resumes",
    )
