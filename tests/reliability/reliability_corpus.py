"""The bad-inputs corpus: broken (and merely unusual) datasets, configs and flags, each run
through the real command line, with the outcome scenelab promises for it.

List-file quirks are shown to work with `data verify`, which parses and decodes exactly as
`train` does; image quirks are trained on, since the transforms see them too.

Every dataset case starts from a small valid MiniPlaces-layout dataset and changes one
thing. `run_case` runs the command in this process (``scenelab.cli.main``), catching
what it prints; `markdown_table` renders the outcomes for docs/reliability.md.
"""

from __future__ import annotations

import io
import logging
import struct
import traceback
import zlib
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from scenelab.cli import main

CATEGORIES = "/a/abbey 0\n/b/beach 1\n"
TRAIN_PER_CLASS, VAL_PER_CLASS = 4, 2

# What a case must end with.
WORKS = "works"
SKIPS = "works; skips the image with a warning"
LISTS = "lists every problem (file:line), exit 1"
REFUSES = "refused with a clear error"


def image_array(seed: int, size: tuple[int, int] = (24, 24)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def write_jpeg(path: Path, seed: int, size: tuple[int, int] = (24, 24)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_array(seed, size)).save(path, format="JPEG", quality=90)


def png_bytes(width: int, height: int, bit_depth: int, rows: bytes, claimed_rows: int = 0) -> bytes:
    """An RGB PNG written by hand (PIL cannot write 16-bit RGB): IHDR, IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png16(array: np.ndarray) -> bytes:
    """A 16-bit RGB PNG of ``array`` (H, W, 3) uint16."""
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in array)
    return png_bytes(array.shape[1], array.shape[0], 16, rows)


def write_base(root: Path) -> None:
    """A valid MiniPlaces root: 2 classes, 8 train and 4 val 24x24 JPEGs."""
    train, val = [], []
    for label, folder in enumerate(("a/abbey", "b/beach")):
        for index in range(TRAIN_PER_CLASS):
            name = f"train/{folder}/{index + 1:08d}.jpg"
            write_jpeg(root / "images" / name, seed=10 * label + index)
            train.append(f"{name} {label}")
        for index in range(VAL_PER_CLASS):
            name = f"val/{label * VAL_PER_CLASS + index + 1:08d}.jpg"
            write_jpeg(root / "images" / name, seed=100 + 10 * label + index)
            val.append(f"{name} {label}")
    (root / "train.txt").write_text("\n".join(train) + "\n")
    (root / "val.txt").write_text("\n".join(val) + "\n")
    (root / "categories.txt").write_text(CATEGORIES)


FIRST_IMAGE = "images/train/a/abbey/00000001.jpg"


def replace_first_image(data: bytes) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        (root / FIRST_IMAGE).write_bytes(data)

    return build


def truncated_jpeg(root: Path) -> None:
    data = (root / FIRST_IMAGE).read_bytes()
    (root / FIRST_IMAGE).write_bytes(data[: len(data) // 2])


def png_named_jpg(root: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(image_array(0)).save(buffer, format="PNG")
    (root / FIRST_IMAGE).write_bytes(buffer.getvalue())


def sixteen_bit_png(root: Path) -> None:
    array = np.random.default_rng(0).integers(0, 65536, (24, 24, 3), dtype=np.uint16)
    (root / FIRST_IMAGE).write_bytes(png16(array))


def decompression_bomb(root: Path) -> None:
    """A 2 KB PNG whose header claims 40000 x 40000 pixels (4.8 GB of RGB)."""
    rows = b"".join(b"\x00" + bytes(3 * 40000) for _ in range(8))
    (root / FIRST_IMAGE).write_bytes(png_bytes(40000, 40000, 8, rows))


def edit_list(name: str, edit: Callable[[str], str]) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        path = root / name
        path.write_bytes(edit(path.read_text()).encode())

    return build


def path_with_spaces(root: Path) -> None:
    old = root / FIRST_IMAGE
    new = root / "images/train/a/abbey with spaces/image one.jpg"
    new.parent.mkdir(parents=True)
    old.rename(new)
    text = (root / "train.txt").read_text()
    text = text.replace("train/a/abbey/00000001.jpg", "train/a/abbey with spaces/image one.jpg")
    (root / "train.txt").write_text(text)


def non_utf8_list(root: Path) -> None:
    with open(root / "train.txt", "ab") as file:
        file.write("train/a/abbey/caf\u00e9.jpg 0\n".encode("latin-1"))


def write_file(name: str, text: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        (root / name).write_text(text)

    return build


def no_change(root: Path) -> None:
    """The valid base dataset itself: the control."""


@dataclass(frozen=True)
class Case:
    """One input and what running ``command`` on it must give."""

    name: str
    command: tuple[str, ...]  # {root}: the dataset, {run}: a run folder, {dir}: the case's folder
    outcome: str
    exit_code: int
    message: str  # a regex the reported line must match
    build: Callable[[Path], None] = no_change
    dataset: bool = True  # builds the base dataset first


VERIFY = ("data", "verify", "{root}")


def train_command(*extra: str, workers: str = "0") -> tuple[str, ...]:
    """One epoch of 2 steps of 4 images at 16x16: training, kept short."""
    return (
        *("train", "--data", "{root}", "--epochs", "1", "--batch-size", "4"),
        *("--image-size", "16", "--workers", workers, "--threads", "1", "--amp", "off"),
        *("--device", "cpu", "--out", "{run}", *extra),
    )


TRAIN = train_command()
STRICT = train_command("--strict-data")
STRICT_WORKERS = train_command("--strict-data", workers="2")
STRICT_CACHED = train_command("--strict-data", "--cache-images")
BAD_FIRST = r"ROOT/images/train/a/abbey/00000001\.jpg"


def config_case(name: str, text: str, outcome: str, code: int, message: str) -> Case:
    return Case(
        name,
        ("train", "--config", "{dir}/config.yaml", *TRAIN[1:]),
        outcome,
        code,
        message,
        lambda root: (root.parent / "config.yaml").write_text(text),
    )


def flag_case(name: str, flags: tuple[str, ...], message: str, code: int = 2) -> Case:
    return Case(name, (*TRAIN, *flags), REFUSES, code, message)


CASES: list[Case] = [
    # --- datasets -------------------------------------------------------------------------
    Case("valid dataset (control)", VERIFY, WORKS, 0, r"no problems found"),
    Case("valid dataset (control)", TRAIN, WORKS, 0, r"trained"),
    Case(
        "truncated JPEG",
        VERIFY,
        LISTS,
        1,
        rf"ROOT/train\.txt:1: does not decode: {BAD_FIRST}: .*truncated",
        truncated_jpeg,
    ),
    Case(
        "truncated JPEG",
        TRAIN,
        SKIPS,
        0,
        rf"skipping undecodable image {BAD_FIRST}",
        truncated_jpeg,
    ),
    Case("truncated JPEG", STRICT, REFUSES, 2, rf"cannot decode image {BAD_FIRST}", truncated_jpeg),
    Case(
        "truncated JPEG, loader processes",
        STRICT_WORKERS,
        REFUSES,
        2,
        rf"^scenelab: error: cannot decode image {BAD_FIRST}",
        truncated_jpeg,
    ),
    Case(
        "zero-byte image",
        VERIFY,
        LISTS,
        1,
        rf"does not decode: {BAD_FIRST}: .*empty",
        replace_first_image(b""),
    ),
    Case(
        "truncated JPEG, images decoded into memory",
        STRICT_CACHED,
        REFUSES,
        2,
        rf"^scenelab: error: cannot decode image {BAD_FIRST}",
        truncated_jpeg,
    ),
    Case(
        "zero-byte image",
        STRICT,
        REFUSES,
        2,
        rf"cannot decode image {BAD_FIRST}",
        replace_first_image(b""),
    ),
    Case("PNG named .jpg", VERIFY, WORKS, 0, r"no problems found", png_named_jpg),
    Case(
        "1x1 image",
        TRAIN,
        WORKS,
        0,
        r"trained",
        lambda root: write_jpeg(root / FIRST_IMAGE, 0, (1, 1)),
    ),
    Case("16-bit PNG", VERIFY, WORKS, 0, r"no problems found", sixteen_bit_png),
    Case("16-bit PNG", TRAIN, WORKS, 0, r"trained", sixteen_bit_png),
    Case(
        "large photo (4000x3000)",
        TRAIN,
        WORKS,
        0,
        r"trained",
        lambda root: write_jpeg(root / FIRST_IMAGE, 0, (3000, 4000)),
    ),
    Case(
        "decompression bomb (40000x40000 PNG of 2 KB)",
        VERIFY,
        LISTS,
        1,
        r"40000x40000 pixels, over the limit",
        decompression_bomb,
    ),
    Case(
        "decompression bomb (40000x40000 PNG of 2 KB)",
        TRAIN,
        SKIPS,
        0,
        r"skipping undecodable image .*40000x40000 pixels",
        decompression_bomb,
    ),
    Case(
        "label out of range",
        TRAIN,
        REFUSES,
        2,
        r"ROOT/train\.txt:8: label 7 is out of range for 2 classes",
        edit_list("train.txt", lambda text: text.replace("00000004.jpg 1", "00000004.jpg 7")),
    ),
    Case(
        "label out of range",
        VERIFY,
        LISTS,
        1,
        r"ROOT/train\.txt:8: label 7 is out of range for 2 classes",
        edit_list("train.txt", lambda text: text.replace("00000004.jpg 1", "00000004.jpg 7")),
    ),
    Case(
        "line without a label",
        TRAIN,
        REFUSES,
        2,
        r"ROOT/train\.txt:2: expected 'PATH LABEL', got 'train/a/abbey/00000002\.jpg'",
        edit_list("train.txt", lambda text: text.replace("00000002.jpg 0", "00000002.jpg")),
    ),
    Case(
        "a class with no val images",
        TRAIN,
        REFUSES,
        2,
        r"labels \[1\] of train\.txt are absent",
        edit_list("val.txt", lambda text: text.replace(" 1\n", " 0\n")),
    ),
    Case(
        "categories.txt skips a label",
        TRAIN,
        REFUSES,
        2,
        r"categories\.txt: labels must be 0\.\.1; missing \[1\]",
        write_file("categories.txt", "/a/abbey 0\n/b/beach 2\n"),
    ),
    Case(
        "image listed but missing",
        TRAIN,
        REFUSES,
        2,
        rf"ROOT/train\.txt:1: image not found: {BAD_FIRST}",
        lambda root: (root / FIRST_IMAGE).unlink(),
    ),
    Case(
        "image listed twice",
        TRAIN,
        REFUSES,
        2,
        r"ROOT/train\.txt:9: train/a/abbey/00000001\.jpg is listed twice \(first at line 1\)",
        edit_list("train.txt", lambda text: text + "train/a/abbey/00000001.jpg 0\n"),
    ),
    Case(
        "empty train.txt",
        TRAIN,
        REFUSES,
        2,
        r"2 problem\(s\) in the train split of ROOT: .*labels \[0, 1\] have no training",
        write_file("train.txt", ""),
    ),
    Case(
        "non-UTF-8 list file",
        TRAIN,
        REFUSES,
        2,
        r"ROOT/train\.txt:9: not UTF-8 text \(byte 0xe9",
        non_utf8_list,
    ),
    Case(
        "CRLF line endings",
        VERIFY,
        WORKS,
        0,
        r"no problems found",
        edit_list("train.txt", lambda text: text.replace("\n", "\r\n")),
    ),
    Case(
        "trailing spaces and tabs",
        VERIFY,
        WORKS,
        0,
        r"no problems found",
        edit_list("train.txt", lambda text: text.replace("\n", " \t \n")),
    ),
    Case(
        "UTF-8 byte-order mark",
        VERIFY,
        WORKS,
        0,
        r"no problems found",
        edit_list("train.txt", lambda text: "\ufeff" + text),
    ),
    Case("paths with spaces", VERIFY, WORKS, 0, r"no problems found", path_with_spaces),
    Case("paths with spaces", TRAIN, WORKS, 0, r"trained", path_with_spaces),
    Case(
        "dataset folder missing",
        (*TRAIN[:2], "{dir}/nowhere", *TRAIN[3:]),
        REFUSES,
        2,
        r"dataset 'DIR/nowhere': no such folder",
        dataset=False,
    ),
    Case(
        "not a dataset (empty folder)",
        VERIFY,
        REFUSES,
        2,
        r"not a dataset: expected images/ with train\.txt",
        dataset=False,
        build=lambda root: root.mkdir(),
    ),
    # --- configs ----------------------------------------------------------------------------
    config_case("config: unknown key", "epochs: 1\nlearning_rate: 0.1\n", REFUSES, 2, r"unknown"),
    config_case(
        "config: wrong type", "epochs: ten\n", REFUSES, 2, r"epochs must be an integer or null"
    ),
    config_case("config: float for an integer", "batch_size: 3.5\n", REFUSES, 2, r"batch_size"),
    config_case("config: `lr: 1e-3` (YAML 1.1 reads a string)", "lr: 1e-3\n", WORKS, 0, r"trained"),
    config_case(
        "config: not YAML", "seed: 1\nepochs: [1\n", REFUSES, 2, r"config\.yaml:3: not valid YAML"
    ),
    config_case("config: a list, not a mapping", "- 1\n- 2\n", REFUSES, 2, r"expected a mapping"),
    config_case(
        "config: NaN learning rate",
        "lr: .nan\n",
        REFUSES,
        2,
        r"lr must be a finite number > 0, got nan",
    ),
    Case(
        "config file missing",
        ("train", "--config", "{dir}/missing.yaml"),
        REFUSES,
        2,
        r"--config DIR/missing\.yaml: No such file",
        dataset=False,
    ),
    # --- flags ------------------------------------------------------------------------------
    flag_case(
        "negative --epochs",
        ("--epochs", "-3"),
        r"argument --epochs: must be a whole number >= 1, got '-3'",
    ),
    flag_case(
        "--epochs not a number",
        ("--epochs", "ten"),
        r"argument --epochs: must be a whole number >= 1, got 'ten'",
    ),
    flag_case(
        "--batch-size 0",
        ("--batch-size", "0"),
        r"argument --batch-size: must be a whole number in \[1, 65536\]",
    ),
    flag_case(
        "--lr nan", ("--lr", "nan"), r"argument --lr: must be a finite number > 0, got 'nan'"
    ),
    flag_case(
        "--lr inf", ("--lr", "inf"), r"argument --lr: must be a finite number > 0, got 'inf'"
    ),
    flag_case(
        "--grad-clip 0", ("--grad-clip", "0"), r"argument --grad-clip: must be a finite number > 0"
    ),
    flag_case(
        "--image-size 4",
        ("--image-size", "4"),
        r"argument --image-size: must be a whole number in \[8, 1024\]",
    ),
    flag_case("--warmup-epochs past the end", ("--warmup-epochs", "5"), r"longer than training"),
    flag_case("unknown --model", ("--model", "nonet"), r"unknown model 'nonet'"),
    flag_case(
        "unknown --device",
        ("--device", "quantum"),
        r"argument --device: must be auto, cpu, cuda or cuda:N, got 'quantum'",
    ),
    flag_case("--conv unknown", ("--conv", "fft"), r"argument --conv: invalid choice: 'fft'"),
    flag_case(
        "--pretrained file missing",
        ("--model", "resnet18", "--pretrained", "{dir}/missing.pth"),
        r"--pretrained DIR/missing\.pth: no such file",
    ),
    flag_case(
        "--out is a file",
        ("--out", "{root}/train.txt/run"),
        r"\[Errno 20\] Not a directory: 'ROOT/train\.txt/run'",
        code=1,
    ),
    Case(
        "--resume a folder that is not a run",
        ("train", "--resume", "{root}"),
        REFUSES,
        2,
        r"--resume ROOT: not a run folder",
    ),
    Case(
        "--resume a run whose checkpoint is garbage",
        ("train", "--resume", "{dir}/garbage-run"),
        REFUSES,
        2,
        r"not a readable checkpoint \(corrupt, truncated or another format\)",
        lambda root: _garbage_run(root.parent / "garbage-run", root),
    ),
    Case(
        "eval a checkpoint that does not exist",
        ("eval", "{dir}/missing.pt", "--data", "{root}"),
        REFUSES,
        2,
        r"DIR/missing\.pt: no such checkpoint file or run folder",
    ),
]


def _garbage_run(run: Path, root: Path) -> None:
    from scenelab.config import RunConfig

    (run / "checkpoints").mkdir(parents=True)
    RunConfig(data=str(root), epochs=1, batch_size=4, out=str(run)).to_yaml(run / "config.yaml")
    (run / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    report: str  # the line that tells the user what happened, paths shortened
    traceback: bool  # a Python traceback reached the user
    stdout: str
    stderr: str


def _report(exit_code: int, stdout: str, stderr: str, command: str) -> str:
    """The one line a user reads: the error, the first problem listed, a warning, or
    that the command did its job."""
    errors = [line for line in stderr.splitlines() if "error: " in line]
    if exit_code != 0 and errors:
        lines = stderr.splitlines()
        index = lines.index(errors[0])
        line = errors[0]
        if line.endswith(":") and index + 1 < len(lines):  # "N problem(s) in ...:" + the first
            line += " " + lines[index + 1].strip()
        return line
    if exit_code == 1 and stdout.strip():
        return stdout.splitlines()[0]
    warnings = [line for line in stderr.splitlines() if line.startswith("skipping")]
    if warnings:
        return warnings[0]
    if command == "train":
        return "trained" if "best val top-1" in stdout else stdout.strip()[-200:]
    return stdout.strip().splitlines()[-1] if stdout.strip() else ""


def run_case(case: Case, folder: Path) -> Outcome:
    """Build the case's input in ``folder`` and run its command in this process."""
    root, run = folder / "data", folder / "run"
    folder.mkdir(parents=True)
    if case.dataset:
        write_base(root)
    if case.build is not no_change:
        case.build(root)
    argv = [arg.format(root=root, run=run, dir=folder) for arg in case.command]
    stdout, stderr = io.StringIO(), io.StringIO()
    # Warnings reach stderr as logging's last-resort handler prints them when scenelab runs
    # as a command (pytest's own log handlers would otherwise take them).
    warnings = logging.StreamHandler(stderr)
    warnings.setLevel(logging.WARNING)
    logging.getLogger().addHandler(warnings)
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            exit_code = main(argv)
        except SystemExit as exit:  # argparse's own errors
            exit_code = exit.code if isinstance(exit.code, int) else 1
        except Exception:  # what the user would see as a traceback
            exit_code = 1
            traceback.print_exc()
        finally:
            logging.getLogger().removeHandler(warnings)
    out, err = stdout.getvalue(), stderr.getvalue()
    report = _report(exit_code, out, err, case.command[0])
    for path, name in ((root, "ROOT"), (folder, "DIR")):
        report = report.replace(str(path), name)
    return Outcome(exit_code, report, "Traceback" in err, out, err)


REPORT_CHARS = 180  # longer messages are cut in the table


def markdown_table(outcomes: list[tuple[Case, Outcome]]) -> str:
    lines = [
        "| input | command | outcome | exit | what scenelab says |",
        "| --- | --- | --- | --- | --- |",
    ]
    for case, outcome in outcomes:
        command = " ".join(_short_command(case.command))
        said = outcome.report
        if len(said) > REPORT_CHARS:
            said = said[:REPORT_CHARS].rstrip() + " ..."
        said = said.replace("|", "\\|")
        lines.append(
            f"| {case.name} | `{command}` | {case.outcome} | {outcome.exit_code} | {said} |"
        )
    return "\n".join(lines) + "\n"


def _short_command(command: tuple[str, ...]) -> list[str]:
    """The command as the table shows it: the fixed tiny-run flags folded into '...'."""
    shown = [
        arg.replace("{root}", "ROOT").replace("{run}", "RUN").replace("{dir}", "DIR") or '""'
        for arg in command
    ]
    if command == STRICT_WORKERS:
        return ["scenelab train --data ROOT ... --workers 2 --strict-data"]
    if command[: len(TRAIN)] == TRAIN:
        return ["scenelab train --data ROOT ...", *shown[len(TRAIN) :]]
    if command[3:] == TRAIN[3:]:  # another --data
        return ["scenelab", *shown[:3], "..."]
    if command[:2] == ("train", "--config") and command[3:] == TRAIN[1:]:
        return ["scenelab", *shown[:3], "--data ROOT ..."]
    return ["scenelab", *shown]
