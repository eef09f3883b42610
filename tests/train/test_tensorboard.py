"""TensorBoard gets the run's settings and final metrics in its HParams tab (read back
with TensorBoard's own event reader, against metrics.csv)."""

from __future__ import annotations

import csv

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from scenelab.train import engine


def test_a_finished_run_writes_its_hyper_parameters_and_final_metrics(tiny_config, tmp_path):
    run = tmp_path / "run"
    engine.train(tiny_config(run, epochs=2))
    with (run / "metrics.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    events = EventAccumulator(str(run / "hparams"))
    events.Reload()
    expected = {
        "hparam/final_val_top1": float(rows[-1]["val_top1"]),
        "hparam/final_val_top5": float(rows[-1]["val_top5"]),
        "hparam/final_val_loss": float(rows[-1]["val_loss"]),
        "hparam/best_val_top1": max(float(row["val_top1"]) for row in rows),
    }
    for tag, value in expected.items():
        (scalar,) = events.Scalars(tag)
        assert scalar.value == pytest.approx(value, rel=1e-5), tag
    plugin = events.PluginTagToContent("hparams")
    assert b"model" in b"".join(plugin.values())  # the settings, by name
