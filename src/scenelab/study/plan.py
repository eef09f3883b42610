"""The study's plan: the budgets, the run folders and their settings, and the options of
every command the study runs.

The plan is fixed by the data, the budget and the output folder. Each command the study
runs is built here as its typed options, so the command line the report prints
(`to_argv()`) is exactly what ran.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from scenelab.attacks.report import SWEEP, AttackOptions
from scenelab.bench.conv import BenchOptions
from scenelab.checkpoint import CHECKPOINT_DIR
from scenelab.compare import CompareOptions
from scenelab.config import dataset_defaults
from scenelab.device import pick_device
from scenelab.evaluate import EvalOptions
from scenelab.explain.report import SaliencyOptions
from scenelab.options import pixel_text
from scenelab.runs import read_run


@dataclass(frozen=True)
class Budget:
    """How much of the study to run: the same experiments, smaller or larger."""

    name: str
    epochs: int
    batch_size: int
    image_size: int
    amp: str  # "off" (full precision, the trainer's default) or "bf16"
    channels_last: bool  # the fast layout of bf16 convolutions on CPUs and GPUs
    workers: int  # data-loading processes of every run and evaluation
    attack_images: int | None  # val images attacked (None: all)
    epsilon: float  # of the attack and of adversarial training, in pixels
    adversarial_epochs: int  # of the adversarially trained run (PGD training learns slower)
    sweep: tuple[float, ...]  # the attack's other epsilons, for accuracy against epsilon
    saliency_images: int
    bench: dict[str, Any]  # BenchOptions of `scenelab bench conv` (device and json aside)
    meant_for: str


ATTACK_EPSILON = 6 / 255  # the study's (its 0.1 in normalised units)
# Digits are 8x8 scans shown at 32x32, so 16x16 loses nothing and costs a quarter. At that
# size float32 is as fast as bf16 on a CPU, and ResNet-18's 1x1 feature maps overflow bf16
# gradients. Chosen by measurement on digits (SimpleNet, 360 val images, 2 CPU cores): 10
# epochs of batch 16 reach 97.2% val top-1 (2 epochs of 64 left 46.7%); least-likely PGD-10
# lowers top-1 to 23.9% at 32/255 but top-5 only to 75.3%, and to 10.0% / 51.9% at 40/255.
# Digits are far apart: the study's 6/255 barely moves them. At 36/255 (a full run,
# make demo): 97.2% -> 13.9% top-1, 100% -> 63.6% top-5. PGD-5 adversarial training at
# 36/255 learns slower: after 10 epochs it keeps 91.9% clean (still rising), after 15 95.8%.
SMOKE_EPSILON = 36 / 255
SMOKE_ADVERSARIAL_EPOCHS = 15
# What the small and full budgets share: the study's attack and recipe on MiniPlaces.
MINIPLACES_SETTINGS: dict[str, Any] = dict(
    amp="bf16",  # what the earlier studies ran (train defaults to full precision)
    channels_last=True,
    workers=2,
    epsilon=ATTACK_EPSILON,
    sweep=SWEEP,
    saliency_images=20,
)
BUDGETS = {
    "smoke": Budget(
        name="smoke",
        epochs=10,
        batch_size=16,
        image_size=16,
        amp="off",
        channels_last=False,
        workers=0,
        attack_images=None,
        epsilon=SMOKE_EPSILON,
        adversarial_epochs=SMOKE_ADVERSARIAL_EPOCHS,
        sweep=tuple(levels / 255 for levels in (0, 12, 24, 36, 48)),
        saliency_images=8,
        bench={"quick": True, "batch_size": 8},
        meant_for="digits, about 11 minutes on a CPU, trained long enough to test the "
        "conclusions, at an epsilon of 36/255 (digits are far apart)",
    ),
    "small": Budget(
        name="small",
        epochs=6,
        batch_size=128,
        image_size=64,
        attack_images=500,
        adversarial_epochs=6,
        bench={"quick": True, "batch_size": 32},
        **MINIPLACES_SETTINGS,
        meant_for="miniplaces20, about 3 hours on 2 CPU cores with --pretrain-data",
    ),
    "full": Budget(
        name="full",
        epochs=60,
        batch_size=256,
        image_size=128,
        attack_images=None,
        adversarial_epochs=60,
        bench={},
        **MINIPLACES_SETTINGS,
        meant_for="the study's settings, for a GPU",
    ),
}
BLOCK_MODELS = ("ourbestnet2", "ourbestnet3", "ourbestnet4")
CONV_STUDY = "conv-study"  # laid out as `scenelab study conv` lays out its folder
CONV_PAIR = (f"{CONV_STUDY}/native", f"{CONV_STUDY}/custom")
# Native again in the other memory layout: only the summation order differs from native.
CONV_CONTROL = f"{CONV_STUDY}/control"
FINE_TUNED = "resnet18-pretrained"
PRETRAINING = "resnet18-pretraining"  # ResNet-18 trained on --pretrain-data, to fine-tune
ADVERSARIAL = "simplenet-adv"
# Run folder name (under DIR/runs) -> what the run changes from the budget's recipe.
RUNS: dict[str, dict[str, Any]] = {
    "simplenet": {"model": "simplenet"},
    CONV_PAIR[0]: {"model": "simplenet", "conv": "native"},
    CONV_PAIR[1]: {"model": "simplenet", "conv": "custom"},
    CONV_CONTROL: {"model": "simplenet", "conv": "native"},  # and the other memory layout
    **{model: {"model": model} for model in BLOCK_MODELS},
    "resnet18": {"model": "resnet18"},
    FINE_TUNED: {"model": "resnet18"},  # and the weights of --pretrained (or PRETRAINING's)
    PRETRAINING: {"model": "resnet18"},  # on the data of --pretrain-data
    # The study's adversarial training: PGD-5 at the budget's epsilon aimed at the
    # least-likely class, the target of the attack it is then measured against.
    ADVERSARIAL: {"model": "simplenet", "adv": "pgd", "adv_target": "least_likely"},
}


@dataclass(frozen=True)
class Plan:
    """Where everything of one `scenelab reproduce` goes and how each run is configured."""

    data: str
    out: Path
    budget: Budget
    pretrained: str | None = None  # ImageNet weights of the fine-tuned ResNet-18
    device: str = "auto"
    pretrain_data: str | None = None  # else, the data it is pretrained on first

    def command(self, only: int | None = None) -> str:
        """The `scenelab reproduce` command of this plan (of one section with ``only``)."""
        words = ["scenelab", "reproduce", "--data", self.data, "--budget", self.budget.name]
        words += ["--out", str(self.out)]
        if self.pretrained:
            words += ["--pretrained", self.pretrained]
        if self.pretrain_data:
            words += ["--pretrain-data", self.pretrain_data]
        if self.device != "auto":
            words += ["--device", self.device]
        if only is not None:
            words += ["--only", str(only)]
        return shlex.join(words)

    def run_dir(self, name: str) -> Path:
        return self.out / "runs" / name

    def run_settings(self, name: str) -> dict[str, Any]:
        """The `scenelab train` settings of run ``name`` (RunConfig fields)."""
        settings = {
            "data": self.data,
            **RUNS[name],
            "epochs": self.budget.adversarial_epochs if name == ADVERSARIAL else self.budget.epochs,
            "batch_size": self.budget.batch_size,
            "image_size": self.budget.image_size,
            "workers": self.budget.workers,
            "out": str(self.run_dir(name)),
        }
        settings["amp"] = self.budget.amp
        if self.budget.channels_last != (name == CONV_CONTROL):
            settings["channels_last"] = True
        if name == FINE_TUNED:
            settings["pretrained"] = self.pretrained or str(self.run_dir(PRETRAINING))
        if name == PRETRAINING:
            settings["data"] = self.pretrain_data
        if name == ADVERSARIAL and self.budget.epsilon != ATTACK_EPSILON:
            settings["adv_epsilon"] = self.budget.epsilon
        if self.device != "auto":
            settings["device"] = self.device
        return settings

    def train_command(self, name: str) -> str:
        """`scenelab train ...` with exactly the settings of run ``name``."""
        words = ["scenelab", "train"]
        for key, value in self.run_settings(name).items():
            flag = f"--{key.replace('_', '-')}"
            text = pixel_text(value) if key == "adv_epsilon" else str(value)
            words += [flag] if value is True else [flag, text]
        return shlex.join(words)

    def fine_tunes(self) -> bool:
        """Whether section 5 has a fine-tuned run: given weights or data to pretrain on."""
        return bool(self.pretrained or self.pretrain_data)

    def device_type(self) -> str:
        return pick_device(self.device).type

    def threads(self) -> int:
        """CPU threads of the steps run in this process (check, bench, eval, saliency,
        attack): as many as training uses on this data, one for digits, whose tensors are
        too small to share (on a busy machine more threads made them 5x slower)."""
        return dataset_defaults(self.data).threads or torch.get_num_threads()


def best_block_run(plan: Plan) -> str:
    """The OurBestNet variant with the highest best val top-1."""
    return max(BLOCK_MODELS, key=lambda name: max(read_run(plan.run_dir(name)).column("val_top1")))


# The commands of sections 1 and 3 to 7, as they run and as the report prints them.


def bench_options(plan: Plan) -> BenchOptions:
    device = "cuda" if plan.device_type() == "cuda" else "cpu"
    json_path = str(plan.out / "conv" / "bench.json")
    return BenchOptions(**plan.budget.bench, device=device, json=json_path)


def eval_options(plan: Plan) -> EvalOptions:
    run = str(plan.run_dir("simplenet"))
    return EvalOptions(run, data=plan.data, workers=plan.budget.workers, device=plan.device)


def saliency_options(plan: Plan) -> SaliencyOptions:
    run = str(plan.run_dir("simplenet"))
    return SaliencyOptions(run, data=plan.data, n=plan.budget.saliency_images, device=plan.device)


def attack_options(plan: Plan, name: str) -> AttackOptions:
    """The study's attack (PGD-10, 6/255, least-likely target: `scenelab attack`'s defaults)
    on the run's last epoch: one rule for every row of Table 1 (a run's best.pt is chosen
    by val top-1, an adversarially trained one's by robust accuracy on a few images)."""
    run = str(plan.run_dir(name) / CHECKPOINT_DIR / "last.pt")
    budget = plan.budget
    return AttackOptions(
        run,
        data=plan.data,
        epsilon=budget.epsilon,
        sweep=budget.sweep,
        limit=budget.attack_images,
        device=plan.device,
    )


def conv_compare_options(plan: Plan) -> CompareOptions:
    runs = tuple(str(plan.run_dir(name)) for name in (*CONV_PAIR, CONV_CONTROL))
    return CompareOptions(runs, out=str(plan.run_dir(CONV_STUDY)))


def blocks_compare_options(plan: Plan) -> CompareOptions:
    runs = tuple(str(plan.run_dir(name)) for name in BLOCK_MODELS)
    return CompareOptions(runs, out=str(plan.out / "compare" / "blocks"))


def resnet_runs(plan: Plan) -> list[str]:
    """Section 5's ResNet-18 runs, in the order they train: the pretraining (given
    --pretrain-data), from scratch, and fine-tuned (given --pretrained or --pretrain-data)."""
    pretraining = [PRETRAINING] if plan.pretrain_data else []
    return [*pretraining, "resnet18", *([FINE_TUNED] if plan.fine_tunes() else [])]


def resnet_compare_options(plan: Plan) -> CompareOptions:
    """The ResNet-18 runs against the best OurBestNet (section 4's runs must be there)."""
    compared = [name for name in resnet_runs(plan) if name != PRETRAINING]
    runs = tuple(str(plan.run_dir(name)) for name in [*compared, best_block_run(plan)])
    return CompareOptions(runs, out=str(plan.out / "compare" / "resnet"))
