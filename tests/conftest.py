"""Shared test fixtures and switches."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

MINIPLACES20 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "miniplaces20"


@pytest.fixture
def miniplaces20() -> Path:
    """The real MiniPlaces subset beside the checkout; the test skips when it is absent."""
    if not (MINIPLACES20 / "train.txt").is_file():
        pytest.skip(f"real data not found at {MINIPLACES20}")
    return MINIPLACES20


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module of tests on tiny models: fastest for them, and on a
    shared machine several threads spin against other jobs (5x slower wall time measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
