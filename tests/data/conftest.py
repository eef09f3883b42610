"""Fixtures of the data tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_builders import make_miniplaces


@pytest.fixture
def tiny_miniplaces(tmp_path: Path) -> Path:
    return make_miniplaces(tmp_path / "miniplaces")
