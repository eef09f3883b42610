"""CLI fuzz test: every flag of every sub-command, with values of right and wrong types,
through the real parser and entry point (``scenelab.cli.main``) on tiny data.

The flags are read from ``build_parser()`` itself, so a new flag is fuzzed without a change
here. A value's draw follows the flag's type: around the range a scenelab.cli.types type
carries, a choice or a wrong one, odd numbers (nan, 1e400, 2**64, Unicode digits), empty and
control-character text. Whatever is drawn, the command must end with exit 0, 1 or 2 and
never with a traceback, nor with the error boundary's "COMMAND failed:" line (that line
means an exception class nobody handles). Valid values are kept small so that what runs
stays cheap (one or two steps of training); `-m slow` draws many more examples.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_corpus import TRAIN, write_base

from scenelab.cli import build_parser, main

FAST_EXAMPLES = 20  # per sub-command: ~250 in all
# compare draws three figures per valid example: fewer of them in `make test`.
FEWER_EXAMPLES = {"compare": 8}
# A valid `bench conv` times training steps for tens of seconds on a shared CPU: in `make
# test` a last, bad flag stops it after argparse has converted every drawn value; under
# -m slow it runs.
FAST_SUFFIX = {"bench conv": ("--repeats", "0")}
SLOW_EXAMPLES = 200
FEWER_SLOW_EXAMPLES = {"bench conv": 20, "compare": 50}  # seconds per valid example

# Each sub-command's base invocation on the tiny data; the drawn flags are appended to it
# (a later flag overrides the base's) and a drawn positional replaces the base's.
# {data}: the tiny dataset, {run}, {run2}: run folders of one 2-step epoch, {new}: a path
# that does not exist yet, {missing}: one that never exists.
CPU = ("--device", "cpu")
BASES: dict[str, tuple[str, ...]] = {
    "train": tuple(a.replace("{root}", "{data}").replace("{run}", "{new}") for a in TRAIN),
    "config list": ("config", "list"),
    "config show": ("config", "show", "simplenet"),
    "models": ("models", "simplenet", "--image-size", "32"),
    "bench conv": ("bench", "conv", "--quick", "--batch-size", "1", "--repeats", "1"),
    "data download": ("data", "download", "miniplaces", "{new}", "--mirror", "http://127.0.0.1:9"),
    "data verify": ("data", "verify", "{data}"),
    "data stats": ("data", "stats", "{data}"),
    "eval": ("eval", "{run}", "--data", "{data}", "--workers", "0", *CPU),
    "predict": ("predict", "{run}", "--data", "{data}", "--out", "{new}/p.csv", *CPU),
    "compare": ("compare", "{run}", "{run2}", "--out", "{new}"),
    "export": ("export", "{run}", "--format", "state-dict", "--out", "{new}/model.pt"),
    # Both run for minutes on valid data: they are fuzzed up to their data check.
    "study conv": ("study", "conv", "--data", "{missing}", "--out", "{new}", *CPU),
    "reproduce": ("reproduce", "--data", "{missing}", "--out", "{new}", *CPU),
    "saliency": ("saliency", "{run}", "--n", "2", "--samples", "2", "--steps", "2", *CPU),
    "attack": (
        *("attack", "{run}", "--limit", "2", "--steps", "1", "--sweep", "0,2/255"),
        *("--examples", "1", *CPU),
    ),
}
# Flags whose valid values cost minutes, not seconds: fuzzed only under -m slow.
SLOW_FLAGS = {("train", "--compile")}
# Text that is no number, or a number Python reads but scenelab must not.
ODD_NUMBERS = [
    *("", " ", "nan", "-nan", "inf", "-inf", "1e400", "-1e400", "1e-400", "2**64"),
    *(str(-(2**63) - 1), "9" * 5000, "0x10", "1_000", "\u0661"),
    *("\uff11", "1.5", "-0", "+3", "6/255", "1/0", "three", "\x1b[31m1"),
]
# Drawn only for a flag with an upper limit: for one without (--epochs, --steps, --lr) they
# are valid and would run for as long as they ask.
HUGE_NUMBERS = [str(2**63), str(2**64), "1e30"]
ODD_TEXT = ["", " ", "-", "\x00", "\x1b[2J", "a\nb", "$x$", "<b>", "=1+1", "..", "/", "é"]


def subcommands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(``data verify``, its parser), ... for every runnable sub-command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from subcommands(child, f"{prefix} {name}".strip())
            return
    yield prefix, parser


PARSERS = dict(subcommands(build_parser()))


def test_every_subcommand_has_a_base_invocation():
    assert sorted(PARSERS) == sorted(BASES)


def _around(bounds) -> list[str]:
    """Values at and just beyond the limits of a range, and a few inside. Below an upper
    limit only the limit of a seed (2**63-1, where C integers overflow): 1024 px images or
    256 loader processes are valid and slow."""
    values: list[float] = [-1, 0, 1, 2, 3]
    if bounds.low is not None:
        step = 1 if bounds.integer else 1e-9 * max(1, abs(bounds.low))
        values += [bounds.low - step, bounds.low, bounds.low + step]
    if bounds.high is not None:
        step = 1 if bounds.integer else 1e-9 * max(1, abs(bounds.high))
        values += [bounds.high + step, *([bounds.high] if bounds.high >= 2**62 else [])]
    return [str(int(v)) if bounds.integer else repr(float(v)) for v in values]


def values_for(action: argparse.Action, paths: dict[str, str]) -> st.SearchStrategy[str]:
    """What to draw for one argument of a parser."""
    kind = getattr(action.type, "kind", None)
    odd = st.sampled_from(ODD_NUMBERS if kind in ("int", "float", "pixels") else ODD_TEXT)
    if action.choices is not None:
        return st.one_of(st.sampled_from([str(c) for c in action.choices]), odd)
    if kind in ("int", "float"):
        bounds = action.type.bounds
        huge = HUGE_NUMBERS if bounds.high is not None else []
        return st.one_of(st.sampled_from(_around(bounds) + huge), odd)
    if kind == "pixels":
        return st.one_of(st.sampled_from(["0", "1/255", "6/255", "1", "1.5", "-1/255"]), odd)
    if kind == "pixel_list":
        return st.sampled_from(["0,1/255", "0,,2/255", ",", "1e400", "0,nan", "2", "a,b"])
    names = [paths["missing"], paths["new"] + "/x", *ODD_TEXT]
    if kind == "path":
        return st.sampled_from(names)
    if kind == "url":
        return st.sampled_from(["http://127.0.0.1:9", "file://" + paths["missing"], *names])
    words = ["cpu", "val", "auto", "simplenet", "cuda:99", "0", "1", "-1", "99"]
    return st.one_of(st.sampled_from(words), odd, st.sampled_from(ODD_NUMBERS))


def arguments(command: str, paths: dict[str, str]) -> st.SearchStrategy[list[str]]:
    """A few of the command's flags (each with a drawn value, if it takes one), or a
    drawn positional in place of the base's."""
    parser = PARSERS[command]
    choices = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        flag = max(action.option_strings, key=len)
        if (command, flag) in SLOW_FLAGS and not paths["slow"]:
            continue
        if action.nargs == 0:
            choices.append(st.sampled_from(action.option_strings).map(lambda f: [f]))
        else:
            choices.append(values_for(action, paths).map(lambda v, f=flag: [f, v]))
    flags = st.lists(st.one_of(choices), max_size=3 if choices else 0).map(
        lambda pairs: [word for pair in pairs for word in pair]
    )
    positionals = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
    replaced = st.lists(
        st.tuples(st.integers(0, max(len(positionals) - 1, 0)), st.sampled_from(ODD_TEXT)),
        max_size=1 if positionals else 0,
    )
    return st.tuples(flags, replaced)


def argv_for(command: str, paths: dict[str, str], drawn) -> list[str]:
    flags, replaced = drawn
    base = [part.format(**paths) for part in BASES[command]]
    words = len(command.split())
    positions = [i for i, part in enumerate(base[words:], words) if not part.startswith("-")]
    positions = [i for i in positions if base[i - 1] not in _TAKES_VALUE]
    for index, value in replaced:
        if index < len(positions):
            base[positions[index]] = value
    suffix = FAST_SUFFIX.get(command, ()) if not paths["slow"] else ()
    return [*base, *flags, *suffix]


_TAKES_VALUE = {
    flag
    for parser in PARSERS.values()
    for action in parser._actions
    if action.nargs != 0
    for flag in action.option_strings
}


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> dict:
    """The tiny dataset, two run folders of one 2-step epoch, and a fresh folder per call."""
    base = tmp_path_factory.mktemp("fuzz")
    write_base(base / "data")
    run = base / "run"
    argv = [a.format(root=base / "data", run=run) for a in TRAIN]
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert main(argv) == 0
    shutil.copytree(run, base / "run2")
    return {"base": base, "count": [0]}


def run_command(argv: list[str]) -> tuple[int, str]:
    stderr = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(stderr):
        try:
            code = main(argv)
        except SystemExit as exited:  # argparse's own errors
            code = exited.code if isinstance(exited.code, int) else 1
    return code, stderr.getvalue()


def fuzz(command: str, place: dict, monkeypatch, examples: int, slow: bool) -> None:
    base: Path = place["base"]
    monkeypatch.delenv("SCENELAB_DEBUG", raising=False)
    monkeypatch.chdir(base)  # a drawn relative path lands here

    def paths() -> dict[str, str]:
        place["count"][0] += 1
        return {
            "data": str(base / "data"),
            "run": str(base / "run"),
            "run2": str(base / "run2"),
            "new": str(base / f"new{place['count'][0]}"),
            "missing": str(base / "missing"),
            "slow": slow,
        }

    template = paths()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(arguments(command, template))
    def check(drawn) -> None:
        argv = argv_for(command, paths(), drawn)
        code, stderr = run_command(argv)
        assert "Traceback" not in stderr, (argv, stderr)
        assert not re.search(r"^scenelab: error: .* failed: ", stderr, re.M), (argv, stderr)
        # 3: training stopped at a non-finite loss (--lr 1e30), as docs/reliability.md says
        diverged = code == 3 and "Try a lower --lr" in stderr
        assert code in (0, 1, 2) or diverged, (argv, code, stderr)

    check()


@pytest.mark.parametrize("command", sorted(BASES))
def test_no_flag_value_ends_in_a_traceback(command, place, monkeypatch):
    fuzz(command, place, monkeypatch, FEWER_EXAMPLES.get(command, FAST_EXAMPLES), slow=False)


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(BASES))
def test_no_flag_value_ends_in_a_traceback_many_examples(command, place, monkeypatch):
    examples = FEWER_SLOW_EXAMPLES.get(command, SLOW_EXAMPLES)
    fuzz(command, place, monkeypatch, examples, slow=True)
