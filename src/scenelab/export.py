"""Export a trained model for use outside scenelab: ``scenelab export``.

Four formats, each written with a JSON sidecar (``PATH.json``) that says how to feed the
model (the same dict is in the safetensors header and the ONNX metadata):

- ``state-dict``: a weights-only ``torch.save`` of a plain ``{name: tensor}`` dict;
- ``safetensors``: the same tensors in the safetensors format;
- ``onnx``: the whole model, [0, 1] pixels in, logits out, batch size free;
- ``torch-export``: a ``torch.export`` program (``torch.export.load``), likewise.

The weights always load into the plain network that scenelab wraps: a torchvision model
(``torchvision.models.get_model(name, num_classes=N)``, with ``strict=True``) takes the
state dict of the network *after* scenelab's Normalize layer, so its input is normalised
pixels, ``(x - mean) / std`` as the metadata gives (torchvision's own convention).
Normalisation is not folded into the first convolution: with zero padding the fold is
inexact at the borders. scenelab's own models (SimpleNet, OurBestNet) keep their Normalize
layer, since their classes include it. The ONNX and torch.export programs contain the
whole model and take [0, 1] RGB pixels. Custom convolutions are exported as native ones
(the same weights; the custom op is for training and study, not deployment).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors.torch import save_file
from torch import nn

from scenelab import __version__
from scenelab.checkpoint import load_model
from scenelab.errors import ScenelabError
from scenelab.files import output_file, write_json
from scenelab.models.registry import SCENELAB_MODELS
from scenelab.nn.conv import convert_convs
from scenelab.nn.normalize import Normalize

ExportFormat = Literal["state-dict", "safetensors", "onnx", "torch-export"]
FORMATS: dict[str, str] = {  # format -> file suffix
    "state-dict": ".pt",
    "safetensors": ".safetensors",
    "onnx": ".onnx",
    "torch-export": ".pt2",
}
ONNX_OPSET = 18
MAX_BATCH = 4096  # the largest batch the ONNX and torch.export programs are traced for


def export_metadata(model: nn.Module, state: dict[str, Any], fmt: ExportFormat) -> dict[str, Any]:
    """What a user of the exported file needs: model, classes, input size and layout, and
    where normalisation happens."""
    config = state["config"]
    normalize = next(module for module in model.modules() if isinstance(module, Normalize))
    inside = fmt in ("onnx", "torch-export") or config["model"] in SCENELAB_MODELS
    return {
        "format": fmt,
        "model": config["model"],
        "num_classes": int(config["num_classes"]),
        "classes": [str(name) for name in state.get("classes", [])],
        "image_size": config.get("image_size"),
        "input": "float32 RGB, N x 3 x H x W",
        "mean": [round(v, 6) for v in normalize.mean.flatten().tolist()],
        "std": [round(v, 6) for v in normalize.std.flatten().tolist()],
        "normalization": (
            "inside the model: feed [0, 1] pixels"
            if inside
            else "not in the weights: feed (pixels in [0, 1] - mean) / std"
        ),
        "epoch": state.get("epoch"),
        "scenelab_version": __version__,
    }


def plain_state_dict(model: nn.Module, name: str) -> dict[str, torch.Tensor]:
    """The weights as the plain network names them: a torchvision model's own keys (no
    ``net.`` prefix, no Normalize buffers); a scenelab model's keys as its class has them."""
    if name in SCENELAB_MODELS:
        source = model
    elif isinstance(model, nn.Sequential) and hasattr(model, "net"):
        source = model.net
    else:
        raise ScenelabError(f"cannot export {name!r}: not a model scenelab builds")
    return {key: value.detach().clone().contiguous() for key, value in source.state_dict().items()}


def export_model(
    source: str | Path, fmt: ExportFormat, out: str | Path | None = None
) -> tuple[Path, Path]:
    """Write the model of ``source`` (a run folder or checkpoint) as ``fmt``; returns the
    exported file and its JSON sidecar. Refuses to overwrite either."""
    if fmt not in FORMATS:
        raise ScenelabError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    model, state = load_model(source)
    model = convert_convs(model, to="native").float().eval()
    path = output_file(out) if out is not None else _default_path(Path(source), fmt)
    sidecar = path.with_name(path.name + ".json")
    for target in (path, sidecar):
        if target.exists():
            raise ScenelabError(f"{target} exists; remove it or give another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = export_metadata(model, state, fmt)
    image_size = int(metadata["image_size"] or 128)
    if fmt == "state-dict":
        torch.save(plain_state_dict(model, metadata["model"]), path)
    elif fmt == "safetensors":
        save_file(
            plain_state_dict(model, metadata["model"]),
            str(path),
            metadata={"scenelab": json.dumps(metadata)},
        )
    elif fmt == "onnx":
        _export_onnx(model, image_size, path, metadata)
    else:
        torch.export.save(_exported_program(model, image_size), path)
    write_json(sidecar, metadata)
    return path, sidecar


def _exported_program(model: nn.Module, image_size: int) -> torch.export.ExportedProgram:
    example = torch.rand(2, 3, image_size, image_size)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))


def _export_onnx(model: nn.Module, image_size: int, path: Path, metadata: dict) -> None:
    try:
        import onnx
    except ImportError:
        raise ScenelabError(
            "--format onnx needs the onnx and onnxscript packages: pip install 'scenelab[onnx]'"
        ) from None
    program = torch.onnx.export(
        _exported_program(model, image_size),
        input_names=["pixels"],
        output_names=["logits"],
        opset_version=ONNX_OPSET,
        dynamo=True,
    )
    proto = program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = "scenelab", json.dumps(metadata)
    onnx.save(proto, str(path))


def _default_path(source: Path, fmt: ExportFormat) -> Path:
    """RUN/export/model.SUFFIX for a run folder, STEM-export.SUFFIX beside a checkpoint."""
    suffix = FORMATS[fmt]
    if source.is_dir():
        return source / "export" / f"model{suffix}"
    return source.with_name(f"{source.stem}-export{suffix}")
