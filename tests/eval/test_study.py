"""`scenelab study conv`: the numbers it reports, and (slow) the whole command on digits."""

from __future__ import annotations

import io
import json
import os

import pytest
import yaml

from scenelab.cli import main
from scenelab.errors import ScenelabError
from scenelab.study.conv import _Prefixed, measure, summarise_study
from scenelab.train.logs import METRIC_COLUMNS
from scenelab.train.runfolder import run_folder_lock


def rows(val_top1, images_per_s, memory, seconds=None):
    seconds = seconds or [100.0] * len(val_top1)
    columns = zip(val_top1, images_per_s, memory, seconds, strict=True)
    return [
        {
            "epoch": epoch + 1,
            "val_top1": top1,
            "images_per_s": rate,
            "peak_memory_mib": mib,
            "epoch_time_s": time,
        }
        for epoch, (top1, rate, mib, time) in enumerate(columns)
    ]


def test_measure_gives_the_hand_computed_ratios_and_gap():
    native = rows([20.0, 30.0, 35.0], [300.0, 200.0, 310.0], [900.0, 950.0, 940.0])
    custom = rows([20.5, 29.2, 35.1], [100.0, 100.0, 150.0], [1200.0, 1140.0, 1100.0])
    study = measure(native, custom, side_by_side=False)
    assert study.time_ratio == pytest.approx(310 / 150)  # median of 3.0, 2.0, 2.07
    assert study.memory_ratio == pytest.approx(1200 / 950)
    assert study.largest_val_top1_gap == pytest.approx(0.8)
    assert study.gap_epoch == 2


def test_time_ratio_counts_only_the_epochs_trained_side_by_side():
    # native: epochs end at 60, 120, 180 s. custom: at 100, 165, 300 s. Native finishes at
    # 180 s; custom's epoch 2 (100-165 s) overlaps fully, its epoch 3 (165-300 s) only 11%.
    native = rows([1, 2, 3], [300.0, 300.0, 300.0], [1, 1, 1], [60.0, 60.0, 60.0])
    custom = rows([1, 2, 3], [100.0, 120.0, 290.0], [1, 1, 1], [100.0, 65.0, 135.0])
    study = measure(native, custom)
    assert study.time_ratio_epochs == [1, 2]
    assert study.time_ratio == pytest.approx((3.0 + 2.5) / 2)
    one_after_the_other = measure(native, custom, side_by_side=False)
    assert one_after_the_other.time_ratio_epochs == [1, 2, 3]
    assert one_after_the_other.time_ratio == pytest.approx(2.5)


def test_measure_refuses_runs_of_different_length():
    with pytest.raises(ScenelabError, match="2 \\(native\\) and 1 \\(custom\\) epochs"):
        measure(rows([1, 2], [1, 1], [1, 1]), rows([1], [1], [1]))


def run_folder(folder, conv, val_top1):
    """config.yaml and metrics.csv as training leaves them, with these val top-1 values."""
    folder.mkdir(parents=True)
    config = {"model": "simplenet", "num_classes": 10, "conv": conv, "data": "digits"}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    values = {column: 1.0 for column in METRIC_COLUMNS}
    lines = [",".join(METRIC_COLUMNS)]
    for epoch, top1 in enumerate(val_top1, start=1):
        row = {**values, "epoch": epoch, "val_top1": top1, "images_per_s": 100.0 * epoch}
        lines.append(",".join(str(row[column]) for column in METRIC_COLUMNS))
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_the_control_gap_is_the_widest_native_vs_control_difference(tmp_path):
    run_folder(tmp_path / "native", "native", [20.0, 30.0, 40.0])
    run_folder(tmp_path / "custom", "custom", [20.0, 31.0, 40.0])
    assert summarise_study(tmp_path, side_by_side=False).control_largest_val_top1_gap is None
    run_folder(tmp_path / "control", "native", [21.5, 29.0, 40.25])
    study = summarise_study(tmp_path, side_by_side=False)
    assert (study.control_largest_val_top1_gap, study.control_gap_epoch) == (1.5, 1)
    assert (study.largest_val_top1_gap, study.gap_epoch) == (1.0, 2)
    assert [row.run for row in study.runs] == ["native", "custom", "control"]
    written = json.loads((tmp_path / "study.json").read_text())
    assert written["control_largest_val_top1_gap"] == 1.5


def test_prefixed_stream_writes_whole_lines_and_is_no_terminal():
    target = io.StringIO()
    stream = _Prefixed(target, "[custom] ")
    stream.write("epoch 1 ")
    stream.write("done\nepoch 2")
    assert target.getvalue() == "[custom] epoch 1 done\n"
    stream.flush()
    assert target.getvalue() == "[custom] epoch 1 done\n[custom] epoch 2\n"
    assert not stream.isatty()


@pytest.mark.slow  # trains simplenet twice on digits: about a minute on 2 cores
def test_study_conv_on_digits(tmp_path, capsys):
    out = tmp_path / "study"
    flags = ["--epochs", "1", "--batch-size", "64", "--workers", "0", "--amp", "off"]
    assert main(["study", "conv", *flags, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "time ratio custom/native" in printed and "largest val top-1 gap" in printed
    for conv in ("native", "custom"):
        config = yaml.safe_load((out / conv / "config.yaml").read_text())
        assert (config["conv"], config["seed"], config["amp"]) == (conv, 0, "off")
    study = json.loads((out / "study.json").read_text())
    assert [row["run"] for row in study["runs"]] == ["native", "custom"]
    assert study["time_ratio"] > 0 and study["memory_ratio"] > 0
    for curve in ("top1", "top5", "loss"):
        assert (out / f"compare_{curve}.png").is_file()


@pytest.mark.slow  # two spawned training processes import torch: half a minute on 2 cores
def test_study_conv_trains_each_run_under_its_folders_lock(tmp_path, capfd):
    """Both run folders held by this process: each training process is refused at once."""
    out = tmp_path / "study"
    flags = ["--epochs", "1", "--batch-size", "64", "--workers", "0", "--amp", "off"]
    with run_folder_lock(out / "native"), run_folder_lock(out / "custom"):
        assert main(["study", "conv", *flags, "--out", str(out)]) == 2
    error = capfd.readouterr().err
    assert "training failed: native (exit code 2), custom (exit code 2)" in error
    for conv in ("native", "custom"):
        holder = f"{out / conv} is in use by another scenelab process (PID {os.getpid()})"
        assert f"[{conv}] scenelab: error: {holder}" in error
