"""Small models for the attack tests: one with BatchNorm and dropout, one trained on digits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from scenelab.nn.normalize import Normalize


def batchnorm_net(num_classes: int = 10, seed: int = 0) -> nn.Sequential:
    """Normalize, conv, BatchNorm (non-trivial running statistics), ReLU, dropout, linear."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        Normalize(),
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(8 * 16, num_classes),
    )
    norm = model[2]
    norm.running_mean.uniform_(-0.5, 0.5)
    norm.running_var.uniform_(0.5, 2.0)
    return model


@pytest.fixture
def bn_net() -> nn.Sequential:
    return batchnorm_net()


@pytest.fixture(scope="session")
def make_bn_net() -> Callable[..., nn.Sequential]:
    """`batchnorm_net` itself, for tests that build several (hypothesis examples)."""
    return batchnorm_net


@pytest.fixture(autouse=True, scope="module")
def _tiny_models_use_one_thread(one_thread):
    """See `one_thread` in tests/conftest.py."""


@pytest.fixture(scope="session")
def digits_model() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small conv net trained on scikit-learn's 8x8 digits (as RGB [0, 1] pixels) and 256
    held-out images with their labels."""
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).div(16).unsqueeze(1)
    images = images.expand(-1, 3, -1, -1).contiguous()
    labels = torch.tensor(digits.target, dtype=torch.int64)
    torch.manual_seed(0)
    model = nn.Sequential(
        Normalize(),
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 16, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    train_images, train_labels = images[:-256], labels[:-256]
    for _ in range(60):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(train_images), train_labels).backward()
        optimizer.step()
    return model.eval(), images[-256:], labels[-256:]
