"""The smoke budget end to end (slow: minutes): every section of report.md has real
numbers, the headline ones agree with scikit-learn on the saved checkpoints, report.html
holds every figure and renders, and a second invocation reuses everything.

Run it with `make test-report` (or `pytest -m slow tests/report`).
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, average_precision_score

from scenelab.checkpoint import load_checkpoint, load_model
from scenelab.data import build_dataset, build_transform
from scenelab.study import steps
from scenelab.study.plan import BUDGETS, Plan
from scenelab.study.reproduce import reproduce

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def sections(markdown: str) -> dict[int, str]:
    parts = re.split(r"^## (\d+)\. .*$", markdown, flags=re.MULTILINE)
    return {int(number): body for number, body in zip(parts[1::2], parts[2::2], strict=True)}


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table of ``text`` as rows of header -> cell."""
    found = []
    for block in re.findall(r"(?:^\|.*\|$\n?)+", text, flags=re.MULTILINE):
        lines = [line.strip().strip("|") for line in block.strip().splitlines()]
        header = [cell.strip() for cell in lines[0].split(" | ")]
        rows = [[cell.strip() for cell in line.split(" | ")] for line in lines[2:]]
        found.append([dict(zip(header, row, strict=True)) for row in rows])
    return found


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def seconds(cell: str) -> float:
    value, unit = cell.split()
    return float(value) * (60 if unit == "min" else 1)


def predictions(run_dir: Path, checkpoint: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Softmax scores of the digits val split by the run's checkpoint, and the labels."""
    model, state = load_model(run_dir / "checkpoints" / checkpoint)
    size = state["config"]["image_size"]
    dataset = build_dataset("digits", "val", transform=build_transform("none", size, False))
    images = torch.stack([dataset[i][0] for i in range(len(dataset))]).float() / 255
    labels = np.array([dataset[i][1] for i in range(len(dataset))])
    with torch.no_grad():
        scores = model(images).softmax(1).numpy()
    return scores, labels, dataset.classes


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Plan, str, str, float]:
    plan = Plan("digits", tmp_path_factory.mktemp("reproduce") / "demo", BUDGETS["smoke"])
    started = time.perf_counter()
    markdown, page = reproduce(plan)
    elapsed = time.perf_counter() - started
    print(f"smoke budget: {elapsed:.0f} s")
    return plan, markdown.read_text(), page.read_text(), elapsed


def test_every_section_states_settings_wall_time_and_rerun_command(smoke):
    plan, markdown, _, _ = smoke
    found = sections(markdown)
    assert sorted(found) == [1, 2, 3, 4, 5, 6, 7]
    for index, body in found.items():
        settings = tables(body)[0][0]
        assert set(settings) == {
            "model",
            "epochs",
            "batch",
            "image size",
            "device",
            "precision",
            "wall time",
        }
        assert seconds(settings["wall time"]) > 0
        assert settings["device"] == "cpu"
        assert f"`{plan.command(only=index)}`" in body
        if index > 1:
            adversarial = {str(plan.budget.adversarial_epochs)} if index == 7 else set()
            assert set(settings["epochs"].split(", ")) == {str(plan.budget.epochs), *adversarial}
            assert settings["batch"] == str(plan.budget.batch_size)
            assert settings["image size"] == "16x16" and settings["precision"] == "float32"


def test_the_report_opens_with_the_verdicts_that_its_sections_end_with(smoke):
    markdown = smoke[1]
    opening = markdown.split("\n## 1. ")[0]
    (table,) = tables(opening)
    assert [row["no."] for row in table] == [str(number) for number in range(1, 8)]
    verdicts = {"holds", "does not hold at this budget", "not tested"}
    assert {row["verdict"] for row in table} <= verdicts
    found = sections(markdown)
    tested = {int(number) for row in table for number in row["sections"].split(", ")}
    assert tested == set(found)
    for row in table:
        for number in row["sections"].split(", "):
            assert f"**Conclusion {row['no.']}.**" in found[int(number)]
    for body in found.values():
        assert re.search(r"Verdict: \*\*(holds|does not hold at this budget|not tested)\*\*", body)


def test_section_1_conv_check_and_benchmark(smoke):
    body = sections(smoke[1])[1]
    assert "**6 of 6**" in body
    check, bench = tables(body)[1:3]
    for row in check:
        assert row["gradcheck"] == "passed"
        for key in ("output", "grad input", "grad weight", "grad bias"):
            assert 0 <= number(row[key]) < 1e-4
    (step,) = bench
    assert step["layer"] == "SimpleNet training step"
    for key in ("forward native ms", "forward custom ms", "time ratio"):
        assert number(step[key]) > 0


def test_sections_2_and_6_agree_with_scikit_learn_on_the_checkpoints(smoke):
    plan, markdown, _, _ = smoke
    run_dir = plan.run_dir("simplenet")
    found = sections(markdown)
    trained = tables(found[2])[1][0]
    scores, labels, _ = predictions(run_dir, "last.pt")  # the final epoch
    final_top1 = 100 * accuracy_score(labels, scores.argmax(1))
    assert number(trained["final val top-1 (%)"]) == pytest.approx(final_top1, abs=0.006)
    assert 0 <= number(trained["final val top-5 (%)"]) <= 100

    summary, per_class = tables(found[6])[1:3]
    scores, labels, classes = predictions(run_dir, "best.pt")
    assert number(summary[0]["top-1 (%)"]) == pytest.approx(
        100 * accuracy_score(labels, scores.argmax(1)), abs=0.006
    )
    one_hot = np.eye(len(classes))[labels]
    assert number(summary[0]["mAP (%)"]) == pytest.approx(
        100 * average_precision_score(one_hot, scores, average="macro"), abs=0.006
    )
    assert [row["class"] for row in per_class] == classes
    for row, index in zip(per_class, range(len(classes)), strict=True):
        mine = labels == index
        assert int(row["images"]) == mine.sum()
        assert number(row["accuracy (%)"]) == pytest.approx(
            100 * (scores[mine].argmax(1) == index).mean(), abs=0.006
        )
    assert "![Confusion matrix" in found[6]


def test_sections_3_4_5_compare_runs(smoke):
    found = sections(smoke[1])
    ratios, runs = tables(found[3])[1:3]
    assert number(ratios[0]["time ratio"]) > 0 and number(ratios[0]["memory ratio"]) > 0
    assert [row["run"] for row in runs] == ["native", "custom", "control"]
    (blocks,) = tables(found[4])[1:2]
    assert [row["run"] for row in blocks] == ["ourbestnet2", "ourbestnet3", "ourbestnet4"]
    (resnet,) = tables(found[5])[1:2]
    assert resnet[0]["run"] == "resnet18"
    assert resnet[1]["run"].startswith("resnet18-pretrained: skipped")
    assert resnet[1]["final val top-1 (%)"] == "-"  # skipped, never faked
    assert resnet[2]["run"].startswith("ourbestnet")
    for row in [*runs, *blocks, resnet[0], resnet[2]]:
        assert 0 <= number(row["final val top-1 (%)"]) <= 100
        assert number(row["seconds per epoch"]) > 0
    for index in (3, 4, 5):
        assert "![Convergence: top-1" in found[index]


def test_section_7_saliency_attack_and_table_1(smoke):
    body = sections(smoke[1])[7]
    assert "![Vanilla-gradient saliency" in body
    attack = next(table for table in tables(body) if "epsilon" in table[0])
    assert attack[0]["epsilon"] == "clean"
    assert any(row["epsilon"].endswith("(the attack)") for row in attack)
    table_1 = next(table for table in tables(body) if "PGD top-1 (%)" in table[0])
    assert [row["model"] for row in table_1] == [
        "SimpleNet",
        "SimpleNet, adversarially trained",
    ]
    plan = smoke[0]
    for row, run in zip(table_1, ("simplenet", "simplenet-adv"), strict=True):
        last = load_checkpoint(plan.run_dir(run) / "checkpoints" / "last.pt")
        assert row["weights"] == f"last.pt, epoch {last['epoch']}"  # one rule for both rows
        for key in ("clean top-1 (%)", "clean top-5 (%)", "PGD top-1 (%)", "PGD top-5 (%)"):
            assert 0 <= number(row[key]) <= 100


def test_the_html_page_holds_every_figure_and_renders(smoke, tmp_path):
    plan, markdown, page, _ = smoke
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    # curves of section 2 (3), overlays of sections 3 (2), 4 (2) and 5 (1), confusion and
    # reliability (2), saliency, attack sweep and examples, adversarial top-1 (4)
    assert len(embedded) == len(linked) == 14
    for data, path in zip(embedded, linked, strict=True):
        assert base64.b64decode(data) == (plan.out / path).read_bytes()
    assert not re.search(r'src="(?!data:)', page)  # nothing outside the page
    chromium = subprocess.run(["which", "chromium"], capture_output=True).returncode == 0
    if not chromium:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    png = tmp_path / "report.png"
    script = ROOT / "scripts" / "screenshot_report.py"
    subprocess.run(
        [sys.executable, str(script), str(plan.out / "report.html"), str(png)], check=True
    )
    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.shape[:2] == (3000, 1200)
    dark = (pixels.mean(axis=2) < 0.5).mean()
    assert 0.005 < dark < 0.5  # text and figures on a white page


def test_a_second_invocation_reuses_everything(smoke, monkeypatch):
    plan, markdown, _, _ = smoke

    def refuse(*args, **kwargs):
        raise AssertionError(f"redone: {args}")

    for name in (
        *("train", "train_side_by_side", "check_conv2d", "bench_conv"),
        *("evaluate_checkpoint", "saliency_figure", "attack_run"),
    ):
        monkeypatch.setattr(steps, name, refuse)
    again, _ = reproduce(plan)
    written = re.compile(r"written \S+\.")
    assert written.sub("", again.read_text()) == written.sub("", markdown)
