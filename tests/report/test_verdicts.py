"""The rules that judge the study's conclusions, on made-up numbers: each holds where its
stated threshold is met and does not where it is missed, and says which part failed."""

from __future__ import annotations

import math

import pytest
import torch

from scenelab.study import verdicts
from scenelab.study.focus import measure_focus
from scenelab.study.verdicts import FAILS, HOLDS, NOT_TESTED, Verdict, combined


def test_conv_check_needs_every_gradcheck_and_a_small_error():
    assert verdicts.conv_check(6, 6, 3e-7).status == HOLDS
    failed = verdicts.conv_check(5, 6, 3e-7)
    assert failed.status == FAILS and "only 5 of 6" in failed.reason
    assert verdicts.conv_check(6, 6, 2e-3).status == FAILS


def test_conv_training_gap_is_judged_against_the_control():
    assert verdicts.conv_training(0.3, None, 1.4, 1.0).status == HOLDS  # within 0.5 points
    assert verdicts.conv_training(0.8, None, 1.4, 1.0).status == FAILS
    held = verdicts.conv_training(1.5, 1.8, 1.4, 1.0)  # rounding alone parts them by 1.8
    assert held.status == HOLDS and "1.40x the time" in held.reason
    failed = verdicts.conv_training(2.5, 1.8, 1.4, 1.0)
    assert failed.status == FAILS and "2.50 points" in failed.reason


def test_learning_needs_three_times_chance_and_a_falling_loss():
    assert verdicts.learns(40.0, 20, 2.9, 2.1).status == HOLDS  # chance 5%, 3x is 15%
    assert verdicts.learns(14.0, 20, 2.9, 2.1).status == FAILS
    rising = verdicts.learns(40.0, 20, 2.1, 2.3)
    assert rising.status == FAILS and "did not fall" in rising.reason
    assert verdicts.learns(31.0, 10, None, None).status == HOLDS  # without a curve


def test_blocks_rule_each_part():
    seconds = {2: 1.0, 3: 1.2, 4: 1.5}
    assert verdicts.blocks(40.0, {2: 41.0, 3: 44.0, 4: 45.0}, seconds, 1000).status == HOLDS
    cases = [
        (50.0, {2: 41.0, 3: 44.0, 4: 45.0}, seconds, "not above SimpleNet"),
        (40.0, {2: 48.0, 3: 44.0, 4: 45.0}, seconds, "end below 2"),
        (40.0, {2: 41.0, 3: 42.0, 4: 45.0}, seconds, "more than 2 points below 4"),
        (40.0, {2: 41.0, 3: 44.0, 4: 45.0}, {2: 1.0, 3: 1.6, 4: 1.5}, "do not cost more"),
    ]
    for simplenet, best, cost, message in cases:
        verdict = verdicts.blocks(simplenet, best, cost, 1000)
        assert verdict.status == FAILS and message in verdict.reason


def test_blocks_tolerate_3_below_2_within_sampling_noise():
    """The demo's digits: 358 against 359 of 360 images, one image, below the standard
    error of the difference (0.48 points); the same gap on 10,000 images (0.09) is not."""
    seconds = {2: 1.0, 3: 1.2, 4: 1.5}
    best = {2: 100 * 359 / 360, 3: 100 * 358 / 360, 4: 98.61}
    assert verdicts.blocks(97.22, best, seconds, 360).status == HOLDS
    many = verdicts.blocks(97.22, best, seconds, 10_000)
    assert many.status == FAILS and "end below 2" in many.reason
    two, three = 359 / 360, 358 / 360
    error = math.sqrt((two * (1 - two) + three * (1 - three)) / 360)
    assert verdicts.standard_error(360, best[2], best[3]) == pytest.approx(100 * error)
    assert verdicts.standard_error(360, 100.0) == pytest.approx(100 / 360)  # one image


def test_transfer_needs_a_higher_end_reached_sooner():
    assert verdicts.transfer([10.0, 20.0, 30.0], [25.0, 32.0, 40.0]).status == HOLDS
    lower = verdicts.transfer([10.0, 20.0, 30.0], [25.0, 28.0, 29.0])
    assert lower.status == FAILS and "not above" in lower.reason
    late = verdicts.transfer([10.0, 20.0, 30.0], [5.0, 12.0, 31.0])  # gets there at the end
    assert late.status == FAILS and "before the last epoch" in late.reason


def test_saliency_focus_lift_and_the_case_without_background():
    assert verdicts.saliency_focus(0.6, 0.2).status == HOLDS  # 3x the content's share
    assert verdicts.saliency_focus(0.25, 0.2).status == FAILS  # 1.25x
    assert verdicts.saliency_focus(0.9, 0.8).status == NOT_TESTED


def test_attack_needs_a_substantial_monotone_drop():
    sweep = [90.0, 70.0, 40.0, 20.0]
    assert verdicts.attack((90.0, 99.0), (20.0, 50.0), sweep, 100).status == HOLDS
    weak = verdicts.attack((90.0, 99.0), (80.0, 50.0), sweep, 100)
    assert weak.status == FAILS and "top-1 falls only" in weak.reason
    top5 = verdicts.attack((90.0, 99.0), (20.0, 95.0), sweep, 100)
    assert top5.status == FAILS and "top-5 falls only" in top5.reason
    rising = verdicts.attack((90.0, 99.0), (20.0, 50.0), [90.0, 40.0, 45.0, 20.0], 100)
    assert rising.status == FAILS and "rises with epsilon" in rising.reason
    noise = [90.0, 40.0, 40.5, 20.0]  # within one image of 100
    assert verdicts.attack((90.0, 99.0), (20.0, 50.0), noise, 100).status == HOLDS


def test_attack_sweep_tolerates_a_rise_within_sampling_noise():
    """The small budget on miniplaces20: at 1/255 top-1 rose by 5 of 500 images, well within
    one standard error of a 28% top-1 on 500 images (2.0 points)."""
    sweep = [28.0, 29.0, 26.8, 21.0, 13.8, 7.8]
    found = verdicts.attack((28.0, 75.8), (13.8, 41.6), sweep, 500)
    assert found.status == HOLDS and "2.01 points" in found.reason
    # The same rise on 10,000 images is beyond one standard error (0.45 points).
    rising = verdicts.attack((28.0, 75.8), (13.8, 41.6), sweep, 10_000)
    assert rising.status == FAILS and "28.00% -> 29.00%" in rising.reason


def test_adversarial_training_keeps_clean_and_raises_robust_accuracy():
    assert verdicts.adversarial((95.0, 20.0), (92.0, 60.0), 100).status == HOLDS
    costly = verdicts.adversarial((95.0, 20.0), (85.0, 60.0), 100)
    assert costly.status == FAILS and "more than 5 points" in costly.reason
    useless = verdicts.adversarial((95.0, 20.0), (94.0, 20.5), 100)
    assert useless.status == FAILS and "not higher" in useless.reason


def test_combined_verdict_fails_before_not_tested_before_holds():
    held, skipped, failed = (Verdict(1, status, status) for status in (HOLDS, NOT_TESTED, FAILS))
    assert combined([held, held]).status == HOLDS
    assert combined([held, skipped]).status == NOT_TESTED
    assert combined([skipped, failed, held]) == Verdict(1, FAILS, FAILS)


def test_focus_counts_the_saliency_on_pixels_unlike_the_border():
    pixels = torch.zeros(1, 3, 10, 10)
    pixels[..., 4:6, 4:6] = 1.0  # a white square on black: 4 of 100 pixels are content
    maps = torch.zeros(1, 1, 10, 10)
    maps[..., 4:6, 4:6] = 3.0
    maps[..., 0, 0] = 4.0  # a quarter of the saliency on the background
    focus = measure_focus(pixels, maps)
    assert focus.content_share == pytest.approx(0.04)
    assert focus.saliency_share == pytest.approx(12 / 16)
