from __future__ import annotations

import argparse
import logging

import pytest
import torch

from scenelab import checkpoint as ckpt
from scenelab.checkpoint import load_checkpoint, load_model, save_checkpoint
from scenelab.errors import ScenelabError
from scenelab.models import build_model


def _state(model: torch.nn.Module, epoch: int = 1) -> dict:
    config = {"model": "simplenet", "num_classes": 5, "conv": "native", "data": "digits"}
    return {"model": model.state_dict(), "epoch": epoch, "config": config, "metrics": []}


def test_round_trip_and_run_folder_prefers_best(tmp_path):
    model = build_model("simplenet", 5)
    save_checkpoint(tmp_path / "checkpoints" / "last.pt", _state(model, epoch=2))
    assert load_checkpoint(tmp_path)["epoch"] == 2  # only last.pt exists
    save_checkpoint(tmp_path / "checkpoints" / "best.pt", _state(model, epoch=1))
    assert load_checkpoint(tmp_path)["epoch"] == 1

    loaded, state = load_model(tmp_path)
    assert not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    assert state["config"]["model"] == "simplenet"


def test_a_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {}, "epoch": 1})

    def crash(obj, file):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", crash)
    with pytest.raises(ScenelabError, match=r"disk full.*still holds the previous"):
        save_checkpoint(path, {"model": {}, "epoch": 2})
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary left behind


def test_falls_back_to_previous_when_newest_is_corrupt(tmp_path, caplog):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {}, "epoch": 1})
    save_checkpoint(path, {"model": {}, "epoch": 2})
    path.write_bytes(b"garbage")
    assert load_checkpoint(path)["epoch"] == 1
    (warning,) = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert warning.name == "scenelab.checkpoint"
    assert f"using {path}.prev" in warning.getMessage()


def test_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "code.pt"
    torch.save({"model": {}, "config": argparse.Namespace(model="simplenet")}, path)
    with pytest.raises(ScenelabError, match="unreadable"):
        load_checkpoint(path)


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(ScenelabError, match=r"best\.pt or last\.pt"):
        load_checkpoint(tmp_path)
    with pytest.raises(ScenelabError, match=r"nope\.pt"):
        load_checkpoint(tmp_path / "nope.pt")
