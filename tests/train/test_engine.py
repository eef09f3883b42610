from __future__ import annotations

import csv
import json
import logging
import math
import os
import signal

import pytest
import torch
from sklearn.metrics import accuracy_score, log_loss

from scenelab.checkpoint import load_checkpoint, load_model
from scenelab.cli import main
from scenelab.config import RunConfig
from scenelab.data import build_dataset, build_transform
from scenelab.errors import ScenelabError
from scenelab.train import build, engine
from scenelab.train.command import resumed_config
from scenelab.train.engine import train
from scenelab.train.logs import METRIC_COLUMNS

# Columns that measure the machine, not the computation.
TIMING_COLUMNS = {"epoch_time_s", "images_per_s", "peak_memory_mib"}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for slot_a, slot_b in zip(
        a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True
    ):
        assert torch.equal(slot_a["momentum_buffer"], slot_b["momentum_buffer"])


def same_computation(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]


def stop_at_call(monkeypatch, call: int, action) -> None:
    """Run ``action`` when the training loop takes its ``call``-th step (1-based)."""
    real_step = engine.train_step
    calls = 0

    def step(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == call:
            return action(real_step, *args, **kwargs)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(engine, "train_step", step)


def test_run_folder_and_logged_metrics_match_sklearn(tiny_dataset, tiny_config, tmp_path):
    run = tmp_path / "run"
    rows = train(tiny_config(run, epochs=2))

    with open(run / "metrics.csv") as file:
        logged = list(csv.DictReader(file))
    assert tuple(logged[0]) == METRIC_COLUMNS and len(logged) == 2
    saved = RunConfig.from_yaml(run / "config.yaml")
    assert saved.num_classes == 3 and saved.lr == pytest.approx(0.1 * 8 / 256)
    assert list(run.glob("events.out.tfevents.*"))
    assert sorted(p.name for p in (run / "plots").iterdir()) == [
        "loss.png",
        "lr.png",
        "top1.png",
        "top5.png",
    ]
    assert (run / "checkpoints" / "best.pt").is_file()

    # The last epoch's val metrics, recomputed from last.pt with scikit-learn.
    model, state = load_model(run / "checkpoints" / "last.pt")
    assert state["classes"] == ["blue", "green", "red"]
    val = build_dataset(str(tiny_dataset), "val", transform=build_transform("study", 16, False))
    images = torch.stack([val[i][0] for i in range(len(val))]).float() / 255
    labels = [val[i][1] for i in range(len(val))]
    with torch.no_grad():
        probabilities = model(images).softmax(dim=1).numpy()
    assert rows[-1]["val_top1"] == pytest.approx(
        100 * accuracy_score(labels, probabilities.argmax(1))
    )
    assert rows[-1]["val_loss"] == pytest.approx(
        log_loss(labels, probabilities, labels=[0, 1, 2]), rel=1e-5
    )
    assert rows[-1]["val_top5"] == 100.0  # 3 classes: top-5 holds every label


def test_stop_signal_then_resume_is_bit_exact(tiny_config, uninterrupted, tmp_path, monkeypatch):
    def send_sigterm(step, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # handled after this step finishes
        return step(*args, **kwargs)

    stop_at_call(monkeypatch, 5, send_sigterm)  # epoch 2, batch 2
    run = tmp_path / "stopped"
    with pytest.raises(ScenelabError, match="scenelab train --resume") as stopped:
        train(tiny_config(run, workers=2))
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    partial = load_checkpoint(run / "checkpoints" / "last.pt")
    assert (partial["step"], partial["epoch"], partial["position"]) == (5, 1, 2)

    monkeypatch.undo()
    rows = train(resumed_config(run, {}), resume=True)
    # Independent of the number of loader processes too: the reference used none.
    assert_same_weights(uninterrupted, load_checkpoint(run / "checkpoints" / "last.pt"))
    assert same_computation(rows) == same_computation(uninterrupted["metrics"])


def test_cached_images_train_exactly_as_decoded_ones(tiny_config, uninterrupted, tmp_path, caplog):
    run = tmp_path / "cached"
    caplog.set_level(logging.INFO, logger="scenelab")
    rows = train(tiny_config(run, cache_images=True, workers=2))
    assert "decoded 36 images into memory" in caplog.text
    assert_same_weights(uninterrupted, load_checkpoint(run / "checkpoints" / "last.pt"))
    assert same_computation(rows) == same_computation(uninterrupted["metrics"])
    assert resumed_config(run, {"cache_images": False}).cache_images is False  # may change


def test_crash_after_a_timed_checkpoint_resumes_bit_exact(
    tiny_config, uninterrupted, tmp_path, monkeypatch
):
    def crash(step, *args, **kwargs):
        raise RuntimeError("simulated crash")

    stop_at_call(monkeypatch, 6, crash)  # epoch 2, batch 3: last saved after step 5
    run = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(tiny_config(run, ckpt_minutes=1e-9))  # save after every step
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 5

    monkeypatch.undo()
    train(resumed_config(run, {}), resume=True)
    assert_same_weights(uninterrupted, load_checkpoint(run / "checkpoints" / "last.pt"))


def test_nonfinite_loss_stops_naming_the_step_and_keeps_last_good(
    tiny_config, tmp_path, monkeypatch
):
    def nan_loss(step, *args, **kwargs):
        _, logits, grad_norm = step(*args, **kwargs)
        return torch.tensor(float("nan")), logits, grad_norm

    stop_at_call(monkeypatch, 5, nan_loss)
    run = tmp_path / "nan"
    with pytest.raises(ScenelabError, match="nan at step 5") as stopped:
        train(tiny_config(run))
    assert stopped.value.exit_code == engine.NONFINITE_LOSS_EXIT
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert (last["step"], last["epoch"]) == (3, 1)  # the end of epoch 1


def test_impossible_values_are_refused_before_any_work(tiny_config, tmp_path, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("data was loaded")

    monkeypatch.setattr(build, "build_dataset", no_data)
    with pytest.raises(ScenelabError, match="--epochs must be a whole number >= 1, got 0"):
        train(tiny_config(tmp_path / "a", epochs=0))
    with pytest.raises(ScenelabError, match="longer than training"):
        train(tiny_config(tmp_path / "a", epochs=2, warmup_epochs=3))
    monkeypatch.undo()
    with pytest.raises(ScenelabError, match="larger than the training set"):
        train(tiny_config(tmp_path / "a", batch_size=25))
    assert not (tmp_path / "a").exists()


def test_resume_refuses_a_different_recipe_and_a_new_run_refuses_an_old_folder(
    tiny_config, tmp_path
):
    run = tmp_path / "run"
    train(tiny_config(run, epochs=1))
    with pytest.raises(ScenelabError, match=r"lr: 0\.003125 -> 0\.5"):
        resumed_config(run, {"lr": 0.5, "workers": 1})
    with pytest.raises(ScenelabError, match="--resume"):
        train(tiny_config(run, epochs=1))


def test_cli_errors_are_one_line_without_traceback(capsys):
    with pytest.raises(SystemExit) as exited:  # argparse refuses the value itself
        main(["train", "--epochs", "0"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    last = err.splitlines()[-1]
    assert last == "scenelab train: error: argument --epochs: must be a whole number >= 1, got '0'"
    assert "Traceback" not in err


def test_float64_runs_of_native_and_custom_conv_agree_to_rounding(tiny_config, tmp_path):
    """--dtype float64 trains in float64 end to end (parameters, images, metrics), which is
    what lets `scenelab study conv --dtype float64` compare the two convolutions without
    float32 rounding: after 9 SGD steps PyTorch's and scenelab's convolution give weights
    equal to ~1e-12, far inside float32's own rounding."""
    weights = {}
    for conv in ("native", "custom"):
        train(tiny_config(tmp_path / conv, conv=conv, dtype="float64", amp=None))
        checkpoint = load_checkpoint(tmp_path / conv / "checkpoints" / "last.pt")
        assert checkpoint["config"]["amp"] == "off"  # float64 implies it
        weights[conv] = checkpoint["model"]
    for key, native in weights["native"].items():
        assert native.dtype == torch.float64, key
        assert torch.allclose(weights["custom"][key], native, rtol=1e-10, atol=1e-12), key


def test_float64_refuses_mixed_precision(tiny_config, tmp_path):
    with pytest.raises(ScenelabError, match="--dtype float64 needs --amp off"):
        train(tiny_config(tmp_path / "a", dtype="float64", amp="bf16"))
    with pytest.raises(ScenelabError, match="--dtype must be one of float32, float64"):
        train(tiny_config(tmp_path / "a", dtype="float16"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels_last", [False, True])
def test_model_input_is_pixels_over_255_in_the_asked_dtype_and_layout(dtype, channels_last):
    images = torch.randint(0, 256, (2, 3, 5, 7), dtype=torch.uint8)
    pixels = engine.to_model_input(images, torch.device("cpu"), dtype, channels_last)
    assert pixels.dtype == dtype
    assert pixels.is_contiguous(memory_format=torch.channels_last) == channels_last
    torch.testing.assert_close(pixels, images.to(dtype) / 255, rtol=0, atol=0)


@pytest.mark.parametrize("amp", [None, "bf16"])
def test_validation_during_training_is_what_scenelab_eval_reports(tmp_path, amp):
    """Full precision unless --amp asks; validation always runs as `scenelab eval` does
    (float32, no autocast), so the two give the same top-1 and top-5 on the same weights."""
    run = tmp_path / "run"
    rows = train(RunConfig(data="digits", epochs=1, amp=amp, out=str(run)))
    assert load_checkpoint(run / "checkpoints" / "last.pt")["config"]["amp"] == (amp or "off")
    assert main(["eval", str(run / "checkpoints" / "last.pt"), "--workers", "0"]) == 0
    evaluated = json.loads((run / "eval.json").read_text())
    assert evaluated["num_samples"] == 360  # digits' val split
    # The same images right (one image is 0.28 points; eval.json sums in float32).
    assert evaluated["top1"] == pytest.approx(rows[-1]["val_top1"], abs=1e-4)
    assert evaluated["top5"] == pytest.approx(rows[-1]["val_top5"], abs=1e-4)


def test_a_finished_run_is_extended_by_a_larger_epochs(tiny_config, tmp_path, capsys):
    """`--resume RUN/checkpoints/last.pt --epochs 3` continues a finished 2-epoch run for
    one more epoch on the schedule of a 3-epoch run (warm-up 3 steps, cosine to step 9)."""
    run = tmp_path / "run"
    before = train(tiny_config(run, epochs=2))
    last = run / "checkpoints" / "last.pt"
    assert main(["train", "--resume", str(last), "--epochs", "3"]) == 0
    assert "from 2 to 3 epochs: the learning-rate schedule is re-planned" in capsys.readouterr().out

    rows = load_checkpoint(last)["metrics"]
    assert [row["epoch"] for row in rows] == [1, 2, 3] and rows[:2] == before
    base_lr, warmup, total = 0.1 * 8 / 256, 3, 9  # Goyal et al.'s scaling; SGDR's cosine
    expected = base_lr * 0.5 * (1 + math.cos(math.pi * (8 - warmup) / (total - warmup)))
    assert rows[2]["lr"] == pytest.approx(expected)  # the lr of step 9 (0-based 8)
    assert RunConfig.from_yaml(run / "config.yaml").epochs == 3
    with pytest.raises(ScenelabError, match=r"epochs: 3 -> 1.*only --epochs may change"):
        resumed_config(run, {"epochs": 1})
