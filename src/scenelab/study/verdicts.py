"""The study's seven conclusions and the rules that judge each from numbers.

Every rule here is a function of plain numbers and returns a `Verdict`: the conclusion
holds, does not hold at this budget (and which part fails, with its numbers), or is not
tested (and why). `scenelab.study.judge` feeds the rules the numbers a study folder holds;
the tests feed them made-up ones.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

HOLDS = "holds"
FAILS = "does not hold at this budget"
NOT_TESTED = "not tested"

CONCLUSIONS = {
    1: "The custom convolution trains exactly like the built-in one (the curves overlap), "
    "at a measured time and memory cost.",
    2: "SimpleNet learns the task.",
    3: "OurBestNet beats SimpleNet; 3 blocks converge about as well as 4 and better than 2; "
    "4 cost more time.",
    4: "Fine-tuned ResNet-18 converges faster and ends higher than from scratch.",
    5: "Saliency maps concentrate on the image's content.",
    6: "Least-likely PGD lowers top-1 and top-5 substantially, more as epsilon grows.",
    7: "Adversarial training keeps clean accuracy close and raises accuracy under attack.",
}

# The thresholds of the rules, each stated in the verdict it decides.
CHECK_TOLERANCE = 1e-4  # largest float32 difference from F.conv2d
GAP_TOLERANCE = 0.5  # val top-1 points: a gap this small counts as overlapping curves
TIMES_CHANCE = 3  # "learns": val top-1 at least this many times chance
SAME_ACCURACY = 2.0  # points: "about as well"
SUBSTANTIAL_DROP = 0.3  # PGD takes at least this share of clean top-1 and top-5
CLEAN_TOLERANCE = 5.0  # points of clean top-1 adversarial training may cost
DELETION_RATIO = 2  # blanking salient pixels costs at least this many times random ones


@dataclass(frozen=True)
class Verdict:
    conclusion: int  # a key of CONCLUSIONS
    status: str  # HOLDS, FAILS or NOT_TESTED
    reason: str  # the numbers it rests on, or why it was not tested


def _judged(conclusion: int, failures: list[str], evidence: str) -> Verdict:
    if failures:
        return Verdict(conclusion, FAILS, "; ".join(failures))
    return Verdict(conclusion, HOLDS, evidence)


def combined(verdicts: list[Verdict]) -> Verdict:
    """One conclusion's verdict from the sections that test it: fails if one fails, not
    tested if one is not (and none fails), else holds; a reason two sections share is
    given once."""
    conclusion = verdicts[0].conclusion
    for status in (FAILS, NOT_TESTED, HOLDS):
        reasons = dict.fromkeys(verdict.reason for verdict in verdicts if verdict.status == status)
        if reasons:
            return Verdict(conclusion, status, "; ".join(reasons))
    raise ValueError("no verdicts")


def conv_check(passed: int, cases: int, largest_error: float) -> Verdict:
    """Conclusion 1, the correctness half: gradcheck and parity with F.conv2d."""
    failures = []
    if passed < cases:
        failures.append(f"gradcheck accepts only {passed} of {cases} convolutions")
    if largest_error > CHECK_TOLERANCE:
        failures.append(f"the largest difference from F.conv2d is {largest_error:.2e}")
    evidence = (
        f"gradcheck accepts all {cases} convolutions and the largest difference from "
        f"F.conv2d is {largest_error:.2e} (at most {CHECK_TOLERANCE:.0e})"
    )
    return _judged(1, failures, evidence)


def conv_training(
    gap: float, control_gap: float | None, time_ratio: float, memory_ratio: float
) -> Verdict:
    """Conclusion 1, the training half: the custom run's val top-1 curve stays within the
    gap that only a change of summation order makes (the native-vs-native control), or
    within GAP_TOLERANCE points, whichever is larger."""
    allowed = GAP_TOLERANCE if control_gap is None else max(control_gap, GAP_TOLERANCE)
    control = (
        "no control run"
        if control_gap is None
        else f"native vs native with another summation order: {control_gap:.2f}"
    )
    cost = f"at {time_ratio:.2f}x the time and {memory_ratio:.2f}x the peak memory"
    if gap > allowed:
        failure = (
            f"the val top-1 curves of custom and native part by up to {gap:.2f} points, more "
            f"than the {allowed:.2f} allowed ({control})"
        )
        return Verdict(1, FAILS, failure)
    evidence = f"the val top-1 curves part by at most {gap:.2f} points ({control}), {cost}"
    return Verdict(1, HOLDS, evidence)


def learns(top1: float, classes: int, first_loss: float | None, last_loss: float | None) -> Verdict:
    """Conclusion 2: val top-1 at least TIMES_CHANCE times chance, and (given the curve)
    val loss lower at the end than after the first epoch."""
    chance = 100 / classes
    failures = []
    if top1 < TIMES_CHANCE * chance:
        failures.append(
            f"val top-1 {top1:.2f}% is below {TIMES_CHANCE}x chance ({TIMES_CHANCE * chance:.1f}%)"
        )
    if first_loss is not None and last_loss is not None and last_loss >= first_loss:
        failures.append(f"val loss did not fall ({first_loss:.3f} -> {last_loss:.3f})")
    evidence = f"val top-1 {top1:.2f}%, at least {TIMES_CHANCE}x chance ({chance:.1f}%)"
    if first_loss is not None and last_loss is not None:
        evidence += f", val loss {first_loss:.3f} -> {last_loss:.3f}"
    return _judged(2, failures, evidence)


def standard_error(images: int, *top1: float) -> float:
    """The sampling noise, in points, of a top-1 measured on ``images`` images, or of the
    difference of two (their variances add): sqrt(sum of p (1 - p) / n), and at least one
    image."""
    variance = sum(p / 100 * (1 - p / 100) for p in top1) / images
    return max(100 * math.sqrt(variance), 100 / images)


def blocks(
    simplenet_top1: float,
    best_top1: dict[int, float],
    step_seconds: dict[int, float],
    repeats: int,
    images: int,
) -> Verdict:
    """Conclusion 3 from best val top-1 (SimpleNet's and OurBestNet's by block count, on
    ``images`` val images) and the median seconds per training step by block count (of
    ``repeats`` steps each, interleaved: `scenelab.study.step_time`). "3 better than 2"
    fails only when 3 blocks end below 2 by more than one standard error of the difference."""
    top = max(best_top1.values())
    noise = standard_error(images, best_top1[2], best_top1[3])
    failures = []
    if top <= simplenet_top1:
        failures.append(
            f"the best OurBestNet ({top:.2f}%) is not above SimpleNet ({simplenet_top1:.2f}%)"
        )
    if best_top1[3] < best_top1[2] - noise:
        failures.append(
            f"3 blocks ({best_top1[3]:.2f}%) end below 2 ({best_top1[2]:.2f}%) by more than "
            f"one standard error ({noise:.2f} points)"
        )
    if best_top1[3] < best_top1[4] - SAME_ACCURACY:
        failures.append(
            f"3 blocks ({best_top1[3]:.2f}%) end more than {SAME_ACCURACY:g} points below 4 "
            f"({best_top1[4]:.2f}%)"
        )
    steps = f"s per training step (medians of {repeats}, interleaved)"
    times = f"{step_seconds[4]:.3f} against {step_seconds[2]:.3f} and {step_seconds[3]:.3f} {steps}"
    if step_seconds[4] <= max(step_seconds[2], step_seconds[3]):
        failures.append(f"4 blocks do not cost more time: {times}")
    evidence = (
        f"best val top-1 {best_top1[2]:.2f}%, {best_top1[3]:.2f}%, {best_top1[4]:.2f}% with "
        f"2, 3, 4 blocks against SimpleNet's {simplenet_top1:.2f}% (3 not below 2 by more "
        f"than one standard error, {noise:.2f} points); 4 blocks cost more time: {times}"
    )
    return _judged(3, failures, evidence)


def transfer(scratch: list[float], fine_tuned: list[float]) -> Verdict:
    """Conclusion 4 from the val top-1 curves: fine-tuned ends higher, and reaches the
    from-scratch run's final top-1 in fewer epochs."""
    failures = []
    if fine_tuned[-1] <= scratch[-1]:
        failures.append(
            f"fine-tuned ends at {fine_tuned[-1]:.2f}%, not above from scratch ({scratch[-1]:.2f}%)"
        )
    reached = next((i + 1 for i, top1 in enumerate(fine_tuned) if top1 >= scratch[-1]), None)
    if reached is None or reached >= len(scratch):
        failures.append(f"fine-tuned does not reach {scratch[-1]:.2f}% before the last epoch")
    evidence = (
        f"fine-tuned reaches from scratch's final {scratch[-1]:.2f}% at epoch {reached} of "
        f"{len(scratch)} and ends at {fine_tuned[-1]:.2f}%"
    )
    return _judged(4, failures, evidence)


def saliency_focus(
    clean_top1: float, salient_top1: float, random_top1: float, images: int, share: float
) -> Verdict:
    """Conclusion 5 by deletion (`scenelab.study.focus`): blanking the ``share`` of pixels
    saliency ranks highest lowers top-1 at least DELETION_RATIO times as much as blanking
    as many at random, and by more than one standard error beyond it."""
    salient, random = clean_top1 - salient_top1, clean_top1 - random_top1
    evidence = (
        f"blanking the {100 * share:.0f}% most salient pixels of {images} val images lowers "
        f"top-1 from {clean_top1:.2f}% to {salient_top1:.2f}% ({salient:.2f} points); as many "
        f"random pixels, to {random_top1:.2f}% ({random:.2f} points)"
    )
    noise = standard_error(images, salient_top1, random_top1)
    failures = []
    if salient < DELETION_RATIO * max(random, 0.0):
        failures.append(f"{evidence}: less than {DELETION_RATIO}x")
    elif random_top1 - salient_top1 <= noise:
        failures.append(f"{evidence}: within one standard error ({noise:.2f} points)")
    return _judged(5, failures, f"{evidence}, at least {DELETION_RATIO}x")


def attack(
    clean: tuple[float, float], attacked: tuple[float, float], sweep_top1: list[float], images: int
) -> Verdict:
    """Conclusion 6 from (top-1, top-5) clean and under the attack, and top-1 along the
    epsilon sweep (ascending epsilons) on ``images`` images."""
    failures = []
    for name, before, after in zip(("top-1", "top-5"), clean, attacked, strict=True):
        if after > (1 - SUBSTANTIAL_DROP) * before:
            failures.append(
                f"{name} falls only from {before:.2f}% to {after:.2f}% (less than "
                f"{100 * SUBSTANTIAL_DROP:.0f}% of it)"
            )
    # A rise along the sweep counts when it exceeds the sampling noise of clean top-1.
    noise = standard_error(images, clean[0])
    rises = [
        f"{low:.2f}% -> {high:.2f}%"
        for low, high in itertools.pairwise(sweep_top1)
        if high > low + noise
    ]
    if rises:
        failures.append(
            f"top-1 rises with epsilon by more than one standard error ({noise:.2f} points): "
            f"{', '.join(rises)}"
        )
    evidence = (
        f"top-1 {clean[0]:.2f}% -> {attacked[0]:.2f}%, top-5 {clean[1]:.2f}% -> "
        f"{attacked[1]:.2f}%, top-1 falling along the sweep (no rise above one standard "
        f"error, {noise:.2f} points)"
    )
    return _judged(6, failures, evidence)


def adversarial(normal: tuple[float, float], robust: tuple[float, float], images: int) -> Verdict:
    """Conclusion 7 from (clean top-1, top-1 under the attack) of the normal and the
    adversarially trained model."""
    failures = []
    if robust[0] < normal[0] - CLEAN_TOLERANCE:
        failures.append(
            f"clean top-1 falls from {normal[0]:.2f}% to {robust[0]:.2f}% (more than "
            f"{CLEAN_TOLERANCE:g} points)"
        )
    if robust[1] <= normal[1] + 100 / images:
        failures.append(
            f"top-1 under attack is {robust[1]:.2f}% against {normal[1]:.2f}% (not higher "
            "by more than one image)"
        )
    evidence = (
        f"clean top-1 {normal[0]:.2f}% -> {robust[0]:.2f}%, under attack "
        f"{normal[1]:.2f}% -> {robust[1]:.2f}%"
    )
    return _judged(7, failures, evidence)
