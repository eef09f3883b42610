"""Hostile inputs, one failure class: Checkpoints and models that do not fit the data or the
model.

Each case is a reliability_corpus.Case run through the real command line by
test_bad_inputs.py; docs/reliability.md's corpus table lists them.

The checkpoints are real: one tiny run is trained once per session (about 2 s) on the
corpus' base dataset, then each case copies it into its own folder as ``{run}`` and
changes one thing in it (a tensor, the class list, a truncated file) or in the dataset.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import torch
from reliability_corpus import (
    CATEGORIES,
    REFUSES,
    TRAIN,
    TRAIN_PER_CLASS,
    VAL_PER_CLASS,
    WORKS,
    Case,
    write_base,
    write_jpeg,
)

from scenelab.cli import main
from scenelab.config import RunConfig

CPU = ("--device", "cpu")
EVAL = ("eval", "{run}", "--data", "{root}", *CPU)
PREDICT = ("predict", "{run}", "--data", "{root}", "--split", "val", *CPU)
PREDICT_FILES = ("predict", "{run}", "--images", "{root}/images/val", *CPU)
ATTACK = ("attack", "{run}", "--steps", "1", "--limit", "2", *CPU)
SALIENCY = ("saliency", "{run}", "--n", "2", *CPU)
RESUME = ("train", "--resume", "{run}")
BEST = r"DIR/run/checkpoints/best\.pt"
LAST = r"DIR/run/checkpoints/last\.pt"
STEM = r"1 shape differs: 1\.weight: file \(64, 3, 3, 3\), model \(64, 3, 7, 7\)"


def _trained_run(base: Path) -> Path:
    """One finished 1-epoch run of the corpus' tiny training, made once in ``base``."""
    run = base / "trained-run"
    if not (run / "checkpoints" / "last.pt").is_file():
        data = base / "trained-data"
        if not data.exists():
            write_base(data)
        argv = [arg.format(root=data, run=run) for arg in TRAIN]
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            assert main(argv) == 0, "the corpus' tiny training failed"
    return run


def copied_run(*changes: Callable[[Path, Path], None]) -> Callable[[Path], None]:
    """A build: the trained run copied to the case's ``{run}``, pointing at the case's
    dataset, then ``change(run, root)`` applied for each change."""

    def build(root: Path) -> None:
        run = root.parent / "run"
        shutil.copytree(_trained_run(root.parent.parent), run)
        config = RunConfig.from_yaml(run / "config.yaml").replace(data=str(root), out=str(run))
        config.to_yaml(run / "config.yaml")
        for name in ("best.pt", "last.pt"):
            edit_checkpoint(name, lambda state: state["config"].update(config.to_dict()))(run, root)
        for change in changes:
            change(run, root)

    return build


def edit_checkpoint(name: str, edit: Callable[[dict[str, Any]], object]) -> Callable:
    """A change: ``edit(state)`` applied to the run's checkpoints/NAME in place."""

    def change(run: Path, root: Path) -> None:
        path = run / "checkpoints" / name
        state = torch.load(path, weights_only=True)
        edit(state)
        torch.save(state, path)

    return change


def both_checkpoints(edit: Callable[[dict[str, Any]], object]) -> list[Callable]:
    return [edit_checkpoint("best.pt", edit), edit_checkpoint("last.pt", edit)]


def small_stem(state: dict[str, Any]) -> None:
    """SimpleNet's 7x7 stem convolution replaced by a 3x3 one."""
    state["model"]["1.weight"] = torch.zeros(64, 3, 3, 3)


def set_classes(*names: str) -> Callable[[dict[str, Any]], None]:
    return lambda state: state.update(classes=list(names))


def set_model(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda state: state["config"].update(model=name)


def truncate(name: str) -> Callable[[Path, Path], None]:
    def change(run: Path, root: Path) -> None:
        path = run / "checkpoints" / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    return change


def keep_previous(name: str) -> Callable[[Path, Path], None]:
    """NAME.prev: a good copy of NAME, as the save before the last leaves it."""

    def change(run: Path, root: Path) -> None:
        shutil.copyfile(run / "checkpoints" / name, run / "checkpoints" / f"{name}.prev")

    return change


def add_class(run: Path, root: Path) -> None:
    """A third class, cave, in every list of the dataset, as a user adds one mid-run."""
    (root / "categories.txt").write_text(CATEGORIES + "/c/cave 2\n")
    train = [f"train/c/cave/{i + 1:08d}.jpg" for i in range(TRAIN_PER_CLASS)]
    val = [f"val/{90 + i:08d}.jpg" for i in range(VAL_PER_CLASS)]
    for seed, name in enumerate(train + val):
        write_jpeg(root / "images" / name, seed=200 + seed)
    for list_file, names in (("train.txt", train), ("val.txt", val)):
        with open(root / list_file, "a") as file:
            file.writelines(f"{name} 2\n" for name in names)


def rename_class(run: Path, root: Path) -> None:
    (root / "categories.txt").write_text(CATEGORIES.replace("/b/beach", "/b/bay"))


def one_class_data(run: Path, root: Path) -> None:
    """The dataset cut down to its first class, abbey."""
    (root / "categories.txt").write_text(CATEGORIES.splitlines()[0] + "\n")
    for list_file in ("train.txt", "val.txt"):
        lines = (root / list_file).read_text().splitlines()
        (root / list_file).write_text("".join(f"{line}\n" for line in lines if line.endswith(" 0")))


def one_class_model(state: dict[str, Any]) -> None:
    """The checkpoint of a 1-class model: the classifier's first row, one class name."""
    state["model"]["19.weight"] = state["model"]["19.weight"][:1].clone()
    state["model"]["19.bias"] = state["model"]["19.bias"][:1].clone()
    state["config"]["num_classes"] = 1
    state["classes"] = ["abbey"]


CASES: list[Case] = [
    # --- tensor shapes ----------------------------------------------------------------------
    Case(
        "a checkpoint that fits (control)",
        EVAL,
        WORKS,
        0,
        r"wrote DIR/run/eval\.json",
        copied_run(),
    ),
    Case(
        "checkpoint tensor of another shape",
        EVAL,
        REFUSES,
        2,
        rf"^scenelab: error: {BEST}: its weights do not fit its config's model \(simplenet, 2 "
        rf"classes\): {STEM}$",
        copied_run(*both_checkpoints(small_stem)),
    ),
    *(
        Case(
            "checkpoint tensor of another shape",
            command,
            REFUSES,
            2,
            rf"{BEST}: its weights do not fit its config's model \(simplenet, 2 classes\): {STEM}",
            copied_run(*both_checkpoints(small_stem)),
        )
        for command in (PREDICT, ATTACK, SALIENCY)
    ),
    Case(
        "checkpoint tensor of another shape",
        RESUME,
        REFUSES,
        2,
        rf"{LAST}: its weights do not fit the run's model \(simplenet, 2 classes\): {STEM}",
        copied_run(*both_checkpoints(small_stem)),
    ),
    Case(
        "checkpoint config names another model",
        EVAL,
        REFUSES,
        2,
        rf"{BEST}: its weights do not fit its config's model \(ourbestnet2, 2 classes\): "
        r"\d+ missing from the file: .*; \d+ not in the model: .*, \.\.\. and \d+ more",
        copied_run(*both_checkpoints(set_model("ourbestnet2"))),
    ),
    # --- class lists ------------------------------------------------------------------------
    *(
        Case(
            f"checkpoint class list shorter than the model's outputs ({command[0]})",
            command,
            REFUSES,
            2,
            rf"{BEST}: its class list holds 1 name but its model has 2 outputs",
            copied_run(edit_checkpoint("best.pt", set_classes("abbey"))),
        )
        for command in (PREDICT, EVAL)
    ),
    Case(
        "checkpoint class list longer than the model's outputs",
        PREDICT_FILES,
        REFUSES,
        2,
        rf"{BEST}: its class list holds 3 names but its model has 2 outputs",
        copied_run(edit_checkpoint("best.pt", set_classes("abbey", "beach", "cave"))),
    ),
    Case(
        "checkpoint class list of numbers, not names",
        PREDICT_FILES,
        REFUSES,
        2,
        rf"{BEST}: its class list is not a list of names: \[0, 1\]",
        copied_run(edit_checkpoint("best.pt", lambda state: state.update(classes=[0, 1]))),
    ),
    Case(
        "eval on a single-class dataset",
        EVAL,
        REFUSES,
        2,
        r"--data ROOT has 1 class \('abbey'\): evaluation needs at least 2",
        copied_run(*both_checkpoints(one_class_model), one_class_data),
    ),
    # --- models too deep for the image size -------------------------------------------------
    Case(
        "--model squeezenet1_0 --image-size 16",
        (*TRAIN, "--model", "squeezenet1_0"),
        REFUSES,
        2,
        r"--model squeezenet1_0 --image-size 16: the model cannot take 16x16 images; the "
        r"smallest size it takes is 21 \(.*Output size is too small\)$",
    ),
    Case(
        "--model squeezenet1_0 --image-size 16",
        ("models", "squeezenet1_0", "--image-size", "16"),
        REFUSES,
        2,
        r"squeezenet1_0 --image-size 16: the model cannot take 16x16 images; the smallest size "
        r"it takes is 21",
        dataset=False,
    ),
    # --- resuming on a dataset that changed -------------------------------------------------
    Case(
        "--resume after a class was added to the dataset",
        RESUME,
        REFUSES,
        2,
        r"--resume DIR/run: the dataset changed: the run was trained on 2 classes but the "
        r"dataset has 3 \(new in the dataset: 'cave'\)",
        copied_run(add_class),
    ),
    Case(
        "--resume after a class was removed from the dataset",
        RESUME,
        REFUSES,
        2,
        r"--resume DIR/run: the dataset changed: the run was trained on 2 classes but the "
        r"dataset has 1 \(gone from it: 'beach'\)",
        copied_run(one_class_data),
    ),
    Case(
        "--resume after a class was renamed in the dataset",
        RESUME,
        REFUSES,
        2,
        r"--resume DIR/run: the dataset changed: the run's classes differ from the dataset's: "
        r"class 1 is 'beach' in the run and 'bay' in the dataset",
        copied_run(rename_class),
    ),
    # --- broken checkpoint files --------------------------------------------------------------
    *(
        Case(
            "truncated best.pt, good last.pt",
            command,
            REFUSES,
            2,
            rf"unreadable checkpoint: {BEST}: not a readable checkpoint .*\. {LAST} is there too, "
            r"with the weights of the run's last epoch",
            copied_run(truncate("best.pt")),
        )
        for command in (EVAL, PREDICT)
    ),
    Case(
        "truncated best.pt, good last.pt, last.pt named",
        ("eval", "{run}/checkpoints/last.pt", "--data", "{root}", *CPU),
        WORKS,
        0,
        r"wrote DIR/run/eval\.json",
        copied_run(truncate("best.pt")),
    ),
    Case(
        "truncated best.pt, good best.pt.prev",
        EVAL,
        WORKS,
        0,
        r"wrote DIR/run/eval\.json",
        copied_run(keep_previous("best.pt"), truncate("best.pt")),
    ),
]
