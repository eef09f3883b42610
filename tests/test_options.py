"""Every command's typed options give back a command line that the real parser reads as the
same options: the command `scenelab reproduce` prints is the one it ran."""

from __future__ import annotations

import dataclasses

import pytest

from scenelab.attacks.report import AttackOptions
from scenelab.bench.conv import BenchOptions
from scenelab.cli import attack, bench, build_parser, compare, eval, predict, saliency, study
from scenelab.compare import CompareOptions
from scenelab.evaluate import EvalOptions
from scenelab.explain.report import SaliencyOptions
from scenelab.predict import PredictOptions
from scenelab.study.conv import ConvStudyOptions

# (the CLI's Namespace -> options function, options); the first of each class is the
# smallest command, so its parse also checks that argparse's defaults are the class's.
CASES = [
    (eval.options, EvalOptions("runs/a")),
    (
        eval.options,
        EvalOptions("runs/a b", "data/x", "test", "flip", "o u t", 7, 0, "cpu"),
    ),
    (predict.options, PredictOptions("runs/a", data="digits")),
    (
        predict.options,
        PredictOptions("r.pt", ("x.png", "folder"), None, "val", 3, "p.csv", 32, 2, "cpu"),
    ),
    (compare.options, CompareOptions(("runs/a", "runs/b"))),
    (compare.options, CompareOptions(("a", "b", "c d"), out="cmp")),
    (attack.options, AttackOptions("runs/a")),
    (
        attack.options,
        AttackOptions(
            "runs/a",
            data="digits",
            split="train",
            epsilon=0.01,
            steps=3,
            step_size=1 / 255,
            target=4,
            no_random_start=True,
            restarts=2,
            sweep=(0.0, 0.5, 3 / 255, 0.1234567),
            limit=64,
            examples=2,
            batch_size=16,
            workers=1,
            seed=5,
            device="cuda:1",
        ),
    ),
    (attack.options, AttackOptions("runs/a", target="untargeted", epsilon=8 / 255)),
    (saliency.options, SaliencyOptions("runs/a")),
    (
        saliency.options,
        SaliencyOptions(
            "runs/a", "digits", "test", 8, "smoothgrad", "loss", 3, 0.25, 4, 16, 2, "m.png", "cpu"
        ),
    ),
    (bench.conv_options, BenchOptions()),
    (
        bench.conv_options,
        BenchOptions(True, 8, 16, 4, "bfloat16", True, "cuda", "conv/bench.json"),
    ),
    (study.conv_options, ConvStudyOptions()),
    (
        study.conv_options,
        ConvStudyOptions("digits", "resnet18", 2, 64, "off", "float64", 16, 3, 0, "cpu", "o", True),
    ),
]


@pytest.mark.parametrize(("parse", "options"), CASES)
def test_to_argv_parses_back_to_the_same_options(parse, options):
    args = build_parser().parse_args(options.to_argv())
    assert parse(args) == options


def test_every_options_class_is_checked_with_each_field_off_its_default():
    checked = {type(options) for _, options in CASES}
    assert checked == {
        AttackOptions,
        BenchOptions,
        CompareOptions,
        ConvStudyOptions,
        EvalOptions,
        PredictOptions,
        SaliencyOptions,
    }
    for cls in checked:
        instances = [options for _, options in CASES if type(options) is cls]
        for field in dataclasses.fields(cls):
            if field.default is not dataclasses.MISSING:
                values = [getattr(options, field.name) for options in instances]
                assert any(value != field.default for value in values), (cls, field.name)


def test_the_command_line_is_the_flags_off_their_defaults_in_field_order():
    assert EvalOptions("runs/a", workers=0).to_argv() == [
        "eval",
        "runs/a",
        "--data",
        "digits",
        "--workers",
        "0",
    ]
    assert BenchOptions(quick=True, batch_size=8, json="b.json").to_argv() == [
        *("bench", "conv", "--quick", "--batch-size", "8", "--json", "b.json"),
    ]
    sweep = AttackOptions("r", sweep=(0.0, 2 / 255), epsilon=0.5).to_argv()
    assert sweep == ["attack", "r", "--epsilon", "0.5", "--sweep", "0/255,2/255"]
