"""Recipe flags, each against the library that does the work: --opt adamw is
torch.optim.AdamW, --ema is an exponential moving average of the weights as
torch.optim.swa_utils.AveragedModel defines it, --mixup / --cutmix are torchvision's
v2.MixUp / v2.CutMix, --accum-steps K is one step on a K-times larger batch; --max-steps
and --val-every as Hugging Face's Trainer and Lightning define them. A run with any of
them resumes bit for bit."""

from __future__ import annotations

import contextlib
import copy
import math
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
    [
        {"opt": "adamw"},
        {"ema": 0.9},
        {"mixup": 0.4, "cutmix": 1.0},
        {"limit_train_batches": 2},
        {"accum_steps": 2, "ema": 0.9},
        {"max_steps": 7},
        {"val_every": 2},
    ],
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
    timings = ("epoch_time_s", "images_per_s", "peak_memory_mib")
    assert [nan_as_none(row, timings) for row in final["metrics"]] == [
        nan_as_none(row, timings) for row in reference["metrics"]
    ]


def nan_as_none(row: dict, left_out: tuple[str, ...]) -> dict:
    """A metrics row comparable with ==: NaN (not validated) as None, timings left out."""
    return {
        key: None if isinstance(value, float) and math.isnan(value) else value
        for key, value in row.items()
        if key not in left_out
    }


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


def test_accumulated_batches_step_as_one_batch_k_times_larger():
    """Three batches of 4 summed into one SGD step (momentum, weight decay, clipping) move
    the weights as one batch of 12 does, on a model without BatchNorm; the optimizer steps
    only after the group's last batch."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    big = copy.deepcopy(model)
    images, labels = torch.rand(12, 3, 8, 8), torch.randint(0, 5, (12,))
    settings = dict(
        loss_fn=nn.CrossEntropyLoss(),
        scaler=torch.amp.GradScaler("cpu", enabled=False),
        autocast=contextlib.nullcontext,
        grad_clip=0.5,
    )
    optimizers = [
        torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
        for m in (model, big)
    ]
    for _ in range(2):  # the second step also uses momentum
        norms = []
        for index in range(3):
            part = slice(4 * index, 4 * index + 4)
            before = copy.deepcopy(model.state_dict())
            *_, norm = engine.train_step(
                model,
                images[part],
                labels[part],
                optimizer=optimizers[0],
                index=index,
                group_size=3,
                **settings,
            )
            norms.append(norm)
            if index < 2:
                assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        *_, big_norm = engine.train_step(big, images, labels, optimizer=optimizers[1], **settings)
        assert norms[:2] == [None, None]
        torch.testing.assert_close(norms[2], big_norm, rtol=1e-5, atol=1e-6)
    for mine, expected in zip(model.parameters(), big.parameters(), strict=True):
        torch.testing.assert_close(mine, expected, rtol=1e-5, atol=1e-6)


def test_accum_steps_count_optimizer_steps_and_plan_the_schedule_for_them(tiny_config, tmp_path):
    """3 batches per epoch in groups of 2 -> 2 optimizer steps per epoch (the last group
    holds one batch); the schedule and the EMA count those steps, not the batches."""
    rows = engine.train(tiny_config(tmp_path / "run", epochs=2, accum_steps=2, ema=0.5))
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert [row["step"] for row in rows] == [2, 4]
    assert checkpoint["scheduler"]["total_steps"] == 4
    assert checkpoint["scheduler"]["warmup_steps"] == 2
    assert int(checkpoint["ema"]["n_averaged"]) == 4
    base_lr = resolve(tiny_config(tmp_path / "x"), image_size=16).lr
    assert rows[-1]["lr"] == pytest.approx(warmup_cosine_lr(3, base_lr, 2, 4))


def test_max_steps_ends_the_run_mid_epoch_with_the_schedule_planned_for_it(tiny_config, tmp_path):
    """Hugging Face's max_steps: at most N optimizer steps, the schedule's end at step N,
    the epoch in progress cut short there and still validated and checkpointed."""
    rows = engine.train(tiny_config(tmp_path / "run", epochs=3, max_steps=4))
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert [row["step"] for row in rows] == [3, 4]
    assert checkpoint["scheduler"]["total_steps"] == 4
    assert checkpoint["epoch"] == 2 and checkpoint["position"] == 0
    assert not math.isnan(rows[-1]["val_top1"])
    base_lr = resolve(tiny_config(tmp_path / "x"), image_size=16).lr
    assert rows[-1]["lr"] == pytest.approx(warmup_cosine_lr(3, base_lr, 3, 4))
    # more steps than the epochs hold: the epochs decide
    rows = engine.train(tiny_config(tmp_path / "long", epochs=1, max_steps=100))
    assert [row["step"] for row in rows] == [3]


def test_val_every_validates_every_nth_and_the_last_epoch(tiny_config, tmp_path):
    """Lightning's check_val_every_n_epoch: epochs 2 and 4 of 5 validated, and the last;
    the others' val columns are NaN, best.pt is a validated epoch, the plots and
    `scenelab compare` read the validated epochs only."""
    from scenelab.compare import summarise
    from scenelab.runs import read_run

    run = tmp_path / "run"
    rows = engine.train(tiny_config(run, epochs=5, val_every=2, ema=0.5))
    validated = [row["epoch"] for row in rows if not math.isnan(row["val_top1"])]
    assert validated == [2, 4, 5]
    assert all(math.isnan(rows[0][k]) for k in ("val_loss", "val_top5", "val_ema_top1"))
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    assert best["epoch"] in validated
    assert (run / "plots" / "top1.png").is_file()
    summary = summarise(read_run(run))
    assert summary.best_val_top1 == max(rows[i - 1]["val_top1"] for i in validated)
    assert summary.final_val_top1 == rows[-1]["val_top1"]
    with pytest.raises(ScenelabError, match="--val-every does not combine with --adv"):
        resolve(RunConfig(adv="pgd", val_every=2), image_size=8)


def test_ddp_all_reduces_once_per_accumulated_step(tmp_path):
    """Under DDP the batches of a group but the last run in no_sync: one all-reduce (DDP's
    communication hook, counted) per optimizer step, not per batch. One gloo process."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        model = DistributedDataParallel(nn.Sequential(nn.Flatten(), nn.Linear(12, 3)))
        reduced = []

        def counting(state, bucket):
            reduced.append(1)
            future = torch.futures.Future()
            future.set_result(bucket.buffer())
            return future

        model.register_comm_hook(None, counting)
        settings = dict(
            loss_fn=nn.CrossEntropyLoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            scaler=torch.amp.GradScaler("cpu", enabled=False),
            autocast=contextlib.nullcontext,
        )
        for index in range(3):
            images, labels = torch.rand(4, 3, 2, 2), torch.randint(0, 3, (4,))
            engine.train_step(model, images, labels, index=index, group_size=3, **settings)
        assert len(reduced) == 1
        engine.train_step(model, images, labels, **settings)
        assert len(reduced) == 2
    finally:
        dist.destroy_process_group()
