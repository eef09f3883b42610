"""PGD and FGSM against torchattacks, the epsilon-ball and [0, 1] box, targets and modes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchattacks
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from scenelab.attacks import fgsm, least_likely_classes, pgd, pgd_images
from scenelab.errors import ScenelabError
from scenelab.models.simplenet import SimpleNet

EPSILON = 6 / 255


@pytest.fixture
def simplenet_batch() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    # A power-of-two batch: torchattacks averages the loss over the batch and we sum it;
    # scaling by 1/8 is exact in floating point, so the gradients' signs are identical.
    torch.manual_seed(1)
    model = SimpleNet(num_classes=10).eval()
    return model, torch.rand(8, 3, 32, 32), torch.randint(0, 10, (8,))


@pytest.mark.parametrize("target", ["untargeted", "least_likely"])
def test_pgd_without_random_start_equals_torchattacks(simplenet_batch, target):
    model, images, labels = simplenet_batch
    step = 2.5 * EPSILON / 10
    reference = torchattacks.PGD(model, eps=EPSILON, alpha=step, steps=10, random_start=False)
    if target == "least_likely":
        reference.set_mode_targeted_least_likely(quiet=True)
    expected = reference(images, labels)

    result = pgd(model, images, labels, EPSILON, step, steps=10, random_start=False, target=target)
    bare = pgd_images(
        model, images, labels, EPSILON, step, steps=10, random_start=False, target=target
    )

    torch.testing.assert_close(result.images, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(bare, expected, rtol=0, atol=1e-6)
    assert (result.images != images).any()


def test_pgd_images_is_pgd_without_the_records(simplenet_batch):
    model, images, labels = simplenet_batch
    for target in ("untargeted", "least_likely", 4):
        full = pgd(
            model,
            images,
            labels,
            steps=3,
            target=target,
            generator=torch.Generator().manual_seed(2),
        )
        bare = pgd_images(
            model,
            images,
            labels,
            steps=3,
            target=target,
            generator=torch.Generator().manual_seed(2),
        )
        assert torch.equal(bare, full.images)


def test_fgsm_equals_torchattacks(simplenet_batch):
    model, images, labels = simplenet_batch
    expected = torchattacks.FGSM(model, eps=EPSILON)(images, labels)
    torch.testing.assert_close(
        fgsm(model, images, labels, EPSILON).images, expected, rtol=0, atol=1e-6
    )


def test_fgsm_with_random_start_steps_1_25_epsilon_from_uniform_noise(simplenet_batch):
    """Wong et al.'s FGSM-RS, rebuilt by hand from the same uniform draw."""
    model, images, labels = simplenet_batch
    result = fgsm(
        model,
        images,
        labels,
        EPSILON,
        random_start=True,
        generator=torch.Generator().manual_seed(5),
    )

    noise = torch.empty_like(images).uniform_(
        -EPSILON, EPSILON, generator=torch.Generator().manual_seed(5)
    )
    start = (images + noise).clamp(0, 1).requires_grad_(True)
    loss = F.cross_entropy(model(start), labels)
    (grad,) = torch.autograd.grad(loss, start)
    stepped = start.detach() + 1.25 * EPSILON * grad.sign()
    expected = (images + (stepped - images).clamp(-EPSILON, EPSILON)).clamp(0, 1)
    torch.testing.assert_close(result.images, expected, rtol=0, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    logits=st.integers(1, 6).flatmap(
        lambda n: st.integers(2, 7).flatmap(
            lambda k: st.tuples(
                st.lists(
                    st.lists(st.sampled_from([-1.0, 0.0, 1.0, 2.5]), min_size=k, max_size=k),
                    min_size=n,
                    max_size=n,
                ),
                st.lists(st.integers(0, k - 1), min_size=n, max_size=n),
            )
        )
    )
)
def test_least_likely_class_is_the_lowest_other_than_the_label(logits):
    rows, labels = torch.tensor(logits[0]), torch.tensor(logits[1])
    chosen = least_likely_classes(rows, labels)
    for row, label, target in zip(rows.tolist(), labels.tolist(), chosen.tolist(), strict=True):
        assert target != label
        assert row[target] == min(v for i, v in enumerate(row) if i != label)


def _set_modes(model: nn.Module, mode: str) -> None:
    if mode == "train":
        model.train()
    elif mode == "eval":
        model.eval()
    else:  # train mode with a frozen BatchNorm, as in fine-tuning
        model.train()
        model[2].eval()


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 4),
    size=st.integers(4, 12),
    levels=st.floats(0, 16),
    steps=st.integers(1, 3),
    random_start=st.booleans(),
    target=st.sampled_from(["untargeted", "least_likely", 3]),
    mode=st.sampled_from(["train", "eval", "train, frozen BatchNorm"]),
    seed=st.integers(0, 2**16),
)
def test_adversarial_images_stay_in_the_ball_and_the_box_and_modes_are_restored(
    make_bn_net, batch, size, levels, steps, random_start, target, mode, seed
):
    model = make_bn_net(seed=seed % 7)
    _set_modes(model, mode)
    modes = [m.training for m in model.modules()]
    norm_state = {k: v.clone() for k, v in model[2].state_dict().items()}
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, size, size, generator=generator)
    images[images < 0.1] = 0.0  # pixels at the edges of the box
    images[images > 0.9] = 1.0
    labels = torch.randint(0, 10, (batch,), generator=generator)
    epsilon = levels / 255

    result = pgd(
        model,
        images,
        labels,
        epsilon,
        steps=steps,
        random_start=random_start,
        target=target,
        generator=generator,
    )

    assert ((result.images - images).abs() <= epsilon + 1e-6).all()
    assert ((result.images >= 0) & (result.images <= 1)).all()
    assert [m.training for m in model.modules()] == modes
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    for key, value in model[2].state_dict().items():  # no running-statistics update
        assert torch.equal(value, norm_state[key])
    if target == "least_likely":
        assert (result.targets != labels).all()
    # The records describe the returned images, evaluated in eval mode.
    model.eval()
    with torch.no_grad():
        logits = model(result.images)
    torch.testing.assert_close(result.logits, logits)
    predicted = logits.argmax(1)
    expected_success = (
        predicted != labels if target == "untargeted" else predicted == result.targets
    )
    assert torch.equal(result.success, expected_success)
    delta = (result.images - images).flatten(1)
    torch.testing.assert_close(result.linf, delta.abs().max(1).values)
    torch.testing.assert_close(result.l2, torch.linalg.vector_norm(delta, dim=1))


def test_restarts_keep_each_samples_best_run(digits_model):
    model, images, labels = digits_model
    images, labels = images[:64], labels[:64]
    epsilon, steps = 0.1, 2
    generator = torch.Generator().manual_seed(0)
    runs = [pgd(model, images, labels, epsilon, steps=steps, generator=generator) for _ in range(3)]

    best = pgd(
        model,
        images,
        labels,
        epsilon,
        steps=steps,
        restarts=3,
        generator=torch.Generator().manual_seed(0),
    )

    successes = torch.stack([run.success for run in runs])
    losses = torch.stack([F.cross_entropy(run.logits, labels, reduction="none") for run in runs])
    assert torch.equal(best.success, successes.any(0))
    assert 0 < int(best.success.sum()) < 64  # both kinds of samples are exercised
    failed = ~best.success
    best_loss = F.cross_entropy(best.logits, labels, reduction="none")
    torch.testing.assert_close(best_loss[failed], losses.max(0).values[failed])


def test_attack_lowers_accuracy_and_least_likely_targets_are_reached(digits_model):
    model, images, labels = digits_model
    with torch.no_grad():
        clean = (model(images).argmax(1) == labels).float().mean()
    untargeted = pgd(model, images, labels, epsilon=0.2, steps=10)
    targeted = pgd(model, images, labels, epsilon=0.3, steps=20, target="least_likely")

    assert clean > 0.9
    assert (untargeted.logits.argmax(1) == labels).float().mean() < clean - 0.3
    assert targeted.success.float().mean() > 0.3
    assert torch.equal(targeted.success, targeted.logits.argmax(1) == targeted.targets)


def test_same_generator_seed_gives_the_same_attack(simplenet_batch):
    model, images, labels = simplenet_batch
    first = pgd(model, images, labels, generator=torch.Generator().manual_seed(3), steps=2)
    second = pgd(model, images, labels, generator=torch.Generator().manual_seed(3), steps=2)
    assert torch.equal(first.images, second.images)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epsilon": 1.5}, "epsilon must be in"),
        ({"epsilon": -0.01}, "epsilon must be in"),
        ({"step_size": 0.05, "epsilon": 0.01, "random_start": False}, "larger than epsilon"),
        ({"target": 10}, "out of range"),
        ({"target": -1}, "out of range"),
        ({"target": "most_likely"}, "target must be"),
        ({"restarts": 2, "random_start": False}, "random start"),
        ({"steps": 0}, "at least 1"),
    ],
)
def test_bad_settings_are_clear_errors(simplenet_batch, options, message):
    model, images, labels = simplenet_batch
    with pytest.raises(ScenelabError, match=message):
        pgd(model, images, labels, **options)


def test_a_model_without_normalize_is_refused_unless_allowed(simplenet_batch):
    _, images, labels = simplenet_batch
    raw = nn.Sequential(*list(SimpleNet(num_classes=10))[1:])  # no Normalize layer
    with pytest.raises(ScenelabError, match=r"not scenelab\.nn\.Normalize"):
        pgd(raw, images, labels)
    result = pgd(raw, images, labels, steps=1, allow_unnormalized=True)
    assert result.images.shape == images.shape


def test_normalised_or_integer_input_is_refused(simplenet_batch):
    model, images, labels = simplenet_batch
    with pytest.raises(ScenelabError, match=r"\[0, 1\]"):
        pgd(model, (images - 0.45) / 0.225, labels)
    with pytest.raises(ScenelabError, match="float"):
        pgd(model, (images * 255).to(torch.uint8), labels)
