"""Accuracy under attack, checked against scikit-learn's metrics on torchattacks' images."""

from __future__ import annotations

import pytest
import torch
import torchattacks
from sklearn.metrics import accuracy_score, top_k_accuracy_score

from scenelab.attacks import robust_accuracy


def _batches(images, labels, size=64):
    return list(zip(images.split(size), labels.split(size), strict=True))


def _percent_top_k(logits, labels, k):
    return 100 * top_k_accuracy_score(labels.numpy(), logits.numpy(), k=k, labels=list(range(10)))


def test_clean_and_adversarial_accuracy_match_sklearn_on_torchattacks_images(digits_model):
    model, images, labels = digits_model
    epsilons, steps = [0.0, 0.05, 0.15], 5

    reports = robust_accuracy(
        model,
        _batches(images, labels),
        epsilons,
        steps=steps,
        random_start=False,
        target="least_likely",
    )

    with torch.no_grad():
        clean_logits = model(images)
    for report, epsilon in zip(reports, epsilons, strict=True):
        assert report.num_samples == len(images)
        assert report.clean_top1 == pytest.approx(_percent_top_k(clean_logits, labels, 1))
        assert report.clean_top5 == pytest.approx(_percent_top_k(clean_logits, labels, 5))
        if epsilon == 0:
            assert report.adversarial_top1 == report.clean_top1
            continue
        step = min(2.5 * epsilon / steps, epsilon)
        attack = torchattacks.PGD(model, eps=epsilon, alpha=step, steps=steps, random_start=False)
        attack.set_mode_targeted_least_likely(quiet=True)
        adversarial, targets = [], []
        for batch_images, batch_labels in _batches(images, labels):
            targets.append(attack.get_least_likely_label(batch_images, batch_labels))
            adversarial.append(attack(batch_images, batch_labels))
        with torch.no_grad():
            logits = model(torch.cat(adversarial))
        assert report.adversarial_top1 == pytest.approx(_percent_top_k(logits, labels, 1))
        assert report.adversarial_top5 == pytest.approx(_percent_top_k(logits, labels, 5))
        reached = 100 * accuracy_score(torch.cat(targets).numpy(), logits.argmax(1).numpy())
        assert report.success_rate == pytest.approx(reached)
    assert reports[2].adversarial_top1 < reports[1].adversarial_top1 < reports[0].clean_top1


def test_uint8_batches_are_converted_to_pixels(digits_model):
    model, images, labels = digits_model
    quantised = (images * 255).round().to(torch.uint8)
    from_uint8 = robust_accuracy(
        model, _batches(quantised, labels), [0.1], steps=2, random_start=False
    )
    from_float = robust_accuracy(
        model, _batches(quantised.float() / 255, labels), [0.1], steps=2, random_start=False
    )
    assert from_uint8 == from_float


def test_untargeted_success_counts_the_images_the_attack_turned_wrong(digits_model):
    model, images, labels = digits_model
    (report,) = robust_accuracy(model, _batches(images, labels), [0.1], steps=3, random_start=False)
    attack = torchattacks.PGD(model, eps=0.1, alpha=2.5 * 0.1 / 3, steps=3, random_start=False)
    adversarial = attack(images, labels)
    with torch.no_grad():
        clean_right = model(images).argmax(1) == labels
        adversarial_right = model(adversarial).argmax(1) == labels
    turned = (clean_right & ~adversarial_right).sum() / clean_right.sum()
    assert report.success_rate == pytest.approx(100 * turned.item())
