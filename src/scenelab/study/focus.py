"""Whether saliency marks what a prediction rests on (conclusion 5), by deletion.

Blank the share of each image's pixels that its saliency map ranks highest and measure
top-1 again; blank as many pixels chosen at random for comparison. Saliency concentrates
on the content the model reads when the first costs far more accuracy than the second.
This is the "most relevant first" deletion of Samek, Binder, Montavon, Lapuschkin and
Mueller 2017 ("Evaluating the visualization of what a deep neural network has learned")
at one fraction, against their random-order baseline. Blanked pixels take the image's own
mean colour on both sides, so the two differ only in which pixels go.

It needs no notion of background, so it tests scene photographs (content everywhere) as
well as digits on black.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import nn

from scenelab.explain.saliency import BATCH_SIZE, channel_max_abs, gradient, predicted_classes
from scenelab.runs import evaluation_dataset, load_run, spread_indices, stack_images

DELETED_SHARE = 0.1  # of each image's pixels, blanked
FOCUS_IMAGES = 512  # val images measured (all of them where there are fewer)
FOCUS_FILE = "saliency_focus.json"  # in the run's plots folder, beside the figure


@dataclass(frozen=True)
class SaliencyFocus:
    """saliency_focus.json: top-1 (%) of the images as they are and with pixels blanked."""

    images: int
    deleted_share: float  # of each image's pixels
    clean_top1: float
    salient_top1: float  # the most salient pixels blanked
    random_top1: float  # as many pixels blanked, chosen at random

    @classmethod
    def from_dict(cls, values: dict) -> SaliencyFocus:
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def read_focus(path: Path) -> SaliencyFocus | None:
    """saliency_focus.json as a SaliencyFocus; None if absent or written by an earlier
    version (the share of saliency on pixels unlike the border: measured again, not
    misread)."""
    if not path.is_file():
        return None
    values = json.loads(path.read_text())
    if set(values) != {field.name for field in fields(SaliencyFocus)}:
        return None
    return SaliencyFocus.from_dict(values)


def blank_highest(pixels: torch.Tensor, scores: torch.Tensor, share: float) -> torch.Tensor:
    """[0, 1] images (N, C, H, W) with the ``share`` of pixels that rank highest in
    ``scores`` (N, H, W) set to each image's mean colour."""
    count, width = pixels.shape[0], scores.shape[-1]
    flat = scores.reshape(count, -1)
    chosen = flat.topk(round(share * flat.shape[1]), dim=1).indices
    mask = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, chosen, True)
    mask = mask.view(count, 1, -1, width)
    return torch.where(mask, pixels.mean(dim=(2, 3), keepdim=True), pixels)


def measure_focus(
    model: nn.Module,
    pixels: torch.Tensor,
    labels: torch.Tensor,
    maps: torch.Tensor,
    generator: torch.Generator,
    share: float = DELETED_SHARE,
) -> SaliencyFocus:
    """The deletion test of saliency ``maps`` (N, 1, H, W) of [0, 1] images (N, C, H, W)
    with true ``labels``, random pixels drawn with ``generator`` (on the images' device)."""

    def top1(images: torch.Tensor) -> float:
        predicted = predicted_classes(model, images, BATCH_SIZE)
        return 100 * float((predicted == labels).float().mean())

    noise = torch.rand(maps[:, 0].shape, generator=generator, device=maps.device)
    return SaliencyFocus(
        images=len(pixels),
        deleted_share=share,
        clean_top1=top1(pixels),
        salient_top1=top1(blank_highest(pixels, maps[:, 0], share)),
        random_top1=top1(blank_highest(pixels, noise, share)),
    )


def focus_of_run(run: str | Path, data: str, device: torch.device, seed: int = 0) -> SaliencyFocus:
    """The deletion test of the vanilla-gradient saliency of the predicted class (the
    study's figure) on FOCUS_IMAGES val images spread over ``data``."""
    loaded = load_run(run, device)
    dataset, _ = evaluation_dataset(loaded, data, "val")
    images, labels = stack_images(dataset, spread_indices(len(dataset), FOCUS_IMAGES))
    pixels, labels = images.float().div(255).to(device), labels.to(device)
    predicted = predicted_classes(loaded.model, pixels, BATCH_SIZE)
    maps = channel_max_abs(gradient(loaded.model, pixels, predicted, batch_size=BATCH_SIZE))
    generator = torch.Generator(device).manual_seed(seed)
    return measure_focus(loaded.model, pixels, labels, maps, generator)
