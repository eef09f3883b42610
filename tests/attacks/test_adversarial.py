"""Adversarial training: flags and config, the batch the training forward sees, the
catastrophic-overfitting guard, and a real robustness gain checked with torchattacks."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
from functools import partial

import pytest
import torch
import torchattacks
from sklearn.datasets import load_digits
from torch import nn

from scenelab import attack_settings
from scenelab.attacks import adversarial
from scenelab.attacks.adversarial import Adversary, build_adversary, collapse_reason
from scenelab.checkpoint import load_checkpoint
from scenelab.cli import build_parser, main
from scenelab.config import RunConfig, resolve
from scenelab.data import build_dataset
from scenelab.errors import ScenelabError
from scenelab.nn.normalize import Normalize
from scenelab.train import build, engine
from scenelab.train.command import flag_overrides, resumed_config
from scenelab.train.engine import train, train_step

EPSILON = 6 / 255


def resolved(**changes) -> RunConfig:
    return resolve(RunConfig(**changes), image_size=32)


def parsed(*flags: str) -> RunConfig:
    """The resolved config `scenelab train FLAGS` would run."""
    args = build_parser().parse_args(["train", *flags])
    return resolved(**flag_overrides(args))


# --- flags and config -------------------------------------------------------------------


def test_flags_parse_fractions_and_fill_the_study_defaults():
    config = parsed("--adv", "pgd", "--adv-epsilon", "6/255", "--adv-target", "least_likely")
    assert config.adv_epsilon == pytest.approx(6 / 255)
    assert config.adv_steps == 5
    assert config.adv_step_size == pytest.approx(2.5 * (6 / 255) / 5)  # Madry et al.'s rule
    assert (config.adv_random_start, config.adv_target) == (True, "least_likely")

    fast = parsed("--adv", "fgsm-rs", "--adv-epsilon", "8/255")
    assert (fast.adv_steps, fast.adv_random_start) == (1, True)
    assert fast.adv_step_size == pytest.approx(1.25 * 8 / 255)  # Wong et al. 2020

    plain = parsed()
    assert plain.adv == "none" and build_adversary(plain) is None
    assert all(getattr(plain, field) is None for field in attack_settings.ADV_FIELDS)


def test_yaml_fractions_are_parsed_and_the_config_round_trips(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("adv: pgd\nadv_epsilon: 4/255\nadv_steps: 3\n")
    config = resolve(RunConfig.from_yaml(path), image_size=32)
    assert config.adv_epsilon == pytest.approx(4 / 255)
    config.to_yaml(tmp_path / "saved.yaml")
    assert RunConfig.from_yaml(tmp_path / "saved.yaml") == config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"adv": "pgd", "adv_epsilon": 1.5}, "--adv-epsilon must be in"),
        ({"adv": "pgd", "adv_epsilon": "six"}, "--adv-epsilon 'six' is not a number"),
        ({"adv": "pgd", "adv_epsilon": 0.0}, "--adv-epsilon 0 makes no adversarial"),
        (
            {"adv": "pgd", "adv_step_size": 0.1, "adv_random_start": False},
            "--adv-step-size 0.1 is larger than --adv-epsilon",
        ),
        ({"adv": "pgd", "adv_steps": 0}, "--adv-steps must be at least 1"),
        ({"adv": "pgd", "adv_step_size": 0.0}, "--adv-step-size must be positive"),
        ({"adv": "pgd", "adv_target": "most_likely"}, "--adv-target must be one of"),
        ({"adv": "fgsm-rs", "adv_steps": 3}, "--adv fgsm-rs takes one step"),
        ({"adv": "fgsm-rs", "adv_random_start": False}, "--adv fgsm-rs starts at random"),
        ({"adv_steps": 5}, "--adv-steps has no effect without --adv"),
        ({"adv": "free"}, "--adv must be one of none, pgd, fgsm-rs"),
    ],
)
def test_bad_settings_are_refused_before_any_work(changes, message, tmp_path, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("data was loaded")

    monkeypatch.setattr(build, "build_dataset", no_data)
    with pytest.raises(ScenelabError, match=message):
        train(RunConfig(out=str(tmp_path / "run"), **changes))
    assert not (tmp_path / "run").exists()


def test_cli_refuses_an_epsilon_outside_the_pixel_range(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["train", "--adv", "pgd", "--adv-epsilon", "300/255"])
    assert exited.value.code == 2
    assert "argument --adv-epsilon: epsilon must be in [0, 1]" in capsys.readouterr().err


# --- the batch the training forward sees --------------------------------------------------


def test_training_forward_gets_an_adversarial_batch_inside_the_ball(bn_net):
    """Examples made in eval mode, the forward in train mode on a batch within epsilon of
    the clean one and inside [0, 1]; BatchNorm statistics move once, for that forward."""
    seen: list[tuple[bool, torch.Tensor]] = []
    bn_net.register_forward_pre_hook(lambda module, args: seen.append((module.training, args[0])))
    bn_net.train()
    torch.manual_seed(0)
    images = torch.rand(16, 3, 12, 12)
    images[:4] = images[:4].round()  # pixels at 0 and 1: the clip to [0, 1] must bind
    labels = torch.randint(0, 10, (16,))
    adversary = Adversary(EPSILON, 2.5 * EPSILON / 5, 5, True, "least_likely")
    optimizer = torch.optim.SGD(bn_net.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    train_step(
        bn_net,
        images,
        labels,
        nn.CrossEntropyLoss(),
        optimizer,
        scaler,
        contextlib.nullcontext,
        partial(adversary, bn_net),
    )
    modes = [training for training, _ in seen]
    assert modes == [False] * 6 + [True]  # target choice + 5 PGD steps in eval, then train
    trained_on = seen[-1][1]
    assert (trained_on - images).abs().max() <= EPSILON + 1e-6
    assert trained_on.min() >= 0 and trained_on.max() <= 1
    assert (trained_on - images).abs().max() > EPSILON / 2  # it really moved
    assert int(bn_net[2].num_batches_tracked) == 1
    assert bn_net.training


# --- the catastrophic-overfitting guard ---------------------------------------------------


def rows(*robust_and_clean: tuple[float, float]) -> list[dict]:
    return [
        {"epoch": epoch, "val_robust_top1": robust, "val_top1": clean}
        for epoch, (robust, clean) in enumerate(robust_and_clean, start=1)
    ]


def test_guard_flags_a_collapse_and_ignores_noise():
    for adv in ("pgd", "fgsm-rs"):
        assert collapse_reason(rows((20, 40), (25, 45), (24, 50)), 20, adv) is None
        assert collapse_reason(rows((3, 10), (1.2, 12)), 20, adv) is None  # noise of ~0
        reason = collapse_reason(rows((20, 40), (30, 45), (4, 60)), 20, adv)
        assert reason is not None and "from 30.00% (epoch 2)" in reason
    # single-step training: ~0 at once while clean accuracy is 3x chance or more; not while
    # it is still low
    collapsed = collapse_reason(rows((0.5, 45)), 20, "fgsm-rs")
    assert "while clean val top-1 is 45.00%" in collapsed
    assert collapse_reason(rows((0.5, 12)), 20, "fgsm-rs") is None


def test_a_pgd_model_not_yet_robust_has_not_collapsed():
    """The demo's adversarial run (digits, PGD-5 least-likely at 36/255) was stopped at
    epoch 3 as collapsed: untargeted robust top-1 0.0%, 4.4%, 0.8% while clean top-1 rose
    to 55%. It never rose, so nothing fell: multi-step training is judged by the fall."""
    history = rows((0.0, 14.2), (4.4, 20.8), (0.8, 55.3))
    assert collapse_reason(history, 10, "pgd") is None
    assert collapse_reason(history, 10, "fgsm-rs") is not None


def tiny_net(name, num_classes, conv="native", pretrained=None) -> nn.Module:
    """Replaces the model registry in engine runs: a small conv net, quick on 32x32 digits."""
    return nn.Sequential(
        Normalize(),
        nn.Conv2d(3, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(32 * 16, num_classes),
    )


def digits_config(out, **changes) -> RunConfig:
    """2 epochs of tiny_net on digits, 22 steps each: ~90% clean val top-1."""
    config = RunConfig(
        data="digits",
        epochs=2,
        batch_size=64,
        lr=0.05,
        warmup_epochs=0.2,
        amp="off",
        threads=1,
        workers=0,
        deterministic=True,
        out=str(out),
    )
    return config.replace(**changes)


def test_training_stops_on_a_collapse_and_keeps_the_most_robust_epoch(tmp_path, monkeypatch):
    """A stubbed robust-accuracy sequence 30%, 2%: stop after epoch 2 of 4."""
    monkeypatch.setattr(engine, "build_model", tiny_net)
    sequence = iter([30.0, 2.0, 40.0, 40.0])

    def measure(self, model, device):
        return {"val_robust_top1": next(sequence), "val_robust_top5": 50.0}

    monkeypatch.setattr(adversarial.RobustValidation, "measure", measure)
    run = tmp_path / "run"
    rows_ = train(digits_config(run, epochs=4, batch_size=128, adv="fgsm-rs"))

    assert [row["adv_collapsed"] for row in rows_] == [0, 1]
    with open(run / "metrics.csv") as file:
        logged = list(csv.DictReader(file))
    assert [row["adv_collapsed"] for row in logged] == ["0", "1"]
    assert [float(row["val_robust_top1"]) for row in logged] == [30.0, 2.0]
    assert load_checkpoint(run)["epoch"] == 1  # best.pt: the most robust epoch
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 2
    assert "catastrophic overfitting at epoch 2" in (run / "train.log").read_text()
    assert (run / "plots" / "robust.png").is_file()

    assert train(resumed_config(run, {}), resume=True) == rows_  # stays stopped
    assert "nothing to resume" in (run / "train.log").read_text()
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 2


# --- a real robustness gain -----------------------------------------------------------


# Digits are 17 grey levels and easy: at 6/255 a plain model is already fairly robust, so
# the gains are measured at larger budgets (360 val images: a standard error of ~2.6 points
# per accuracy).


def accuracies(model: nn.Module, images, labels, epsilon: float) -> tuple[float, float]:
    """Clean top-1 and top-1 under torchattacks' 10-step untargeted PGD (percent): an
    independent implementation of the attack."""
    model.eval()
    attack = torchattacks.PGD(model, eps=epsilon, alpha=2.5 * epsilon / 10, steps=10)
    torch.manual_seed(1)
    adversarial_images = attack(images, labels)
    with torch.no_grad():
        clean = (model(images).argmax(1) == labels).float().mean()
        robust = (model(adversarial_images).argmax(1) == labels).float().mean()
    return 100.0 * float(clean), 100.0 * float(robust)


def test_pgd_training_steps_make_an_8x8_digits_model_more_robust(digits_arrays):
    """3 epochs of `train_step` with and without the PGD adversary (3 steps, 24/255), same
    initial weights and batches: plain ~45%, adversarial ~66% under attack here."""
    train_images, train_labels, val_images, val_labels = digits_arrays
    epsilon = 24 / 255
    adversary = Adversary(epsilon, 2.5 * epsilon / 3, 3, True, "untargeted")
    clean, robust = {}, {}
    for name in ("plain", "adv"):
        torch.manual_seed(0)
        model = nn.Sequential(
            Normalize(),
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1, stride=2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(32 * 16, 10),
        )
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        scaler = torch.amp.GradScaler("cpu", enabled=False)
        make_inputs = partial(adversary, model) if name == "adv" else None
        batches = torch.Generator().manual_seed(0)
        for _ in range(3):
            order = torch.randperm(len(train_labels), generator=batches)
            for batch in order[: len(order) // 64 * 64].view(-1, 64):
                train_step(
                    model,
                    train_images[batch],
                    train_labels[batch],
                    nn.CrossEntropyLoss(),
                    optimizer,
                    scaler,
                    contextlib.nullcontext,
                    make_inputs,
                )
        clean[name], robust[name] = accuracies(model, val_images, val_labels, epsilon)
    assert clean["plain"] > 85 and clean["adv"] > 80, clean  # both really learned
    assert robust["adv"] > robust["plain"] + 10, robust


@pytest.fixture(scope="module")
def digits_arrays() -> tuple[torch.Tensor, ...]:
    """scikit-learn's 8x8 digits as RGB [0, 1] pixels: 1,437 train, 360 val."""
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).div(16).unsqueeze(1)
    images = images.expand(-1, 3, -1, -1).contiguous()
    labels = torch.tensor(digits.target, dtype=torch.int64)
    return images[:-360], labels[:-360], images[-360:], labels[-360:]


@pytest.mark.slow  # ~35 s on an idle 2-core CPU, over 60 s on a loaded one
def test_pgd_training_makes_a_digits_model_measurably_more_robust(tmp_path, monkeypatch):
    """The whole engine path: 2 epochs on 32x32 digits with and without --adv pgd (2 steps,
    16/255), same model, seed and batches; plain ~39%, adversarial ~58% under attack here."""
    epsilon = 16 / 255
    monkeypatch.setattr(engine, "build_model", tiny_net)
    train(digits_config(tmp_path / "plain"))
    adv = digits_config(tmp_path / "adv", adv="pgd", adv_epsilon=epsilon, adv_steps=2)
    rows_ = train(adv)

    val = build_dataset("digits", "val")
    images = torch.stack([val[i][0] for i in range(len(val))]).float() / 255
    labels = torch.tensor([val[i][1] for i in range(len(val))])
    clean, robust = {}, {}
    for name in ("plain", "adv"):
        model = tiny_net("tiny", 10)
        model.load_state_dict(load_checkpoint(tmp_path / name / "checkpoints" / "last.pt")["model"])
        clean[name], robust[name] = accuracies(model, images, labels, epsilon)
    assert clean["plain"] > 80, clean  # the baseline really learned
    assert robust["adv"] > robust["plain"] + 10, robust
    assert {"val_robust_top1", "val_robust_top5", "adv_collapsed"} <= set(rows_[-1])
    resumed_config(tmp_path / "adv", {})  # the adv settings live in config.yaml


def test_an_adversarial_run_stopped_mid_epoch_resumes_bit_exact(tmp_path, monkeypatch):
    """The adv settings come back from config.yaml and the random starts from the
    checkpoint's generator state: the resumed run ends with the same weights."""
    monkeypatch.setattr(engine, "build_model", tiny_net)
    monkeypatch.setattr(adversarial, "ROBUST_VAL_IMAGES", 32)  # keep the test fast
    config = partial(digits_config, epochs=1, batch_size=256, adv="fgsm-rs")
    train(config(tmp_path / "straight"))
    reference = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")

    real_step, calls = engine.train_step, []

    def stop_after_second_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # handled after this step finishes
        return real_step(*args, **kwargs)

    monkeypatch.setattr(engine, "train_step", stop_after_second_step)
    run = tmp_path / "stopped"
    with pytest.raises(ScenelabError, match="scenelab train --resume"):
        train(config(run))
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 2
    monkeypatch.setattr(engine, "train_step", real_step)

    resumed = resumed_config(run, {})
    assert (resumed.adv, resumed.adv_steps) == ("fgsm-rs", 1)
    assert resumed.adv_step_size == pytest.approx(1.25 * 6 / 255)
    train(resumed, resume=True)
    final = load_checkpoint(run / "checkpoints" / "last.pt")
    for key, value in reference["model"].items():
        assert torch.equal(final["model"][key], value), key
    assert final["metrics"][0]["val_robust_top1"] == reference["metrics"][0]["val_robust_top1"]
