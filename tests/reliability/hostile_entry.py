"""Hostile inputs, one failure class: Bad values at the entry: flags, YAML configs and stored
configs out of range, and what reaches the error boundary.

Each case is a reliability_corpus.Case run through the real command line by
test_bad_inputs.py; docs/reliability.md's corpus table lists them.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import torch
from reliability_corpus import REFUSES, TRAIN, WORKS, Case, flag_case, write_base

from scenelab.cli import main

BIG_SEED = str(2**64)
SEED_RANGE = r"\[0, 9223372036854775807\]"
_TRAINED: list[Path] = []  # one tiny run, trained once per process and copied for each case


def trained_run(root: Path) -> None:
    """A run folder ``DIR/run`` of one 2-step epoch on the case's dataset ``root``."""
    if not _TRAINED:
        base = Path(tempfile.mkdtemp(prefix="hostile-entry-"))
        write_base(base / "data")
        argv = [a.format(root=base / "data", run=base / "run", dir=base) for a in TRAIN]
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            assert main(argv) == 0
        _TRAINED.append(base / "run")
    shutil.copytree(_TRAINED[0], root.parent / "run")


def run_case(name: str, command: tuple[str, ...], message: str) -> Case:
    """A command on the tiny trained run that must be refused (exit 2) with ``message``."""
    return Case(name, command, REFUSES, 2, message, trained_run)


def stored_config(**config: object):
    """A checkpoint DIR/bad.pt whose stored config is ``config``."""

    def build(root: Path) -> None:
        state = {"model": {}, "config": {"conv": "native", **config}, "classes": ["a", "b"]}
        torch.save(state, root.parent / "bad.pt")

    return build


METRICS = (
    "epoch,train_loss,train_top1,train_top5,val_loss,val_top1,val_top5,epoch_time_s,"
    "images_per_s,peak_memory_mib\n1,1.0,50.0,100.0,1.0,50.0,100.0,1.0,10.0,1.0\n"
)
GOOD_CONFIG = "model: simplenet\nconv: native\nnum_classes: 2\n"


def run_folders(first_config: str):
    """Two hand-made run folders DIR/a and DIR/b; a's config.yaml is ``first_config``."""

    def build(root: Path) -> None:
        for name, config in (("a", first_config), ("b", GOOD_CONFIG)):
            folder = root.parent / name
            folder.mkdir()
            (folder / "metrics.csv").write_text(METRICS)
            (folder / "config.yaml").write_text(config)

    return build


COMPARE = ("compare", "{dir}/a", "{dir}/b", "--out", "{dir}/compared")


CASES: list[Case] = [
    # --- numbers that overflow or leave their range -------------------------------------
    run_case(
        "--epsilon 1e400 (overflows a float)",
        ("attack", "{run}", "--epsilon", "1e400"),
        r"argument --epsilon: .*must be in \[0, 1\]",
    ),
    run_case(
        "--sweep with 1e400",
        ("attack", "{run}", "--sweep", "0,1e400"),
        r"argument --sweep: .*must be in \[0, 1\]",
    ),
    flag_case(
        "--adv-epsilon 1e400",
        ("--adv", "pgd", "--adv-epsilon", "1e400"),
        r"argument --adv-epsilon: .*must be in \[0, 1\]",
    ),
    flag_case("--seed 2**64", ("--seed", BIG_SEED), rf"argument --seed: .*in {SEED_RANGE}"),
    flag_case("negative --seed", ("--seed", "-1"), rf"argument --seed: .*in {SEED_RANGE}"),
    Case("the largest --seed, 2**63-1", (*TRAIN, "--seed", str(2**63 - 1)), WORKS, 0, "trained"),
    Case(
        "config: seed 2**64",
        ("train", "--config", "{dir}/config.yaml", *TRAIN[1:]),
        REFUSES,
        2,
        rf"DIR/config\.yaml: seed must be a whole number in {SEED_RANGE}, got {BIG_SEED}",
        lambda root: (root.parent / "config.yaml").write_text(f"seed: {BIG_SEED}\n"),
    ),
    flag_case(
        "--workers -1", ("--workers", "-1"), r"argument --workers: .*in \[0, 256\], got '-1'"
    ),
    run_case(
        "attack --workers -1",
        ("attack", "{run}", "--workers", "-1"),
        r"argument --workers: .*in \[0, 256\], got '-1'",
    ),
    run_case(
        "saliency --batch-size 0",
        ("saliency", "{run}", "--batch-size", "0"),
        r"argument --batch-size: .*in \[1, 65536\], got '0'",
    ),
    run_case(
        "SmoothGrad --noise nan",
        ("saliency", "{run}", "--method", "smoothgrad", "--noise", "nan"),
        r"argument --noise: must be a finite number >= 0, got 'nan'",
    ),
    run_case("attack --steps 0", ("attack", "{run}", "--steps", "0"), r"argument --steps: .*>= 1"),
    run_case(
        "predict --top-k 0",
        ("predict", "{run}", "--data", "{root}", "--top-k", "0"),
        r"argument --top-k: .*>= 1",
    ),
    run_case(
        "eval --batch-size in Arabic-Indic digits",
        ("eval", "{run}", "--data", "{root}", "--batch-size", "\u0661\u0666"),
        r"argument --batch-size: must be a whole number",
    ),
    Case(
        "models --num-classes 0",
        ("models", "simplenet", "--num-classes", "0"),
        REFUSES,
        2,
        r"argument --num-classes: .*in \[1, 100000\]",
        dataset=False,
    ),
    Case(
        "bench conv --repeats 0",
        ("bench", "conv", "--repeats", "0"),
        REFUSES,
        2,
        r"argument --repeats: .*>= 1",
        dataset=False,
    ),
    run_case(
        "saliency --batch-size 2**63 (found by the CLI fuzz test)",
        ("saliency", "{run}", "--batch-size", str(2**63)),
        r"argument --batch-size: must be a whole number in \[1, 65536\]",
    ),
    Case(
        "models --image-size 2**63 (found by the CLI fuzz test)",
        ("models", "simplenet", "--image-size", str(2**63)),
        REFUSES,
        2,
        r"argument --image-size: must be a whole number in \[8, 1024\]",
        dataset=False,
    ),
    Case(
        "bench conv --device val (found by the CLI fuzz test)",
        ("bench", "conv", "--device", "val"),
        REFUSES,
        2,
        r"argument --device: must be cpu, cuda or cuda:N, got 'val'",
        dataset=False,
    ),
    Case(
        "data download --mirror without a scheme (found by the CLI fuzz test)",
        ("data", "download", "miniplaces", "{dir}/dl", "--mirror", "{dir}/mirror"),
        REFUSES,
        2,
        r"argument --mirror: must be a URL",
        dataset=False,
    ),
    # --- empty paths ----------------------------------------------------------------------
    flag_case('train --out ""', ("--out", ""), r"argument --out: must not be empty"),
    Case(
        'data verify ""',
        ("data", "verify", ""),
        REFUSES,
        2,
        r"argument ROOT: must not be empty",
        dataset=False,
    ),
    # --- the config a checkpoint stores ---------------------------------------------------
    Case(
        "checkpoint config: num_classes -5",
        ("eval", "{dir}/bad.pt", "--data", "{root}"),
        REFUSES,
        2,
        r"DIR/bad\.pt \(stored config\): num_classes must be a whole number in \[1, 100000\]",
        stored_config(model="simplenet", num_classes=-5),
    ),
    Case(
        "checkpoint config: num_classes 10**13",
        ("eval", "{dir}/bad.pt", "--data", "{root}"),
        REFUSES,
        2,
        r"DIR/bad\.pt \(stored config\): num_classes must be .*got 10000000000000",
        stored_config(model="simplenet", num_classes=10**13),
    ),
    # --- compare --------------------------------------------------------------------------
    Case(
        "compare: config.yaml with a python tag",
        COMPARE,
        REFUSES,
        2,
        r"DIR/a/config\.yaml:1: not valid YAML \(could not determine a constructor",
        run_folders('model: !!python/object/apply:os.system ["echo hi"]\n' + GOOD_CONFIG[17:]),
        dataset=False,
    ),
    Case(
        "compare: config.yaml without model:",
        COMPARE,
        REFUSES,
        2,
        r"DIR/a/config\.yaml: lacks model",
        run_folders("conv: native\nnum_classes: 2\n"),
        dataset=False,
    ),
    Case(
        "compare RUN RUN",
        ("compare", "{dir}/a", "{dir}/a", "--out", "{dir}/compared"),
        REFUSES,
        2,
        r"compare: DIR/a is named twice",
        run_folders(GOOD_CONFIG),
        dataset=False,
    ),
]
