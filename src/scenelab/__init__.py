"""scenelab: train, compare and probe convolutional networks for scene classification.

The library's main entry points, importable from the top of the package::

    import scenelab

    scenelab.list_models("resnet*")
    model = scenelab.build_model("resnet18", num_classes=20, conv="custom")
    model, checkpoint = scenelab.load_model("runs/resnet18-mp20")  # run folder or .pt
    history = scenelab.train_model(scenelab.RunConfig(data="digits", epochs=2))
    result = scenelab.pgd(model, pixels, labels, epsilon=6 / 255, target="least_likely")
    maps = scenelab.smoothgrad(model, pixels)  # for the predicted classes

Each name is imported on first use (PEP 562), so ``import scenelab`` loads neither torch
nor matplotlib and changes no global state.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> "module:attribute" that defines it. (``train`` would clash with the package
# scenelab.train, so the training function is ``train_model``.)
_API = {
    "build_model": "scenelab.models.registry:build_model",
    "list_models": "scenelab.models.registry:list_models",
    "count_parameters": "scenelab.models.registry:count_parameters",
    "count_macs": "scenelab.models.registry:count_macs",
    "load_model": "scenelab.checkpoint:load_model",
    "conv2d": "scenelab.ops.conv:conv2d",
    "CustomConv2d": "scenelab.nn.conv:CustomConv2d",
    "convert_convs": "scenelab.nn.conv:convert_convs",
    "pgd": "scenelab.attacks.pgd:pgd",
    "fgsm": "scenelab.attacks.pgd:fgsm",
    "robust_accuracy": "scenelab.attacks.robust:robust_accuracy",
    "gradient": "scenelab.explain.saliency:gradient",
    "smoothgrad": "scenelab.explain.saliency:smoothgrad",
    "integrated_gradients": "scenelab.explain.saliency:integrated_gradients",
    "ClassificationMetrics": "scenelab.metrics:ClassificationMetrics",
    "RunConfig": "scenelab.config:RunConfig",
    "train_model": "scenelab.train.engine:train",
    "export_model": "scenelab.export:export_model",
}
__all__ = [
    "ClassificationMetrics",
    "CustomConv2d",
    "RunConfig",
    "__version__",
    "build_model",
    "conv2d",
    "convert_convs",
    "count_macs",
    "count_parameters",
    "export_model",
    "fgsm",
    "gradient",
    "integrated_gradients",
    "list_models",
    "load_model",
    "pgd",
    "robust_accuracy",
    "smoothgrad",
    "train_model",
]

if TYPE_CHECKING:
    from scenelab.attacks.pgd import fgsm, pgd
    from scenelab.attacks.robust import robust_accuracy
    from scenelab.checkpoint import load_model
    from scenelab.config import RunConfig
    from scenelab.explain.saliency import gradient, integrated_gradients, smoothgrad
    from scenelab.export import export_model
    from scenelab.metrics import ClassificationMetrics
    from scenelab.models.registry import build_model, count_macs, count_parameters, list_models
    from scenelab.nn.conv import CustomConv2d, convert_convs
    from scenelab.ops.conv import conv2d
    from scenelab.train.engine import train as train_model


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'scenelab' has no attribute {name!r}")
    module, attribute = _API[name].split(":")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
