"""Shared switches for the saliency tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _tiny_models_use_one_thread(one_thread):
    """See `one_thread` in tests/conftest.py."""
