"""Conclusion 3's time cost: training steps timed side by side (A B A B ...), medians of
the samples after one warm-up call each."""

from __future__ import annotations

import pytest
import torch

from scenelab.bench.interleave import interleaved_samples
from scenelab.errors import ScenelabError
from scenelab.study import step_time
from scenelab.study.render import read_record
from scenelab.train import engine


def test_runs_alternate_after_one_warm_up_each():
    calls = []
    runs = {name: (lambda name=name: calls.append(name) or len(calls)) for name in "ab"}
    samples = interleaved_samples(runs, repeats=3)
    assert calls == ["a", "b", "a", "b", "a", "b", "a", "b"]
    assert samples == {"a": [3, 5, 7], "b": [4, 6, 8]}  # the warm-up calls are not samples


def test_time_steps_reports_the_median_of_each_runs_steps(tiny_config, tmp_path, monkeypatch):
    runs = []
    for name in ("two", "three"):
        engine.train(tiny_config(tmp_path / name, epochs=1))
        runs.append(tmp_path / name)
    real_step, seen = step_time.train_step, []

    def recording_step(model, images, labels, **options):
        seen.append((model.training, images.shape, options["optimizer"]))
        return real_step(model, images, labels, **options)

    monkeypatch.setattr(step_time, "train_step", recording_step)
    timer, config = step_time.step_timer(runs[0])
    assert timer() > 0
    training, shape, optimizer = seen[0]
    assert training and shape == (8, 3, 16, 16)  # the run's batch, in train mode
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults["momentum"] == config.momentum == 0.9

    warm_up = [9.0] * step_time.WARMUP
    durations = {"two": iter([*warm_up, 1.0, 3.0, 2.0]), "three": iter([*warm_up, 5.0, 4.0, 8.0])}
    monkeypatch.setattr(
        step_time,
        "step_timer",
        lambda run_dir: (lambda: next(durations[run_dir.name]), config),
    )
    times = step_time.time_steps(runs, repeats=3)
    assert times.seconds == {"two": 2.0, "three": 5.0}
    assert (times.batch_size, times.image_size, times.repeats) == (8, 16, 3)


def test_a_damaged_record_file_is_named_in_one_line(tmp_path):
    """A study record (step_times.json here) cut short or from another version: the
    message names the file and says how to go on, instead of a JSON or TypeError."""
    path = tmp_path / step_time.STEP_TIMES_FILE
    for text in ('{"batch_size": nan', '{"x": 1}', "[1, 2]", "\xff\xfe"):
        path.write_text(text, encoding="latin-1")
        with pytest.raises(ScenelabError, match=r"step_times\.json: .*delete it") as error:
            read_record(path, step_time.StepTimes.from_dict)
        assert "\n" not in str(error.value)
