"""Fixtures: the tiny dataset and a reference run of it that nothing interrupted."""

from __future__ import annotations

from pathlib import Path

import pytest
import reliability_harness as harness
from reliability_runs import train_args, write_class_folders


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """24 train and 12 val images: 6 steps of 4 per epoch."""
    return write_class_folders(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def reference_run(tiny_data, tmp_path_factory) -> Path:
    """The tiny run, trained from start to end without interruption."""
    out = tmp_path_factory.mktemp("reference") / "run"
    child = harness.run(train_args(tiny_data, out), out.parent / "logs")
    assert child.process.exitcode == 0, child.stderr
    return out
