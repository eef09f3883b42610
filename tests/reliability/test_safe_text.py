"""User text that leaves the program: a tiny dataset whose class folders are named to
break Markdown, HTML, spreadsheets, the terminal and matplotlib, trained and then put
through every command that writes those names, in this process via the real command line.

Each output is read back by an independent reader: a real Markdown renderer
(Python-Markdown), the standard library's HTML parser and csv reader, the bytes printed."""

from __future__ import annotations

import csv
import io
import logging
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import markdown as markdown_renderer
import pytest
import torch
from html_reader import read_page
from reliability_runs import SIZE, save_png

from scenelab.cli import main
from scenelab.compare import COLUMNS
from scenelab.study.plan import BUDGETS, Plan
from scenelab.study.state import Timings

# Sorted, as class folders are: the label of each is its index.
CLASSES = sorted(
    [
        "$\\frac{a}{$",  # a matplotlib mathtext syntax error
        "<img src=x onerror=alert(1)> *em* a|b",  # HTML and Markdown (no "/" in a folder name)
        "=1+1",  # a spreadsheet formula
        "\x1b[2J\x1b[31mred\nnext\u202eoverride",  # clears the terminal, a new line, bidi
    ]
)
RUN_NAMES = ("run $x^$ <b>bold<", "-2+3 `tick` \x1b[1mloud")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def run(*argv: str) -> tuple[str, str]:
    """The command's stdout and stderr (logging's warnings included); it must exit 0."""
    stdout, stderr = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(stderr)
    logging.getLogger().addHandler(handler)
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            code = main(list(argv))
    finally:
        logging.getLogger().removeHandler(handler)
    assert code == 0, stderr.getvalue()
    return stdout.getvalue(), stderr.getvalue()


def assert_terminal_safe(*texts: str) -> None:
    """No byte below 0x20 but the line ends, no DEL or C1 control, no bidi override."""
    for text in texts:
        for char in text:
            code = ord(char)
            assert char == "\n" or not (code < 0x20 or 0x7F <= code <= 0x9F), repr(text)
            assert not 0x202A <= code <= 0x202E and not 0x2066 <= code <= 0x2069, repr(text)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, one_thread) -> dict[str, Path]:
    """The dataset, and one tiny run trained on it inside the folder of a study report."""
    folder = tmp_path_factory.mktemp("hostile")
    root = folder / "data ` <img src=x onerror=alert(2)>"
    generator = torch.Generator().manual_seed(0)
    for split, count in (("train", 4), ("val", 2)):
        for label, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for index in range(count):
                image = torch.randint(0, 120, (3, SIZE, SIZE), generator=generator)
                image[label % 3] += 120
                save_png(image, root / split / name / f"{index}.png")
    plan = Plan(str(root), folder / "study", BUDGETS["smoke"], device="cpu")
    run_dir = plan.run_dir("simplenet")
    run(
        *("train", "--data", str(root), "--model", "simplenet", "--epochs", "1"),
        *("--batch-size", "4", "--image-size", str(SIZE), "--workers", "0", "--threads", "1"),
        *("--amp", "off", "--device", "cpu", "--out", str(run_dir)),
    )
    return {"root": root, "run": run_dir, "folder": folder, "study": plan.out}


def assert_no_live_markup(page: str) -> None:
    """No tag a name could have opened: no script, no element with an event handler, no
    <b> or <em> (every <img> is a figure of the report)."""
    reader = read_page(page)
    for tag, attributes in zip(reader.tags, reader.attributes, strict=True):
        assert tag not in ("script", "b", "em"), page
        assert not any(name.startswith("on") for name in attributes), (tag, attributes)
        if tag == "img":
            assert attributes["src"].startswith("data:image/png;base64,") or attributes[
                "src"
            ].endswith(".png"), attributes


def in_markdown(name: str) -> str:
    """A name as Markdown shows it: a line break is a space, ESC and RLO are escapes."""
    return name.replace("\n", " ").replace("\x1b", "\\x1b").replace("\u202e", "\\u202e")


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as file:
        return list(csv.reader(file))


def assert_spreadsheet_safe(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            if cell.startswith(FORMULA_START):
                float(cell)  # only a number may start so: -0.5 and the like


def test_data_stats_prints_class_names_as_escapes(hostile):
    stdout, stderr = run("data", "stats", str(hostile["root"]))
    assert_terminal_safe(stdout, stderr)
    assert "\\x1b[2J\\x1b[31mred\\nnext\\u202eoverride" in stdout
    rows = [line for line in stdout.splitlines() if line.startswith("| ")]
    assert len({len(line) for line in rows}) == 1, rows  # the table stays aligned


def test_eval_writes_its_plots_a_safe_csv_and_a_safe_table(hostile):
    stdout, stderr = run("eval", str(hostile["run"]), "--data", str(hostile["root"]))
    for name in ("confusion.png", "calibration.png"):
        assert (hostile["run"] / name).stat().st_size > 0
    rows = read_csv(hostile["run"] / "confusion.csv")
    assert_spreadsheet_safe(rows)
    shown = [name.removeprefix("'") for name in rows[0][1:]]
    assert shown == CLASSES == [row[0].removeprefix("'") for row in rows[1:]]
    assert "'=1+1" in rows[0]
    assert_terminal_safe(stdout, stderr)
    assert "\\x1b[2J\\x1b[31mred\\nnext\\u202eoverride" in stdout


def test_predict_writes_a_safe_csv_and_safe_lines(hostile):
    out = hostile["folder"] / "predictions.csv"
    stdout, stderr = run(
        *("predict", str(hostile["run"]), "--data", str(hostile["root"])),
        *("--split", "val", "--out", str(out)),
    )
    rows = read_csv(out)
    assert_spreadsheet_safe(rows)
    true_classes = [row[1].removeprefix("'") for row in rows[1:]]
    assert true_classes == [name for name in CLASSES for _ in range(2)]
    assert_terminal_safe(stdout, stderr)


def test_saliency_and_attack_draw_their_figures(hostile):
    stdout, stderr = run(
        *("saliency", str(hostile["run"]), "--data", str(hostile["root"]), "--n", "4"),
        *("--device", "cpu"),
    )
    assert_terminal_safe(stdout, stderr)
    assert (hostile["run"] / "plots" / "saliency_gradient.png").stat().st_size > 0
    stdout, stderr = run(
        *("attack", str(hostile["run"]), "--data", str(hostile["root"]), "--steps", "1"),
        *("--limit", "4", "--examples", "4", "--sweep", "0,2/255", "--device", "cpu"),
    )
    assert_terminal_safe(stdout, stderr)
    assert (hostile["run"] / "plots" / "attack_examples.png").stat().st_size > 0


def test_compare_of_hostile_run_names(hostile):
    runs = [hostile["folder"] / name for name in RUN_NAMES]
    for folder in runs:
        shutil.copytree(hostile["run"], folder)
    out = hostile["folder"] / "compare"
    stdout, stderr = run("compare", *map(str, runs), "--out", str(out))
    for curve in ("top1", "top5", "loss"):
        assert (out / f"compare_{curve}.png").stat().st_size > 0
    page = markdown_renderer.markdown((out / "compare.md").read_text(), extensions=["tables"])
    assert_no_live_markup(page)
    cells = read_page(page).cells
    width = len(COLUMNS)
    assert cells[width::width] == [in_markdown(name) for name in RUN_NAMES]
    rows = read_csv(out / "compare.csv")
    assert_spreadsheet_safe(rows)
    assert [row[0].removeprefix("'") for row in rows[1:]] == list(RUN_NAMES)
    assert_terminal_safe(stdout, stderr)


def test_report_shows_class_and_folder_names_as_text(hostile):
    """report.md (rendered by Python-Markdown) and report.html: the names are text."""
    run("eval", str(hostile["run"]), "--data", str(hostile["root"]))
    plan = Plan(str(hostile["root"]), hostile["study"], BUDGETS["smoke"], device="cpu")
    from scenelab.study.reproduce import write_report

    report_md, report_html = write_report(plan, Timings(plan.out / "timings.json"))
    rendered = markdown_renderer.markdown(report_md.read_text(), extensions=["tables"])
    for page, names in (
        (rendered, [in_markdown(name) for name in CLASSES]),
        (report_html.read_text(), CLASSES),
    ):
        assert_no_live_markup(page)
        cells = read_page(page).cells
        assert all(name in cells for name in names), cells
        assert hostile["root"].name in page.replace("&lt;", "<").replace("&gt;", ">")
