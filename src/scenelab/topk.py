"""The one top-k counter: how many labels are among a batch's k highest scores."""

from __future__ import annotations

import torch


def correct_top_k(logits: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...]) -> torch.Tensor:
    """How many labels are among the k highest logits, for each k (k capped at #classes),
    as an int64 tensor on the logits' device (nothing is read back to the host)."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hits = (top == labels.unsqueeze(1)).cumsum(dim=1).sum(dim=0)  # a label is in top once
    return hits[[min(k, logits.shape[1]) - 1 for k in ks]]
