"""scenelab.study: the commands it prints are the ones it runs, finished runs are
reused, stopped ones resumed, runs trained otherwise refused, and timings kept."""

from __future__ import annotations

import csv
import dataclasses
import os
import shlex
from pathlib import Path

import pytest

from scenelab.checkpoint import save_checkpoint
from scenelab.cli import attack, bench, build_parser, main, saliency
from scenelab.cli import eval as cli_eval
from scenelab.config import RunConfig
from scenelab.errors import ScenelabError
from scenelab.study import steps
from scenelab.study.plan import (
    BUDGETS,
    CONV_CONTROL,
    CONV_PAIR,
    FINE_TUNED,
    PRETRAINING,
    RUNS,
    Plan,
    attack_options,
    bench_options,
    eval_options,
    resnet_runs,
    saliency_options,
)
from scenelab.study.state import FINISHED, NEW, PARTIAL, Timings, is_current, run_state
from scenelab.study.steps import train_runs
from scenelab.train.command import flag_overrides
from scenelab.train.runfolder import run_folder_lock


@pytest.fixture
def plan(tmp_path) -> Plan:
    weights = tmp_path / "resnet18.pth"
    weights.write_bytes(b"")
    return Plan("digits", tmp_path / "study", BUDGETS["smoke"], pretrained=str(weights))


@pytest.mark.parametrize("name", list(RUNS))
def test_each_train_command_parses_back_to_the_runs_settings(plan, name):
    if name == PRETRAINING:  # there with --pretrain-data, in place of --pretrained
        plan = dataclasses.replace(plan, pretrained=None, pretrain_data="other/data")
    words = shlex.split(plan.train_command(name))
    assert words[:2] == ["scenelab", "train"]
    args = build_parser().parse_args(words[1:])
    assert flag_overrides(args) == plan.run_settings(name)
    assert RunConfig().replace(**flag_overrides(args)) == RunConfig(**plan.run_settings(name))


@pytest.mark.parametrize("name", list(RUNS))
def test_the_small_budgets_train_commands_parse_back_too(tmp_path, name):
    """The small budget sets a switch (--channels-last) the smoke budget leaves off."""
    plan = Plan("miniplaces20", tmp_path / "study", BUDGETS["small"], pretrained="r18.pth")
    if name == PRETRAINING:
        plan = dataclasses.replace(plan, pretrained=None, pretrain_data="miniplaces80")
    args = build_parser().parse_args(shlex.split(plan.train_command(name))[1:])
    assert RunConfig().replace(**flag_overrides(args)) == RunConfig(**plan.run_settings(name))
    assert getattr(args, "channels_last", False) == (name != CONV_CONTROL)  # control: other layout


@pytest.mark.parametrize("budget", list(BUDGETS))
def test_the_control_run_differs_from_native_only_in_its_memory_layout(tmp_path, budget):
    plan = Plan("digits", tmp_path / "study", BUDGETS[budget])
    native, control = (plan.run_settings(name) for name in (CONV_PAIR[0], CONV_CONTROL))
    layout = ("out", "channels_last")
    assert {k: v for k, v in native.items() if k not in layout} == {
        k: v for k, v in control.items() if k not in layout
    }
    assert native.get("channels_last", False) != control.get("channels_last", False)


def test_pretrain_data_adds_the_run_that_the_fine_tuned_one_starts_from(tmp_path, capsys):
    plan = Plan("digits", tmp_path / "study", BUDGETS["smoke"], pretrain_data="other/data")
    assert resnet_runs(plan) == [PRETRAINING, "resnet18", FINE_TUNED]
    assert plan.run_settings(PRETRAINING)["data"] == "other/data"
    assert plan.run_settings(FINE_TUNED)["pretrained"] == str(plan.run_dir(PRETRAINING))
    args = build_parser().parse_args(shlex.split(plan.command(only=5))[1:])
    assert (args.pretrain_data, args.pretrained) == ("other/data", None)
    weights = tmp_path / "r18.pth"
    weights.write_bytes(b"")
    both = ["--pretrained", str(weights), "--pretrain-data", "digits"]
    assert main(["reproduce", *both, "--out", str(tmp_path / "out")]) != 0
    assert "give one" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_other_commands_parse_back_and_point_at_the_plans_folders(plan):
    parser = build_parser()
    evaluation = parser.parse_args(eval_options(plan).to_argv())
    assert cli_eval.options(evaluation) == eval_options(plan)
    assert Path(evaluation.run) == plan.run_dir("simplenet") and evaluation.data == "digits"
    drawn = parser.parse_args(saliency_options(plan).to_argv())
    assert saliency.options(drawn) == saliency_options(plan)
    assert drawn.n == plan.budget.saliency_images
    for name in ("simplenet", "simplenet-adv"):
        attacked = parser.parse_args(attack_options(plan, name).to_argv())
        assert attack.options(attacked) == attack_options(plan, name)
        assert Path(attacked.run) == plan.run_dir(name) / "checkpoints" / "last.pt"
        assert attacked.limit == plan.budget.attack_images
    measured = parser.parse_args(bench_options(plan).to_argv())
    assert bench.conv_options(measured) == bench_options(plan)
    assert measured.quick and measured.batch_size == 8
    assert Path(measured.json) == plan.out / "conv" / "bench.json"


def test_the_section_command_parses_to_the_same_plan(plan):
    args = build_parser().parse_args(shlex.split(plan.command(only=3))[1:])
    assert (args.data, args.budget, Path(args.out)) == ("digits", "smoke", plan.out)
    assert (args.pretrained, args.only) == (plan.pretrained, [3])


def fake_run(plan: Plan, name: str, epoch: int, rows: int, position: int = 0, **changes) -> Path:
    """A run folder as the engine leaves it: config.yaml, checkpoints/last.pt, metrics.csv."""
    run_dir = plan.run_dir(name)
    run_dir.mkdir(parents=True)
    RunConfig(**{**plan.run_settings(name), **changes}).to_yaml(run_dir / "config.yaml")
    save_checkpoint(
        run_dir / "checkpoints" / "last.pt", {"model": {}, "epoch": epoch, "position": position}
    )
    with (run_dir / "metrics.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["epoch", "val_top1"])
        writer.writerows([[index + 1, 50.0] for index in range(rows)])
    return run_dir


def test_run_state(plan):
    epochs = plan.budget.epochs
    assert run_state(plan.run_dir("simplenet"), epochs) == NEW
    assert run_state(fake_run(plan, "simplenet", epochs, epochs), epochs) == FINISHED
    assert run_state(fake_run(plan, "ourbestnet2", epochs - 1, epochs - 1), epochs) == PARTIAL
    # the last epoch's checkpoint was written but not its metrics row
    assert run_state(fake_run(plan, "ourbestnet3", epochs, epochs - 1), epochs) == PARTIAL
    # stopped in the middle of an epoch
    assert run_state(fake_run(plan, "ourbestnet4", epochs - 1, 1, position=3), epochs) == PARTIAL
    # stopped before its first checkpoint: its config.yaml makes the folder the run's
    stopped = plan.run_dir("simplenet-adv")
    stopped.mkdir(parents=True)
    RunConfig(**plan.run_settings("simplenet-adv")).to_yaml(stopped / "config.yaml")
    assert run_state(stopped, epochs) == PARTIAL


def test_reproduce_trains_under_the_run_folders_lock(plan):
    with (
        run_folder_lock(plan.run_dir("simplenet")),
        pytest.raises(ScenelabError, match=rf"is in use .* \(PID {os.getpid()}\)"),
    ):
        train_runs(plan, ["simplenet"], Timings(plan.out / "timings.json"), 4)


def test_a_run_stopped_before_its_first_checkpoint_is_trained_again(plan):
    """In its own folder, which holds its config.yaml (the engine refuses a new run
    there): the real engine, the smoke budget on digits."""
    run_dir = plan.run_dir("simplenet")
    run_dir.mkdir(parents=True)
    RunConfig(**plan.run_settings("simplenet")).to_yaml(run_dir / "config.yaml")
    train_runs(plan, ["simplenet"], Timings(plan.out / "timings.json"), 4)
    assert run_state(run_dir, plan.budget.epochs) == FINISHED


def test_finished_runs_are_reused_stopped_ones_resumed_new_ones_trained(plan, monkeypatch):
    calls = []
    monkeypatch.setattr(steps, "train", lambda config, resume: calls.append((config, resume)))
    epochs = plan.budget.epochs
    fake_run(plan, "ourbestnet2", epochs, epochs)
    fake_run(plan, "ourbestnet3", epochs - 1, epochs - 1)
    timings = Timings(plan.out / "timings.json")
    timings.seconds["4/ourbestnet3"] = 1000.0  # spent before the stop
    timings.seconds["4/ourbestnet4"] = 1000.0  # a run since deleted
    train_runs(plan, ["ourbestnet2", "ourbestnet3", "ourbestnet4"], timings, 4)
    assert [(Path(config.out).name, resume) for config, resume in calls] == [
        ("ourbestnet3", True),
        ("ourbestnet4", False),
    ]
    for config, _ in calls:
        assert config == RunConfig().replace(**plan.run_settings(Path(config.out).name))
    saved = Timings(plan.out / "timings.json").seconds
    assert saved["4/ourbestnet3"] > 1000.0 and saved["4/ourbestnet4"] < 1000.0
    assert "4/ourbestnet2" not in saved


def test_a_run_trained_with_other_settings_is_refused(plan, monkeypatch):
    monkeypatch.setattr(steps, "train", lambda config, resume: pytest.fail("trained"))
    epochs = plan.budget.epochs
    fake_run(plan, "simplenet", epochs, epochs, batch_size=32)
    expected = rf"batch_size: 32 -> {plan.budget.batch_size}.*delete it"
    with pytest.raises(ScenelabError, match=expected):
        train_runs(plan, ["simplenet"], Timings(plan.out / "timings.json"), 2)


def test_results_older_than_the_checkpoint_are_redone(plan):
    run_dir = fake_run(plan, "simplenet", 2, 2)
    result = run_dir / "eval.json"
    result.write_text("{}")
    assert is_current(result, run_dir)
    checkpoint = run_dir / "checkpoints" / "last.pt"
    later = result.stat().st_mtime + 10
    os.utime(checkpoint, (later, later))
    assert not is_current(result, run_dir)
    assert not is_current(run_dir / "attack.json", run_dir)


def test_timings_add_for_a_resumed_step_and_survive_a_failure(tmp_path):
    timings = Timings(tmp_path / "timings.json")
    with timings.measure(2, "simplenet"):
        pass
    first = timings.seconds["2/simplenet"]
    with pytest.raises(RuntimeError), timings.measure(2, "simplenet", add=True):
        raise RuntimeError("stopped")
    again = Timings(tmp_path / "timings.json")
    assert again.seconds["2/simplenet"] >= first
    assert again.section_seconds(2) == again.seconds["2/simplenet"]
    assert again.section_seconds(3) is None


def test_bad_flags_are_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["reproduce", "--only", "8", "--out", str(out)]) != 0
    assert "--only 8: sections are numbered 1 to 7" in capsys.readouterr().err
    assert main(["reproduce", "--pretrained", str(tmp_path / "no.pth"), "--out", str(out)]) != 0
    assert "no.pth: no such file" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["reproduce", "--budget", "huge"])


def test_a_run_folder_trained_with_other_settings_is_refused(tmp_path):
    """The study continues a run through config.resumed_config, as train --resume does: a
    folder whose config.yaml differs in a setting that may not change is refused, naming it."""
    from scenelab.study.state import checked_state

    plan = Plan("digits", tmp_path / "study", BUDGETS["smoke"])
    settings = plan.run_settings("simplenet")
    run_dir = Path(settings["out"])
    run_dir.mkdir(parents=True)
    RunConfig(**{**settings, "batch_size": 32}).to_yaml(run_dir / "config.yaml")
    (run_dir / "metrics.csv").write_text("epoch\n1\n")
    with pytest.raises(ScenelabError, match=r"run folder .*simplenet.*batch_size.*delete it"):
        checked_state(plan, "simplenet")
