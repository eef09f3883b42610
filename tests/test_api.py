"""The Python API at the top of the package: every name resolves to the object its module
defines, and importing scenelab has no side effects."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import scenelab


def test_every_api_name_is_the_object_its_module_defines():
    for name, where in scenelab._API.items():
        module, attribute = where.split(":")
        expected = getattr(importlib.import_module(module), attribute)
        assert getattr(scenelab, name) is expected, name
    assert set(scenelab.__all__) == {"__version__", *scenelab._API}


def test_an_unknown_name_is_an_attribute_error():
    try:
        scenelab.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("no AttributeError")


def test_import_loads_neither_torch_nor_matplotlib_and_warns_nothing():
    code = (
        "import sys, scenelab; "
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout


def test_the_package_is_marked_typed():
    assert (Path(scenelab.__file__).parent / "py.typed").is_file()
