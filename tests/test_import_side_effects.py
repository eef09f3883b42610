"""Importing scenelab changes no global state: matplotlib's backend stays the caller's (a
notebook's inline one, say), even once a figure is drawn, and no import warns."""

from __future__ import annotations

import os
import subprocess
import sys

MODULES = "scenelab, scenelab.data, scenelab.train, scenelab.train.engine, scenelab.plots"


def run_python(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    """`python ARGUMENTS` in a fresh process, scenelab importable as it is here."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), **environment}
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, env=env, timeout=300
    )


def test_importing_and_plotting_keep_matplotlibs_backend(tmp_path):
    code = (
        "import sys, matplotlib\n"
        "before = matplotlib.get_backend()\n"
        f"import {MODULES}\n"
        "after_import = matplotlib.get_backend()\n"
        "rows = [{'epoch': 1, 'train_loss': 2.0, 'val_loss': 2.5},"
        " {'epoch': 2, 'train_loss': 1.5, 'val_loss': 2.0}]\n"
        f"scenelab.plots.plot_loss_curves(rows, __import__('pathlib').Path({str(tmp_path)!r})"
        " / 'loss.png', 'loss')\n"
        "print(before, after_import, matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)"
    )
    child = run_python("-c", code, MPLBACKEND="svg")  # not Agg, which scenelab once forced
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["svg", "svg", "svg", "False"]
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_packages_import_with_warnings_as_errors():
    child = run_python("-W", "error", "-c", "import scenelab, scenelab.data, scenelab.train")
    assert child.returncode == 0, child.stderr
