"""The one atomic-write helper: a file is replaced whole or left as it was."""

import json
import math

import pytest

from scenelab.files import atomic_path, write_json, write_text


def test_write_text_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "notes.txt"
    write_text(path, "first")
    write_text(path, "second ü")
    assert path.read_text(encoding="utf-8") == "second ü"
    assert [p.name for p in path.parent.iterdir()] == ["notes.txt"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "eval.json"
    write_json(path, {"top1": 1.0})
    with pytest.raises(RuntimeError), atomic_path(path) as temporary:
        temporary.write_text('{"top1": 0.')  # half written, then the writer dies
        raise RuntimeError("killed")
    assert json.loads(path.read_text()) == {"top1": 1.0}
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]


def test_write_json_refuses_nan_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "eval.json"
    write_json(path, {"top1": 1.0})
    with pytest.raises(ValueError):
        write_json(path, {"top1": math.nan})
    assert json.loads(path.read_text()) == {"top1": 1.0}
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]
