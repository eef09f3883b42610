from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from scenelab import attack_settings
from scenelab.config import ResolvedConfig, RunConfig, resolve, validate
from scenelab.errors import ScenelabError
from scenelab.models import list_models
from scenelab.train.engine import train


def test_yaml_round_trip_and_unknown_keys(tmp_path):
    config = RunConfig(data="some/folder", model="resnet18", epochs=5, lr=0.3, nesterov=True)
    config.to_yaml(tmp_path / "run.yaml")
    assert RunConfig.from_yaml(tmp_path / "run.yaml") == config

    (tmp_path / "typo.yaml").write_text("model: simplenet\nlearning_rate: 0.1\n")
    with pytest.raises(ScenelabError, match=r"typo\.yaml: unknown key\(s\) learning_rate"):
        RunConfig.from_yaml(tmp_path / "typo.yaml")


def test_resolve_fills_per_dataset_defaults_and_scales_the_lr():
    digits = resolve(RunConfig(), image_size=32)
    assert (digits.epochs, digits.batch_size, digits.image_size) == (10, 32, 32)
    assert digits.lr == pytest.approx(0.1 * 32 / 256) and digits.amp == "off"  # unless asked
    assert digits.out == "runs/simplenet-digits"

    scenes = resolve(RunConfig(data="/data/miniplaces", batch_size=64), image_size=128)
    assert (scenes.epochs, scenes.augment, scenes.image_size) == (60, "study", 128)
    assert scenes.lr == pytest.approx(0.025)
    explicit = resolve(RunConfig(batch_size=64, lr=0.5), image_size=32)
    assert explicit.lr == 0.5


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, r"--epochs must be a whole number >= 1, got 0"),
        ({"epochs": 2, "warmup_epochs": 3}, "longer than training"),
        ({"batch_size": -1}, r"--batch-size must be a whole number in \[1, 65536\], got -1"),
        ({"momentum": 1.0}, "--momentum"),
        ({"amp": "fp8"}, "--amp must be one of bf16, fp16, off"),
        ({"label_smoothing": 1.0}, "--label-smoothing"),
    ],
)
def test_impossible_values_name_the_flag(changes, message):
    with pytest.raises(ScenelabError, match=message):
        validate(RunConfig(**changes))


def test_differences_ignore_what_does_not_change_the_computation():
    saved = RunConfig(epochs=3)
    assert saved.differences(saved.replace(workers=8, device="cpu", ckpt_minutes=5)) == []
    assert saved.differences(saved.replace(epochs=4, lr=0.2)) == [
        "epochs: 3 -> 4",
        "lr: None -> 0.2",
    ]


def test_every_recipe_in_configs_is_valid():
    recipes = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
    assert {path.stem for path in recipes} >= {
        "simplenet",
        "ourbestnet2",
        "ourbestnet3",
        "ourbestnet4",
        "resnet18-scratch",
        "resnet18-finetune",
    }
    for path in recipes:
        config = RunConfig.from_yaml(path)
        validate(config)
        assert config.model in list_models(), path


def test_a_run_is_checked_and_resolved_once_into_a_frozen_config(
    tiny_config, tmp_path, monkeypatch
):
    """`resolve` is the one check: the adversarial settings are resolved once per run (the
    trainer checks nothing again), and what it returns cannot change."""
    real, calls = attack_settings.resolve_adversarial, []

    def counted(config):
        calls.append(config)
        return real(config)

    monkeypatch.setattr(attack_settings, "resolve_adversarial", counted)
    resolved = resolve(RunConfig(adv="pgd", adv_epsilon="4/255"), image_size=32)
    assert len(calls) == 1 and isinstance(resolved, ResolvedConfig)
    assert resolved.adv_epsilon == pytest.approx(4 / 255) and resolved.adv_steps == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.lr = 1.0  # type: ignore[misc]

    calls.clear()
    train(tiny_config(tmp_path / "run", epochs=1, adv="fgsm-rs"))
    assert len(calls) == 1
