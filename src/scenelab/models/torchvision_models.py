"""Any torchvision classification model by name, behind scenelab's Normalize layer.

Pretrained weights come only from a local file in torchvision's state-dict
format (``--pretrained PATH``); nothing is downloaded. The classifier (the last
module with parameters) is always freshly initialised for ``num_classes``.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
import torchvision
from torch import nn

from scenelab.errors import ScenelabError
from scenelab.nn.normalize import Normalize
from scenelab.weights import describe_load_error, describe_state_mismatch

# Builders whose auxiliary heads would change what forward() returns while training.
_BUILDER_OPTIONS = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": False, "init_weights": True},
}


def torchvision_model_names() -> list[str]:
    return torchvision.models.list_models(module=torchvision.models)


def build_torchvision_model(
    name: str, num_classes: int, pretrained: str | Path | dict[str, torch.Tensor] | None = None
) -> nn.Sequential:
    """``Sequential(normalize=Normalize(), net=<torchvision model>)``, optionally initialised
    from ``pretrained``, a local state dict file or the state dict itself (the backbone of a
    scenelab run: `scenelab.train.build.pretrained_weights`); all but the classifier must
    fit exactly."""
    options = _BUILDER_OPTIONS.get(name, {})
    net = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **options)
    if isinstance(pretrained, dict):
        _load_backbone(net, pretrained, "--pretrained (the scenelab run's weights)")
    elif pretrained is not None:
        _load_backbone(net, read_weights(Path(pretrained)), f"--pretrained {pretrained}")
    return nn.Sequential(OrderedDict(normalize=Normalize(), net=net))


def _classifier_prefix(net: nn.Module) -> str:
    """Name of the last module that owns parameters: resnet's ``fc``, vgg's ``classifier.6``."""
    last_parameter = next(reversed([name for name, _ in net.named_parameters()]))
    return last_parameter.rsplit(".", 1)[0] + "."


def read_weights(path: Path) -> object:
    """What the file ``path`` holds (``torch.load``, weights only), refused in one line
    naming --pretrained."""
    if not path.is_file():
        raise ScenelabError(f"--pretrained {path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ScenelabError(f"--pretrained {path}: {describe_load_error(error)}") from None


def _load_backbone(net: nn.Module, weights: object, source: str) -> None:
    if not isinstance(weights, dict) or not all(
        isinstance(value, torch.Tensor) for value in weights.values()
    ):
        raise ScenelabError(
            f"{source}: expected a torchvision state dict (parameter name -> tensor) or a "
            "scenelab run folder or checkpoint"
        )
    classifier = _classifier_prefix(net)
    expected = {k: v for k, v in net.state_dict().items() if not k.startswith(classifier)}
    given = {k: v for k, v in weights.items() if not k.startswith(classifier)}
    mismatch = describe_state_mismatch(expected, given)
    if mismatch:
        raise ScenelabError(
            f"{source} does not fit this model (classifier {classifier}* aside): {mismatch}"
        )
    net.load_state_dict(given, strict=False)
