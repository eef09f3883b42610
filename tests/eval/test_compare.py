"""`scenelab compare` on hand-written run folders."""

from __future__ import annotations

import csv
import statistics

import pytest
import yaml

from scenelab.cli import main
from scenelab.compare import compare_runs
from scenelab.models.simplenet import SimpleNet
from scenelab.train.logs import METRIC_COLUMNS


def fake_run(folder, conv, rows):
    folder.mkdir(parents=True)
    config = {"model": "simplenet", "num_classes": 10, "conv": conv, "data": "digits"}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    lines = [",".join(METRIC_COLUMNS)] + [",".join(str(value) for value in row) for row in rows]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    return folder


NATIVE = [
    (1, 10, 0.1, 2.0, 30.0, 60.0, 1.9, 35.0, 70.0, 60.0, 300.0, 900.0, 0),
    (2, 20, 0.05, 1.5, 45.0, 75.0, 1.6, 44.0, 80.0, 62.0, 310.0, 950.0, 0),
    (3, 30, 0.0, 1.2, 55.0, 85.0, 1.7, 42.0, 81.0, 58.0, 290.0, 940.0, 0),
]
CUSTOM = [
    (1, 10, 0.1, 2.0, 31.0, 61.0, 1.9, 34.5, 69.0, 120.0, 150.0, 1200.0, 0),
    (2, 20, 0.0, 1.5, 46.0, 76.0, 1.6, 44.5, 79.5, 118.0, 155.0, 1300.0, 0),
]


def test_table_holds_the_hand_computed_summary(tmp_path):
    native = fake_run(tmp_path / "native", "native", NATIVE)
    custom = fake_run(tmp_path / "custom", "custom", CUSTOM)
    table = compare_runs([native, custom], tmp_path / "out")
    parameters = sum(p.numel() for p in SimpleNet(10).parameters())
    first = table[0]
    assert first.run == "native"
    assert first.epochs == 3
    assert first.parameters == parameters == table[1].parameters
    assert first.wall_time_min == pytest.approx((60 + 62 + 58) / 60)
    assert first.images_per_s == statistics.median([300, 310, 290])
    assert first.peak_memory_mib == 950
    assert (first.best_val_top1, first.final_val_top1) == (44.0, 42.0)
    assert (first.best_val_top5, first.final_val_top5) == (81.0, 81.0)
    assert table[1].final_val_top1 == 44.5

    with (tmp_path / "out" / "compare.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [row["run"] for row in rows] == ["native", "custom"]
    assert float(rows[1]["peak_memory_mib"]) == 1300
    for curve in ("top1", "top5", "loss"):
        assert (tmp_path / "out" / f"compare_{curve}.png").stat().st_size > 0


def test_command_prints_the_table_and_names_runs_apart(tmp_path, capsys):
    first = fake_run(tmp_path / "a" / "run", "native", NATIVE)
    second = fake_run(tmp_path / "b" / "run", "custom", CUSTOM)
    assert main(["compare", str(first), str(second), "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    assert "| a/run | simplenet | native | 3 |" in printed
    assert "| b/run | simplenet | custom | 2 |" in printed
    assert (tmp_path / "cmp" / "compare.md").read_text().splitlines()[2].startswith("| a/run")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: [tmp / "nothing", tmp], "metrics.csv is missing"),
        (lambda tmp: [fake_run(tmp / "one", "native", NATIVE)], "at least two run folders"),
        (lambda tmp: [fake_run(tmp / "x", "native", []), tmp], "no finished epoch"),
    ],
)
def test_bad_run_folders_are_a_clear_error(tmp_path, capsys, make, message):
    (tmp_path / "nothing").mkdir()
    runs = [str(path) for path in make(tmp_path)]
    assert main(["compare", *runs, "--out", str(tmp_path / "cmp")]) == 2
    assert message in capsys.readouterr().err
