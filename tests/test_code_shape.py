"""The shape docs/design.md promises a newcomer: short modules, a training run that reads
on one screen (issue 16)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "scenelab"
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = {("train/engine.py", "train"): 80, ("train/step.py", "train_step"): 60}


def test_no_module_is_longer_than_a_module_should_be():
    long = {
        str(path.relative_to(SRC)): count
        for path in SRC.rglob("*.py")
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_the_training_run_and_its_step_fit_one_screen():
    for (module, name), limit in MAX_FUNCTION_LINES.items():
        tree = ast.parse((SRC / module).read_text())
        (function,) = [node for node in tree.body if getattr(node, "name", None) == name]
        assert function.end_lineno - function.lineno + 1 <= limit, (module, name)
