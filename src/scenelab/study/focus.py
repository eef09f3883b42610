"""Where saliency lies: the share of the saliency maps on an image's content, the pixels
unlike its border (the background of a digit; of a scene photograph, almost everything)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

CONTENT_DIFFERENCE = 0.1  # of the [0, 1] range, in some channel, from the border's median
FOCUS_FILE = "saliency_focus.json"  # in the run's plots folder, beside the figure


@dataclass(frozen=True)
class SaliencyFocus:
    """saliency_focus.json, beside the saliency figure."""

    images: int
    saliency_share: float  # of the saliency, on content pixels (mean over the images)
    content_share: float  # of the pixels, content (mean over the images)

    @classmethod
    def from_dict(cls, values: dict) -> SaliencyFocus:
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def content_mask(pixels: torch.Tensor) -> torch.Tensor:
    """(N, H, W) booleans: the pixels of [0, 1] images (N, C, H, W) that differ by more
    than CONTENT_DIFFERENCE in some channel from the median of the image's border."""
    border = torch.cat(
        [pixels[..., 0, :], pixels[..., -1, :], pixels[..., :, 0], pixels[..., :, -1]], dim=-1
    )
    background = border.median(dim=-1).values[..., None, None]
    return (pixels - background).abs().amax(dim=1) > CONTENT_DIFFERENCE


def measure_focus(pixels: torch.Tensor, maps: torch.Tensor) -> SaliencyFocus:
    """The focus of saliency maps (N, 1, H, W) of [0, 1] images (N, C, H, W)."""
    mask = content_mask(pixels).float()
    saliency = maps[:, 0].float()
    on_content = (saliency * mask).sum(dim=(1, 2)) / saliency.sum(dim=(1, 2)).clamp_min(1e-12)
    return SaliencyFocus(
        images=len(pixels),
        saliency_share=float(on_content.mean()),
        content_share=float(mask.mean()),
    )
