"""Every model by name: scenelab's own networks and any torchvision classification model."""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from functools import partial
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from scenelab.errors import ScenelabError
from scenelab.models.inception import OurBestNet
from scenelab.models.simplenet import SimpleNet
from scenelab.models.torchvision_models import build_torchvision_model, torchvision_model_names
from scenelab.nn.conv import convert_convs

SCENELAB_MODELS: dict[str, Callable[[int], nn.Module]] = {
    "simplenet": SimpleNet,
    "ourbestnet2": partial(OurBestNet, 2),
    "ourbestnet3": partial(OurBestNet, 3),
    "ourbestnet4": partial(OurBestNet, 4),
}


def list_models(pattern: str = "*") -> list[str]:
    """scenelab's models first, then torchvision's classification models; only the names
    matching the shell-style ``pattern`` (``"resnet*"``), as timm's ``list_models`` does."""
    names = [*SCENELAB_MODELS, *torchvision_model_names()]
    return [name for name in names if fnmatchcase(name, pattern)]


def build_model(
    name: str,
    num_classes: int,
    conv: Literal["native", "custom"] = "native",
    pretrained: str | Path | dict[str, torch.Tensor] | None = None,
) -> nn.Module:
    """A freshly initialised model taking [0, 1] pixels, with native or custom convolutions.

    ``pretrained`` (torchvision models only) is a local torchvision-format state dict (a
    file, or the dict itself); the classifier is replaced for ``num_classes``.
    """
    if conv not in ("native", "custom"):
        raise ScenelabError(f"--conv must be 'native' or 'custom', got {conv!r}")
    if name in SCENELAB_MODELS:
        if pretrained is not None:
            raise ScenelabError(
                f"--pretrained takes torchvision weights; {name!r} is a scenelab model "
                "(continue a scenelab run with --resume)"
            )
        model = SCENELAB_MODELS[name](num_classes)
    elif name in torchvision_model_names():
        model = build_torchvision_model(name, num_classes, pretrained)
    else:
        raise ScenelabError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}")
    return convert_convs(model, to=conv) if conv == "custom" else model


LARGEST_IMAGE_SIZE = 1024  # how far check_image_size looks for a size that works


def check_image_size(name: str, image_size: int, source: str | None = None) -> None:
    """Refuse an image size that model ``name`` cannot take (a network too deep for it),
    naming the smallest size that works where one up to LARGEST_IMAGE_SIZE does.
    ``source`` says where the pair came from (default: the flags --model, --image-size).

    Forward passes on the meta device: shapes only, no memory, milliseconds."""
    with torch.device("meta"):
        model = build_model(name, 2).eval()
    error = _forward_error(model, image_size)
    if error is None:
        return
    works = _smallest_working_size(model, image_size + 1, LARGEST_IMAGE_SIZE)
    hint = f"; the smallest size it takes is {works}" if works is not None else ""
    source = source or f"--model {name} --image-size {image_size}"
    raise ScenelabError(
        f"{source}: the model cannot take {image_size}x{image_size} images{hint} ({error})"
    )


def _forward_error(model: nn.Module, image_size: int) -> str | None:
    """Why one forward of a meta-device ``model`` at ``image_size`` fails (its first line),
    or None."""
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, image_size, image_size, device="meta"))
    except (RuntimeError, ValueError, AssertionError) as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return None


def _smallest_working_size(model: nn.Module, low: int, high: int) -> int | None:
    """Binary search in [low, high] for the smallest size whose forward works (sizes that
    work form an upper range for convolution and pooling stacks)."""
    if low > high or _forward_error(model, high) is not None:
        return None
    while low < high:
        middle = (low + high) // 2
        if _forward_error(model, middle) is None:
            high = middle
        else:
            low = middle + 1
    return high


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def count_macs(model: nn.Module, image_size: int) -> int:
    """Multiply-adds of one forward pass on a 3 x size x size image (FLOPs / 2, counting
    convolutions and matrix products as torch.utils.flop_counter does)."""
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.rand(1, 3, image_size, image_size))
    model.train(was_training)
    return counter.get_total_flops() // 2


def model_table(names: list[str], num_classes: int, image_size: int) -> str:
    """Name, parameter count and multiply-adds per image, one model per line."""
    lines = [f"{'model':<22} {'parameters':>12} {'MACs @' + str(image_size) + 'px':>14}"]
    for name in names:
        check_image_size(name, image_size)
        model = build_model(name, num_classes)
        macs = count_macs(model, image_size)
        lines.append(f"{name:<22} {count_parameters(model):>12,} {macs / 1e6:>12,.1f} M")
    return "\n".join(lines)


def models_command(args) -> int:
    """``scenelab models [NAME ...]``: counts for the named models, or for scenelab's own
    models and resnet18 plus the names of every other torchvision model."""
    matches = {pattern: list_models(pattern) for pattern in args.names}
    unknown = [pattern for pattern, found in matches.items() if not found]
    names = list(dict.fromkeys(n for found in matches.values() for n in found))
    names = names or [*SCENELAB_MODELS, "resnet18"]
    if unknown:
        raise ScenelabError(
            f"unknown model {', '.join(unknown)}; choose one of: {', '.join(list_models())}"
        )
    print(model_table(names, args.num_classes, args.image_size))
    if not args.names:
        others = [name for name in torchvision_model_names() if name not in names]
        print(
            f"\nalso by name (torchvision, `scenelab models NAME` for counts):\n{' '.join(others)}"
        )
    return 0
