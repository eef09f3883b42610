"""Numerical faults: a NaN in the loss, an inf in the gradients, an exploding learning
rate. Training stops with exit code 3, naming the step; no update is applied from the bad
step and last.pt keeps the last good state. --grad-clip clips the total gradient norm."""

from __future__ import annotations

import copy
import math
import re
from contextlib import nullcontext

import pytest
import torch
from reliability_runs import load, train_args
from torch import nn

from scenelab.cli import main
from scenelab.train import engine

SAVE_EVERY_STEP = ["--ckpt-minutes", "1e-6"]


def fault_at_call(monkeypatch, call: int, install) -> None:
    """``install(model)`` returns a hook handle active during the ``call``-th training step."""
    real_step = engine.train_step
    calls = 0

    def step(model, *args, **kwargs):
        nonlocal calls
        calls += 1
        if calls != call:
            return real_step(model, *args, **kwargs)
        handle = install(model)
        try:
            return real_step(model, *args, **kwargs)
        finally:
            handle.remove()

    monkeypatch.setattr(engine, "train_step", step)


def assert_last_good_checkpoint(run, step: int) -> None:
    last = load(run / "checkpoints" / "last.pt")
    assert last["step"] == step
    for name, tensor in last["model"].items():
        assert tensor.isfinite().all(), name


def stopped_step(stderr: str) -> int:
    found = re.search(r"non-finite training step (\d+) .*the step was not applied", stderr)
    assert found, stderr
    assert "Traceback" not in stderr and "last good state" in stderr
    return int(found[1])


def test_nan_in_the_loss(tiny_data, tmp_path, monkeypatch, capsys):
    fault_at_call(
        monkeypatch,
        8,
        lambda model: model.register_forward_hook(lambda module, inputs, out: out * math.nan),
    )
    run = tmp_path / "run"
    assert main(train_args(tiny_data, run) + SAVE_EVERY_STEP) == engine.NONFINITE_LOSS_EXIT
    stderr = capsys.readouterr().err
    assert stopped_step(stderr) == 8 and "loss nan" in stderr
    assert_last_good_checkpoint(run, 7)


def test_inf_in_the_gradients_with_a_finite_loss(tiny_data, tmp_path, monkeypatch, capsys):
    def poison_first_weight(model):
        first = next(model.parameters())
        return first.register_hook(lambda grad: torch.full_like(grad, math.inf))

    fault_at_call(monkeypatch, 8, poison_first_weight)
    run = tmp_path / "run"
    assert main(train_args(tiny_data, run) + SAVE_EVERY_STEP) == engine.NONFINITE_LOSS_EXIT
    stderr = capsys.readouterr().err
    assert stopped_step(stderr) == 8
    loss = float(re.search(r"loss (\S+), gradient norm inf", stderr)[1])
    assert math.isfinite(loss)
    assert_last_good_checkpoint(run, 7)


def test_an_exploding_learning_rate(tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    argv = train_args(tiny_data, run) + SAVE_EVERY_STEP + ["--lr", "100", "--warmup-epochs", "0"]
    assert main(argv) == engine.NONFINITE_LOSS_EXIT
    step = stopped_step(capsys.readouterr().err)
    assert_last_good_checkpoint(run, step - 1)


def test_weights_that_overflowed_are_never_saved(tiny_data, tmp_path, monkeypatch, capsys):
    """An update that overflows to inf with a finite loss and gradients (the next step would
    notice); the save after it refuses to write them."""
    real_step = engine.train_step
    calls = 0

    def overflowing_step(model, *args, **kwargs):
        nonlocal calls
        calls += 1
        result = real_step(model, *args, **kwargs)
        if calls == 8:
            with torch.no_grad():
                next(model.parameters()).fill_(math.inf)
        return result

    monkeypatch.setattr(engine, "train_step", overflowing_step)
    run = tmp_path / "run"
    assert main(train_args(tiny_data, run) + SAVE_EVERY_STEP) == engine.NONFINITE_LOSS_EXIT
    stderr = capsys.readouterr().err
    assert "after step 8 the weights hold NaN or inf" in stderr and "not saved" in stderr
    assert_last_good_checkpoint(run, 7)


def sgd_step(model, images, labels, grad_clip):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss_fn = nn.CrossEntropyLoss()
    engine.train_step(
        model, images, labels, loss_fn, optimizer, scaler, nullcontext, None, grad_clip
    )


@pytest.mark.parametrize(("grad_clip", "binds"), [(1e-3, True), (0.1, True), (1e6, False)])
def test_grad_clip_scales_the_total_norm_down_to_the_limit(grad_clip, binds):
    """Against the formula g * min(1, c / ||g||) with the gradient from torch.autograd."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
    images, labels = torch.rand(5, 3, 2, 2), torch.tensor([0, 1, 2, 1, 0])
    reference = copy.deepcopy(model)
    loss = nn.functional.cross_entropy(reference(images), labels)
    grads = torch.autograd.grad(loss, list(reference.parameters()))
    norm = torch.sqrt(sum(g.square().sum() for g in grads)).item()
    scale = min(1.0, grad_clip / (norm + 1e-6))  # 1e-6: torch's guard against division by 0
    assert (scale < 1) == binds

    sgd_step(model, images, labels, grad_clip)
    for after, before, grad in zip(model.parameters(), reference.parameters(), grads, strict=True):
        torch.testing.assert_close(after.detach(), before.detach() - 0.5 * scale * grad)


def test_grad_clip_is_a_run_setting(tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*train_args(tiny_data, run, epochs=1), "--grad-clip", "0.5"]) == 0
    assert load(run / "checkpoints" / "last.pt")["config"]["grad_clip"] == 0.5
    with pytest.raises(SystemExit) as exited:  # argparse refuses the value itself
        main(["train", "--grad-clip", "-1", "--out", str(tmp_path / "x")])
    assert exited.value.code == 2
    assert "argument --grad-clip: must be a finite number > 0" in capsys.readouterr().err
