"""Recipe flags, each against the library that does the work: --opt adamw is
torch.optim.AdamW, --ema is an exponential moving average of the weights as
torch.optim.swa_utils.AveragedModel defines it, --mixup / --cutmix are torchvision's
v2.MixUp / v2.CutMix; a run with any of them resumes bit for bit."""

from __future__ import annotations

import copy
import os
import signal

import pytest
import torch
from torch import nn
from torch.utils.data import DistributedSampler
from torchvision.transforms import v2

from scenelab.checkpoint import load_checkpoint
from scenelab.config import RunConfig, resolve
from scenelab.errors import ScenelabError
from scenelab.train import engine
from scenelab.train.build import build_mixing, build_optimizer
from scenelab.train.command import resumed_config
from scenelab.train.sampling import ResumableSampler
from scenelab.train.schedule import warmup_cosine_lr


def test_adamw_is_torchs_adamw_with_the_run_settings():
    config = resolve(RunConfig(opt="adamw", lr=0.01, wd=0.05), image_size=32)
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    reference = copy.deepcopy(model)
    ours = build_optimizer(model, config)
    theirs = torch.optim.AdamW(reference.parameters(), lr=0.01, weight_decay=0.05)
    for _ in range(3):
        inputs = torch.randn(5, 4)
        for module, optimizer in ((model, ours), (reference, theirs)):
            optimizer.zero_grad()
            module(inputs).square().mean().backward()
            optimizer.step()
    for mine, expected in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(mine, expected)
    with pytest.raises(ScenelabError, match="--nesterov is SGD's"):
        resolve(RunConfig(opt="adamw", nesterov=True), image_size=32)


@pytest.mark.parametrize(
    ("changes", "reference"),
    [
        ({"mixup": 0.4}, lambda: v2.MixUp(alpha=0.4, num_classes=3)),
        ({"cutmix": 1.0}, lambda: v2.CutMix(alpha=1.0, num_classes=3)),
    ],
)
def test_mixup_and_cutmix_batches_are_torchvisions(changes, reference):
    mixing = build_mixing(resolve(RunConfig(**changes), image_size=8), num_classes=3)
    images, labels = torch.rand(6, 3, 8, 8), torch.tensor([0, 1, 2, 2, 1, 0])
    torch.manual_seed(3)
    mixed, targets = mixing(images, labels)
    torch.manual_seed(3)
    expected_images, expected_targets = reference()(images, labels)
    assert torch.equal(mixed, expected_images) and torch.equal(targets, expected_targets)
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(6))  # mixed one-hot targets
    with pytest.raises(ScenelabError, match="do not combine with --adv"):
        resolve(RunConfig(adv="pgd", **changes), image_size=8)


def weights_after_each_step(monkeypatch) -> list[dict[str, torch.Tensor]]:
    """The bare model's weights before the first step, then after every step."""
    real_step, seen = engine.train_step, []

    def step(model, *args, **kwargs):
        if not seen:
            seen.append(copy.deepcopy(model.state_dict()))
        result = real_step(model, *args, **kwargs)
        seen.append(copy.deepcopy(model.state_dict()))
        return result

    monkeypatch.setattr(engine, "train_step", step)
    return seen


def test_ema_weights_are_the_moving_average_of_the_trained_ones(tiny_config, tmp_path, monkeypatch):
    """AveragedModel with get_ema_multi_avg_fn: the first update copies the weights, each
    later one is ema = decay * ema + (1 - decay) * w (BatchNorm's buffers too)."""
    seen = weights_after_each_step(monkeypatch)
    decay = 0.8
    rows = engine.train(tiny_config(tmp_path / "run", epochs=2, ema=decay))
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    averaged = checkpoint["ema"]
    assert int(averaged["n_averaged"]) == len(seen) - 1 == 6
    for key, first in seen[1].items():
        if not first.is_floating_point():
            continue
        expected = first.double()
        for weights in seen[2:]:
            expected = decay * expected + (1 - decay) * weights[key].double()
        torch.testing.assert_close(
            averaged[f"module.{key}"].double(), expected, rtol=1e-5, atol=1e-6
        )
    assert {"val_ema_loss", "val_ema_top1", "val_ema_top5"} <= set(rows[-1])


@pytest.mark.parametrize(
    "changes",
    [{"opt": "adamw"}, {"ema": 0.9}, {"mixup": 0.4, "cutmix": 1.0}, {"limit_train_batches": 2}],
)
def test_a_run_with_the_flag_resumes_bit_exact(tiny_config, tmp_path, monkeypatch, changes):
    engine.train(tiny_config(tmp_path / "straight", **changes))
    reference = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")

    real_step, calls = engine.train_step, []

    def stop_during_fifth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGTERM)  # handled after this step finishes
        return real_step(*args, **kwargs)

    monkeypatch.setattr(engine, "train_step", stop_during_fifth)
    run = tmp_path / "stopped"
    with pytest.raises(ScenelabError, match="scenelab train --resume"):
        engine.train(tiny_config(run, **changes))
    monkeypatch.setattr(engine, "train_step", real_step)
    engine.train(resumed_config(run, {}), resume=True)
    final = load_checkpoint(run / "checkpoints" / "last.pt")
    for part in ("model", *(["ema"] if "ema" in changes else [])):
        for key, value in reference[part].items():
            assert torch.equal(final[part][key], value), (part, key)
    assert final["metrics"] == [
        {
            **row,
            **{
                k: final["metrics"][i][k]
                for k in ("epoch_time_s", "images_per_s", "peak_memory_mib")
            },
        }
        for i, row in enumerate(reference["metrics"])
    ]


def test_pretrained_takes_the_backbone_of_a_scenelab_run(tmp_path):
    """A resnet18 run on digits, then a second started from its folder with a learning rate
    too small to move a weight: its convolutions are the first run's (best.pt), its
    classifier is new; a model the weights do not fit is refused."""
    first, second = tmp_path / "first", tmp_path / "second"
    settings = dict(data="digits", model="resnet18", epochs=1, image_size=32)
    engine.train(RunConfig(**settings, out=str(first)))
    source = load_checkpoint(first)["model"]
    engine.train(RunConfig(**settings, lr=1e-12, out=str(second), pretrained=str(first)))
    started = load_checkpoint(second / "checkpoints" / "last.pt")["model"]
    for key, value in source.items():
        if key.startswith("net.conv1") or key.startswith("net.layer1.0.conv"):
            torch.testing.assert_close(started[key], value, rtol=0, atol=1e-9)
    assert not torch.allclose(started["net.fc.weight"], source["net.fc.weight"])
    with pytest.raises(ScenelabError, match=r"--pretrained .*does not fit this model"):
        engine.train(
            RunConfig(
                **{**settings, "model": "resnet34"}, out=str(tmp_path / "x"), pretrained=str(first)
            )
        )


def test_limit_train_batches_trains_the_first_batches_of_each_shuffled_epoch(tiny_config, tmp_path):
    """Lightning's limit_train_batches: the schedule spans the shortened epochs."""
    rows = engine.train(tiny_config(tmp_path / "run", epochs=2, limit_train_batches=2))
    assert [row["step"] for row in rows] == [2, 4]
    base_lr = resolve(tiny_config(tmp_path / "x"), image_size=16).lr
    # one epoch (2 steps) of warm-up, then the cosine over steps 2-4: half way at step 3
    assert rows[-1]["lr"] == pytest.approx(warmup_cosine_lr(3, base_lr, 2, 4)) == base_lr / 2
    sampler = ResumableSampler(24, seed=0, limit=16)  # 2 batches of 8 of 24 images
    for epoch in range(2):
        reference = DistributedSampler(range(24), num_replicas=1, rank=0, shuffle=True, seed=0)
        reference.set_epoch(epoch)
        sampler.set_epoch(epoch, start=8)
        assert len(sampler) == 8
        assert [index for index, _ in sampler] == list(reference)[8:16]
