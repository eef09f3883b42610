"""Saliency maps against Captum, plus eval mode, frozen parameters and bounded batches."""

from __future__ import annotations

import io
import sys

import pytest
import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
from torch import nn

from scenelab.errors import ScenelabError
from scenelab.explain import integrated_gradients, saliency, smoothgrad
from scenelab.models.simplenet import SimpleNet
from scenelab.nn.normalize import Normalize

pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


@pytest.fixture
def model_and_images() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """SimpleNet in float64 and images that span [0, 1] exactly (so SmoothGrad's noise,
    a fraction of each image's range, is the same for every image, as Captum's is)."""
    torch.manual_seed(0)
    model = SimpleNet(num_classes=10).double().eval()
    images = torch.rand(5, 3, 24, 24, dtype=torch.float64)
    images[:, 0, 0, 0], images[:, 1, 0, 0] = 0.0, 1.0
    return model, images, torch.tensor([0, 3, 3, 7, 9])


def test_gradient_saliency_equals_captum_max_over_channels(model_and_images):
    model, images, targets = model_and_images
    model.float()
    images = images.float()
    expected = Saliency(model).attribute(images, target=targets, abs=True).amax(1, keepdim=True)
    ours = saliency(model, images, targets)
    assert ours.shape == (5, 1, 24, 24)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)


def test_default_target_is_the_predicted_class(model_and_images):
    model, images, _ = model_and_images
    predicted = model(images).argmax(1)
    expected = Saliency(model).attribute(images, target=predicted, abs=True).amax(1, keepdim=True)
    torch.testing.assert_close(saliency(model, images), expected, rtol=0, atol=1e-12)


def test_loss_score_is_the_gradient_of_the_cross_entropy(model_and_images):
    model, images, targets = model_and_images
    expected = Saliency(lambda x: F.cross_entropy(model(x), targets, reduction="none")).attribute(
        images, abs=True
    )
    ours = saliency(model, images, targets, score="loss")
    torch.testing.assert_close(ours, expected.amax(1, keepdim=True), rtol=0, atol=1e-12)


def test_smoothgrad_equals_captum_noise_tunnel_with_the_same_noise(model_and_images):
    model, images, targets = model_and_images
    model.float()  # Captum draws float32 noise whatever the input's type
    images = images.float()
    torch.manual_seed(11)  # Captum draws its noise from the global generator
    expected = NoiseTunnel(Saliency(model)).attribute(
        images, target=targets, nt_type="smoothgrad", nt_samples=6, stdevs=0.2, abs=True
    )
    ours = smoothgrad(
        model, images, targets, noise=0.2, samples=6, generator=torch.Generator().manual_seed(11)
    )
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)
    maps = saliency(
        model,
        images,
        targets,
        "smoothgrad",
        noise=0.2,
        samples=6,
        generator=torch.Generator().manual_seed(11),
    )
    torch.testing.assert_close(maps, expected.amax(1, keepdim=True), rtol=0, atol=1e-6)


@pytest.mark.parametrize("baseline", [0.0, 0.5])
def test_integrated_gradients_and_delta_equal_captum(model_and_images, baseline):
    model, images, targets = model_and_images
    expected, expected_delta = IntegratedGradients(model).attribute(
        images, baselines=baseline, target=targets, n_steps=16, return_convergence_delta=True
    )
    ours, delta = integrated_gradients(model, images, targets, baseline=baseline, steps=16)
    # Captum rounds the quadrature weights to float32 (relative error ~6e-8) even in float64.
    scale = expected.abs().max()
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6 * scale)
    torch.testing.assert_close(delta, expected_delta, rtol=0, atol=1e-6 * scale)


def test_integrated_gradients_converges_with_more_steps(model_and_images):
    model, images, targets = model_and_images
    _, coarse = integrated_gradients(model, images, targets, steps=2)
    _, fine = integrated_gradients(model, images, targets, steps=64)
    assert fine.abs().mean() < coarse.abs().mean() / 4


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("gradient", {}),
        ("smoothgrad", {"samples": 7}),
        ("integrated_gradients", {"steps": 9}),
    ],
)
def test_no_forward_pass_exceeds_the_batch_size(model_and_images, method, options):
    model, images, targets = model_and_images
    sizes = []
    handle = model.register_forward_pre_hook(lambda _, args: sizes.append(len(args[0])))
    small = saliency(model, images, targets, method, batch_size=4, **options)
    handle.remove()
    assert max(sizes) <= 4
    if method != "smoothgrad":  # its noise depends on the chunking
        torch.testing.assert_close(small, saliency(model, images, targets, method, **options))


def _bn_dropout_net() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(
        Normalize(),
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 5),
    )
    model[2].running_mean.uniform_(-1, 1)
    return model


def test_runs_in_eval_mode_and_restores_modes_and_leaves_no_parameter_gradients():
    model = _bn_dropout_net()
    images = torch.rand(3, 3, 10, 10)
    expected = saliency(model.eval(), images, 2)
    model.train()
    model[2].eval()  # a frozen BatchNorm inside a training model keeps its own mode
    modes = [m.training for m in model.modules()]
    statistics = model[2].running_mean.clone()

    for method in ("gradient", "smoothgrad", "integrated_gradients"):
        maps = saliency(model, images, 2, method)
        assert [m.training for m in model.modules()] == modes
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    assert torch.equal(model[2].running_mean, statistics)
    torch.testing.assert_close(saliency(model, images, 2), expected)
    assert (maps >= 0).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, x: saliency(m, x, method="occlusion"), "unknown saliency method"),
        (lambda m, x: saliency(m, x, method="gradient", samples=3), "takes no option samples"),
        (lambda m, x: saliency(m, x, target=10), "target classes must lie"),
        (lambda m, x: saliency(m, x, score="probability"), "score must be"),
        (lambda m, x: saliency(m, x * 4 - 2), r"\[0, 1\]"),
        (lambda m, x: saliency(nn.Sequential(*list(m)[1:]), x), "Normalize"),
    ],
)
def test_bad_arguments_are_clear_errors(call, message):
    model = SimpleNet(num_classes=10)
    with pytest.raises(ScenelabError, match=message):
        call(model, torch.rand(2, 3, 16, 16))


def test_a_model_without_normalize_can_be_allowed_explicitly():
    raw = nn.Sequential(*list(SimpleNet(num_classes=10))[1:])
    maps = saliency(raw, torch.rand(2, 3, 16, 16), allow_unnormalized=True)
    assert maps.shape == (2, 1, 16, 16)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("method", "label"),
    [(smoothgrad, "SmoothGrad"), (integrated_gradients, "Integrated Gradients")],
)
def test_the_slow_methods_show_progress_on_a_terminal_only(
    model_and_images, monkeypatch, method, label
):
    model, images, _ = model_and_images
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        method(model, images, batch_size=4, **{"samples" if method is smoothgrad else "steps": 2})
        assert (label in stream.getvalue()) == shown
