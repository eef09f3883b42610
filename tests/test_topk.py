"""scenelab.topk.correct_top_k against scikit-learn's top_k_accuracy_score."""

import pytest
import torch
from sklearn.metrics import top_k_accuracy_score

from scenelab.topk import correct_top_k


@pytest.mark.parametrize("classes", [3, 7, 20])
def test_counts_equal_scikit_learn(classes):
    generator = torch.Generator().manual_seed(classes)
    logits = torch.randn(257, classes, generator=generator)
    labels = torch.randint(0, classes, (257,), generator=generator)
    ks = (1, 2, 5)
    counts = correct_top_k(logits, labels, ks)
    for k, count in zip(ks, counts.tolist(), strict=True):
        expected = top_k_accuracy_score(
            labels.numpy(),
            logits.numpy(),
            k=min(k, classes),
            labels=list(range(classes)),
            normalize=False,
        )
        assert count == expected
