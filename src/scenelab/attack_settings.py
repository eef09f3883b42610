"""The settings of an attack and of adversarial training, without torch: their defaults,
choices, checks and resolution, for the config and the command line to use at the edge.

PGD (Madry et al. 2017, "Towards Deep Learning Models Resistant to Adversarial Attacks"):
L-infinity budget epsilon, step 2.5 * epsilon / steps. FGSM from a random start (Wong, Rice
and Kolter 2020, "Fast is better than free"): one step of 1.25 * epsilon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scenelab.epsilon import parse_epsilon
from scenelab.errors import ScenelabError

if TYPE_CHECKING:
    from scenelab.config import RunConfig

DEFAULT_EPSILON = 6 / 255
DEFAULT_STEPS = 10
# Madry et al.'s rule: step = 2.5 * epsilon / steps.
STEP_SIZE_FACTOR = 2.5
# Wong, Rice and Kolter 2020: FGSM from a random start takes a step of 1.25 epsilon.
FGSM_RS_STEP_FACTOR = 1.25

ADV_CHOICES = ("none", "pgd", "fgsm-rs")
ADV_TARGETS = ("untargeted", "least_likely")
DEFAULT_ADV_STEPS = 5  # the study's
ADV_FIELDS = ("adv_steps", "adv_epsilon", "adv_step_size", "adv_target", "adv_random_start")


def default_step_size(epsilon: float, steps: int, random_start: bool) -> float:
    """2.5 * epsilon / steps (Madry et al.), capped at epsilon without a random start."""
    step = STEP_SIZE_FACTOR * epsilon / steps
    return step if random_start else min(step, epsilon)


def resolve_adversarial(config: RunConfig) -> dict[str, Any]:
    """The adv_* values of ``config`` with defaults filled in and epsilons parsed.

    ``--adv none`` keeps them all None. PGD: 5 steps, epsilon 6/255, random start, step
    2.5 eps / steps (`scenelab.attacks.pgd.default_step_size`), untargeted. FGSM-RS: one
    step of 1.25 eps from a random start. Raises ScenelabError naming the flag.
    """
    if config.adv == "none":
        return {}
    pgd = config.adv == "pgd"
    epsilon = parse_epsilon(
        config.adv_epsilon if config.adv_epsilon is not None else DEFAULT_EPSILON,
        "--adv-epsilon",
    )
    steps = config.adv_steps if config.adv_steps is not None else (DEFAULT_ADV_STEPS if pgd else 1)
    random_start = config.adv_random_start if config.adv_random_start is not None else True
    if config.adv_step_size is not None:
        step_size = parse_epsilon(config.adv_step_size, "--adv-step-size")
    elif pgd:
        step_size = default_step_size(epsilon, max(steps, 1), random_start)
    else:
        step_size = FGSM_RS_STEP_FACTOR * epsilon
    return {
        "adv_steps": steps,
        "adv_epsilon": epsilon,
        "adv_step_size": step_size,
        "adv_target": config.adv_target or "untargeted",
        "adv_random_start": random_start,
    }


def check_adversarial(config: RunConfig) -> tuple[dict[str, Any], list[str]]:
    """The resolved adv_* values (`resolve_adversarial`, run once) and what is wrong with
    the settings, one message per problem, each naming its flag (no values if any)."""
    if config.adv not in ADV_CHOICES:
        return {}, [f"--adv must be one of {', '.join(ADV_CHOICES)}, got {config.adv!r}"]
    if config.adv == "none":
        given = [field for field in ADV_FIELDS if getattr(config, field) is not None]
        return {}, [
            f"--{field.replace('_', '-')} has no effect without --adv pgd or --adv fgsm-rs"
            for field in given
        ]
    problems = []
    if config.adv_steps is not None and config.adv_steps < 1:
        problems.append(f"--adv-steps must be at least 1, got {config.adv_steps}")
    if config.adv == "fgsm-rs":
        if config.adv_steps not in (None, 1):
            problems.append(f"--adv fgsm-rs takes one step, got --adv-steps {config.adv_steps}")
        if config.adv_random_start is False:
            problems.append("--adv fgsm-rs starts at random (use --adv pgd --adv-steps 1)")
    if config.adv_target is not None and config.adv_target not in ADV_TARGETS:
        problems.append(
            f"--adv-target must be one of {', '.join(ADV_TARGETS)}, got {config.adv_target!r}"
        )
    try:
        values = resolve_adversarial(config)
    except ScenelabError as error:
        return {}, [*problems, str(error)]
    if values["adv_epsilon"] == 0:
        problems.append("--adv-epsilon 0 makes no adversarial example; use --adv none")
    if values["adv_step_size"] <= 0:
        problems.append(f"--adv-step-size must be positive, got {values['adv_step_size']:g}")
    elif values["adv_step_size"] > values["adv_epsilon"] and not values["adv_random_start"]:
        problems.append(
            f"--adv-step-size {values['adv_step_size']:g} is larger than --adv-epsilon "
            f"{values['adv_epsilon']:g} with no random start: every step would overshoot "
            "the epsilon-ball and be clipped back"
        )
    return ({} if problems else values), problems
