"""Adversarial attacks in pixel space (PGD, FGSM) and accuracy under attack."""

from scenelab.attacks.pgd import AttackResult, fgsm, least_likely_classes, pgd, pgd_images
from scenelab.attacks.robust import RobustAccuracy, robust_accuracy
from scenelab.epsilon import parse_epsilon, parse_epsilons

__all__ = [
    "AttackResult",
    "RobustAccuracy",
    "fgsm",
    "least_likely_classes",
    "parse_epsilon",
    "parse_epsilons",
    "pgd",
    "pgd_images",
    "robust_accuracy",
]
