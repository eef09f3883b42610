"""The argparse types of scenelab.cli.types, the one table of setting ranges they share with
YAML and stored configs (config.SETTING_BOUNDS), and the error boundary of scenelab.cli.main."""

from __future__ import annotations

import argparse
import math
from fractions import Fraction

import pytest
import torch

from scenelab.checkpoint import load_model
from scenelab.cli import build_parser, main
from scenelab.cli.types import count, device, number, path, pixel_list, pixels, whole_number
from scenelab.config import SETTING_BOUNDS, Bounds, RunConfig
from scenelab.errors import ScenelabError


@pytest.mark.parametrize("text", ["0", "7", "+3", " 12 ", str(2**63 - 1)])
def test_whole_numbers_in_ascii_digits_read_as_python_does(text):
    assert whole_number(Bounds(0, integer=True))(text) == int(text)


@pytest.mark.parametrize(
    "text", ["-1", "\u0661", "\uff11", "1_000", "1e3", "1.0", "0x10", "", "9" * 5000, "2**64"]
)
def test_other_whole_numbers_are_refused_with_the_range(text):
    with pytest.raises(argparse.ArgumentTypeError, match=r"must be a whole number >= 0, got "):
        whole_number(Bounds(0, integer=True))(text)


@pytest.mark.parametrize("text", ["0.5", "1e-3", "3", " 2.25 ", "-0.0"])
def test_finite_numbers_read_as_float_does(text):
    assert number(Bounds(-1, 3))(text) == float(text)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e400", "1_0", "\u0663", "3.0001", ""])
def test_non_finite_and_out_of_range_numbers_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match=r"must be a finite number in \[-1, 3\]"):
        number(Bounds(-1, 3))(text)


def test_epsilons_are_exact_fractions_and_overflow_is_a_range_error():
    assert pixels()("6/255") == float(Fraction(6, 255))
    assert pixel_list("0, 1/255,2/255") == [0.0, float(Fraction(1, 255)), float(Fraction(2, 255))]
    for text in ("1e400", "-1e400", "256/255"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"must be in \[0, 1\]"):
            pixels()(text)
    for text in ("nan", "inf", "1/0", "\u0666/255"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"is not a number or a fraction"):
            pixels()(text)
    with pytest.raises(argparse.ArgumentTypeError):
        pixel_list(",")


def test_counts_paths_and_devices():
    assert count("1") == 1
    with pytest.raises(argparse.ArgumentTypeError, match=">= 1, got '0'"):
        count("0")
    assert path("runs/a") == "runs/a"
    for bad in ("", "a\0b"):
        with pytest.raises(argparse.ArgumentTypeError):
            path(bad)
    for good in ("auto", "cpu", "cuda", "cuda:1"):
        assert device()(good) == good
        if good != "auto":
            torch.device(good)  # torch reads what the type accepts
    for bad in ("val", "", "cuda:x", "quantum", "\u0441pu"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be auto, cpu, cuda or cuda:N"):
            device()(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="must be cpu, cuda or cuda:N"):
        device(auto=False)("auto")


def test_bounds_describe_their_interval():
    assert Bounds(0, 1, high_open=True).describe() == "a finite number in [0, 1)"
    assert Bounds(0, low_open=True).describe() == "a finite number > 0"
    assert Bounds(1, integer=True).describe() == "a whole number >= 1"
    assert not Bounds(0, 1).contains(math.nan)
    assert Bounds(0, integer=True).contains(10**400)  # no float conversion of big ints


def _train_flag_types() -> dict[str, object]:
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    return {action.dest: action.type for action in train._actions if action.type is not None}


def _probes(bounds: Bounds) -> list[float]:
    values = [-(2**64), -1, 0, 0.5, 1, 7, 2**64, math.nan, math.inf]
    for limit in (bounds.low, bounds.high):
        if limit is not None:
            values += [limit - 1, limit - 1e-9, limit, limit + 1e-9, limit + 1]
    return [int(v) for v in values if float(v).is_integer()] if bounds.integer else values


@pytest.mark.parametrize("key", sorted(SETTING_BOUNDS))
def test_a_flag_and_a_yaml_config_accept_the_same_values(key):
    """Per setting: `train --FLAG v` is accepted exactly when `KEY: v` in a config is."""
    flag_type = _train_flag_types().get(key)
    if flag_type is None:  # num_classes: no flag, the dataset gives it
        assert key == "num_classes"
        return
    for value in _probes(SETTING_BOUNDS[key]):
        text = str(value) if isinstance(value, int) else repr(value)
        try:
            flag_type(text)
            by_flag = True
        except argparse.ArgumentTypeError:
            by_flag = False
        try:
            RunConfig.from_dict({key: value}, source="config.yaml")
            by_yaml = True
        except ScenelabError as error:
            assert str(error).startswith(f"config.yaml: {key} must be "), error
            by_yaml = False
        assert by_flag == by_yaml, (key, value)


@pytest.mark.parametrize("num_classes", [-5, 0, 10**13, 2**64])
def test_a_checkpoint_config_is_checked_as_a_yaml_config_is(tmp_path, num_classes):
    file = tmp_path / "odd.pt"
    config = {"model": "simplenet", "conv": "native", "num_classes": num_classes}
    torch.save({"model": {}, "config": config}, file)
    with pytest.raises(ScenelabError) as from_yaml:
        RunConfig.from_dict(config, source="SOURCE")
    with pytest.raises(ScenelabError) as from_checkpoint:
        load_model(file)
    expected = str(from_yaml.value).replace("SOURCE", f"{file} (stored config)")
    assert str(from_checkpoint.value) == expected


def _boom(args):
    raise RuntimeError("bad\x1b[31m value\nsecond line")


def test_an_unexpected_error_is_one_escaped_line_and_exit_1(monkeypatch, capsys):
    monkeypatch.delenv("SCENELAB_DEBUG", raising=False)
    monkeypatch.setattr("scenelab.cli.models.models_command", _boom)
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "scenelab: error: models failed: RuntimeError: bad\\x1b[31m value\\nsecond line "
        "(run again with --debug or SCENELAB_DEBUG=1 for the traceback)\n"
    )


def test_an_error_naming_a_hostile_path_reaches_the_terminal_escaped(capsys):
    """A user error keeps its line breaks, but no control character of a path it names
    (the ESC of an ANSI sequence) reaches the terminal raw."""
    assert main(["eval", "runs/\x1b[2Jgone", "--data", "digits"]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert "runs/\\x1b[2Jgone" in err


@pytest.mark.parametrize(("argv", "env"), [(["--debug", "models"], None), (["models"], "1")])
def test_debug_shows_the_traceback(monkeypatch, argv, env):
    monkeypatch.setattr("scenelab.cli.models.models_command", _boom)
    if env is None:
        monkeypatch.delenv("SCENELAB_DEBUG", raising=False)
    else:
        monkeypatch.setenv("SCENELAB_DEBUG", env)
    with pytest.raises(RuntimeError, match="bad"):
        main(argv)


def test_an_attack_target_is_a_name_or_a_class_index_in_ascii_digits():
    from scenelab.cli.attack import parse_target

    assert parse_target("least-likely") == "least_likely"
    assert parse_target("3") == 3
    for bad in ("\u0661", "-1", "1.0", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="or a class index"):
            parse_target(bad)


@pytest.mark.parametrize("key", ["data", "out", "pretrained"])
def test_an_empty_path_in_a_config_is_refused_as_on_the_command_line(key):
    with pytest.raises(ScenelabError, match=f"config.yaml: {key} must not be empty"):
        RunConfig.from_dict({key: ""}, source="config.yaml")
