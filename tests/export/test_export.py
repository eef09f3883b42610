"""`scenelab export`: every format gives the logits scenelab's own model gives, loaded the
way a user of torchvision, safetensors, onnxruntime or torch.export would load it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from safetensors import safe_open
from safetensors.torch import load_file

from scenelab.checkpoint import load_model, save_checkpoint
from scenelab.cli import main
from scenelab.errors import ScenelabError
from scenelab.export import export_model
from scenelab.models import SimpleNet, build_model
from scenelab.nn.normalize import IMAGENET_MEAN, IMAGENET_STD

IMAGE_SIZE = 32
CLASSES = [f"class {i}" for i in range(10)]


def save_run(run: Path, model_name: str, conv: str = "native") -> Path:
    torch.manual_seed(0)
    model = build_model(model_name, len(CLASSES), conv=conv)
    with torch.no_grad():  # BatchNorm statistics other than 0 and 1, so that they matter
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    config = {
        "model": model_name,
        "num_classes": len(CLASSES),
        "conv": conv,
        "data": "digits",
        "image_size": IMAGE_SIZE,
    }
    state = {"model": model.state_dict(), "config": config, "classes": CLASSES, "epoch": 3}
    save_checkpoint(run / "checkpoints" / "best.pt", state)
    return run


@pytest.fixture(scope="module")
def resnet_run(tmp_path_factory) -> Path:
    return save_run(tmp_path_factory.mktemp("resnet") / "run", "resnet18")


@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    return torch.rand(3, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(1))


def scenelab_logits(run: Path, pixels: torch.Tensor) -> torch.Tensor:
    model, _ = load_model(run)
    with torch.no_grad():
        return model(pixels)


def normalised(pixels: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (pixels - mean) / std


def test_state_dict_loads_strictly_into_torchvision_resnet18(resnet_run, pixels, tmp_path):
    path, sidecar = export_model(resnet_run, "state-dict", tmp_path / "resnet18.pt")
    net = torchvision.models.resnet18(num_classes=len(CLASSES))
    net.load_state_dict(torch.load(path, weights_only=True), strict=True)
    with torch.no_grad():
        logits = net.eval()(normalised(pixels))
    torch.testing.assert_close(logits, scenelab_logits(resnet_run, pixels))
    metadata = json.loads(sidecar.read_text())
    assert metadata["classes"] == CLASSES
    assert metadata["mean"] == pytest.approx(IMAGENET_MEAN)
    assert metadata["std"] == pytest.approx(IMAGENET_STD)
    assert metadata["normalization"].startswith("not in the weights")


def test_safetensors_holds_the_same_tensors_and_the_metadata(resnet_run, tmp_path):
    reference, _ = export_model(resnet_run, "state-dict", tmp_path / "model.pt")
    path, _ = export_model(resnet_run, "safetensors", tmp_path / "model.safetensors")
    expected = torch.load(reference, weights_only=True)
    loaded = load_file(path)
    assert loaded.keys() == expected.keys()
    for key, tensor in expected.items():
        torch.testing.assert_close(loaded[key], tensor, rtol=0, atol=0)
    with safe_open(path, framework="pt") as file:
        assert json.loads(file.metadata()["scenelab"])["classes"] == CLASSES


def test_simplenet_state_dict_loads_strictly_into_simplenet(tmp_path, pixels):
    run = save_run(tmp_path / "run", "simplenet")
    path, sidecar = export_model(run, "state-dict")
    assert path == run / "export" / "model.pt"
    net = SimpleNet(len(CLASSES))
    net.load_state_dict(torch.load(path, weights_only=True), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(pixels), scenelab_logits(run, pixels))
    assert json.loads(sidecar.read_text())["normalization"].startswith("inside the model")


def test_torch_export_program_runs_any_batch_size(resnet_run, pixels, tmp_path):
    path, _ = export_model(resnet_run, "torch-export", tmp_path / "model.pt2")
    program = torch.export.load(path).module()
    for batch in (pixels[:1], pixels):
        with torch.no_grad():
            torch.testing.assert_close(program(batch), scenelab_logits(resnet_run, batch))


def test_onnx_outputs_equal_pytorch_under_onnxruntime(resnet_run, pixels, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    path, _ = export_model(resnet_run, "onnx", tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["pixels"]
    metadata = json.loads(session.get_modelmeta().custom_metadata_map["scenelab"])
    assert metadata["classes"] == CLASSES
    for batch in (pixels[:1], pixels):
        (logits,) = session.run(None, {"pixels": batch.numpy()})
        expected = scenelab_logits(resnet_run, batch).numpy()
        np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)


def test_a_custom_conv_run_exports_the_same_weights_as_native(tmp_path, pixels):
    custom = save_run(tmp_path / "custom", "simplenet", conv="custom")
    path, _ = export_model(custom, "torch-export", tmp_path / "custom.pt2")
    program = torch.export.load(path).module()
    with torch.no_grad():
        torch.testing.assert_close(program(pixels), scenelab_logits(custom, pixels))


def test_an_existing_file_is_never_overwritten(resnet_run, tmp_path):
    target = tmp_path / "mine.pt"
    target.write_bytes(b"the user's own file")
    with pytest.raises(ScenelabError, match=r"mine\.pt exists"):
        export_model(resnet_run, "state-dict", target)
    assert target.read_bytes() == b"the user's own file"
    assert not (tmp_path / "mine.pt.json").exists()


@pytest.mark.parametrize("out", ["/", ".", "folder", "folder/"])
def test_an_out_that_is_a_folder_is_refused_by_name(resnet_run, tmp_path, monkeypatch, capsys, out):
    """--out names the file to write; a folder (the root, ``.``, an existing one) is
    refused in one line, and nothing is written in it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    assert main(["export", str(resnet_run), "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"scenelab: error: --out {out}: a folder") and err.count("\n") == 1
    assert list((tmp_path / "folder").iterdir()) == []


def test_the_command_writes_beside_a_checkpoint(resnet_run, tmp_path, capsys):
    run = save_run(tmp_path / "run", "simplenet")
    checkpoint = run / "checkpoints" / "best.pt"
    assert main(["export", str(checkpoint), "--format", "safetensors"]) == 0
    assert (run / "checkpoints" / "best-export.safetensors").is_file()
    assert "best-export.safetensors.json" in capsys.readouterr().out
    assert main(["export", str(checkpoint), "--format", "safetensors"]) == 2
    assert "exists" in capsys.readouterr().err


def test_hostile_output_names_are_escaped_or_refused(resnet_run, tmp_path, capsys):
    hostile = tmp_path / "\x1b[2J<b>$x$</b>.pt"
    assert main(["export", str(resnet_run), "--out", str(hostile)]) == 0
    assert hostile.is_file()
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[2J<b>$x$</b>.pt" in out
    with pytest.raises(SystemExit) as refused:  # argparse's own exit
        main(["export", str(resnet_run), "--out", ""])
    assert refused.value.code == 2
    assert "argument --out: must not be empty" in capsys.readouterr().err
