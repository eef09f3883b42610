"""The study's sections: each with its number, its title, what it runs, how the report
renders it, its verdicts on the study's conclusions, and the run folders whose settings
the report states."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scenelab.document import Block
from scenelab.study import judge, render_conv, render_results, render_training, steps
from scenelab.study.plan import BLOCK_MODELS, CONV_PAIR, FINE_TUNED, Plan
from scenelab.study.state import Timings
from scenelab.study.verdicts import Verdict


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    run: Callable[[Plan, Timings], None]
    render: Callable[[Plan], list[Block]]
    judge: Callable[[Plan], list[Verdict]]
    runs: tuple[str, ...] = ()  # the run folders whose settings the report states


SECTIONS = (
    Section(
        1,
        "The custom convolution: correctness and cost",
        steps.conv_check,
        render_conv.conv_section,
        judge.conv_check,
    ),
    Section(
        2,
        "SimpleNet training",
        steps.simplenet_training,
        render_training.simplenet_section,
        judge.simplenet,
        ("simplenet",),
    ),
    Section(
        3,
        "Custom vs native convolution",
        steps.custom_vs_native,
        render_conv.conv_study_section,
        judge.conv_study,
        CONV_PAIR,
    ),
    Section(
        4,
        "OurBestNet with 2, 3 and 4 Inception blocks",
        steps.inception_blocks,
        render_training.blocks_section,
        judge.blocks,
        BLOCK_MODELS,
    ),
    Section(
        5,
        "ResNet-18 from scratch and fine-tuned vs OurBestNet",
        steps.resnet_vs_ourbestnet,
        render_training.resnet_section,
        judge.transfer,
        ("resnet18", FINE_TUNED),
    ),
    Section(
        6,
        "Evaluation of SimpleNet",
        steps.evaluation,
        render_results.evaluation_section,
        judge.evaluation,
        ("simplenet",),
    ),
    Section(
        7,
        "Saliency, PGD attacks and adversarial training",
        steps.robustness,
        render_results.robustness_section,
        judge.robustness,
        ("simplenet", "simplenet-adv"),
    ),
)
