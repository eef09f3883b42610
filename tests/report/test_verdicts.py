"""The rules that judge the study's conclusions, on made-up numbers: each holds where its
stated threshold is met and does not where it is missed, and says which part failed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scenelab.study import verdicts
from scenelab.study.focus import blank_highest, measure_focus, read_focus
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
    assert verdicts.blocks(40.0, {2: 41.0, 3: 44.0, 4: 45.0}, seconds, 5, 1000).status == HOLDS
    cases = [
        (50.0, {2: 41.0, 3: 44.0, 4: 45.0}, seconds, "not above SimpleNet"),
        (40.0, {2: 48.0, 3: 44.0, 4: 45.0}, seconds, "end below 2"),
        (40.0, {2: 41.0, 3: 42.0, 4: 45.0}, seconds, "more than 2 points below 4"),
        (40.0, {2: 41.0, 3: 44.0, 4: 45.0}, {2: 1.0, 3: 1.6, 4: 1.5}, "do not cost more"),
    ]
    for simplenet, best, cost, message in cases:
        verdict = verdicts.blocks(simplenet, best, cost, 5, 1000)
        assert verdict.status == FAILS and message in verdict.reason


def test_blocks_tolerate_3_below_2_within_sampling_noise():
    """The demo's digits: 358 against 359 of 360 images, one image, below the standard
    error of the difference (0.48 points); the same gap on 10,000 images (0.09) is not."""
    seconds = {2: 1.0, 3: 1.2, 4: 1.5}
    best = {2: 100 * 359 / 360, 3: 100 * 358 / 360, 4: 98.61}
    assert verdicts.blocks(97.22, best, seconds, 5, 360).status == HOLDS
    many = verdicts.blocks(97.22, best, seconds, 5, 10_000)
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


def test_saliency_focus_needs_deletion_to_cost_twice_random_and_beyond_noise():
    assert verdicts.saliency_focus(90.0, 60.0, 88.0, 500, 0.1).status == HOLDS  # 30 vs 2
    weak = verdicts.saliency_focus(90.0, 80.0, 84.0, 500, 0.1)  # 10 points against 6
    assert weak.status == FAILS and "less than 2x" in weak.reason
    # Random blanking that helps (a negative drop) does not make any salient drop enough.
    noise = verdicts.saliency_focus(30.0, 28.5, 30.5, 500, 0.1)  # 2 points apart, SE 2.9
    assert noise.status == FAILS and "standard error" in noise.reason
    assert "10% most salient pixels of 500" in noise.reason


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
    assert combined([held, held]).reason == HOLDS  # two sections with one reason: said once


def test_blank_highest_matches_a_per_image_argsort():
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand(3, 3, 6, 5, generator=generator)
    scores = torch.rand(3, 6, 5, generator=generator)
    blanked = blank_highest(pixels, scores, 0.2)  # 6 of 30 pixels
    expected = pixels.clone()
    for image in range(3):
        order = np.argsort(-scores[image].flatten().numpy(), kind="stable")[:6]
        rows, columns = np.unravel_index(order, (6, 5))
        colour = pixels[image].mean(dim=(1, 2))
        expected[image][:, rows, columns] = colour[:, None]
    torch.testing.assert_close(blanked, expected)


class CornerReader(torch.nn.Module):
    """Class 1 if the top-left 2x2 corner is brighter than grey, else 0."""

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        corner = pixels[:, :, :2, :2].mean(dim=(1, 2, 3)) - 0.5
        return torch.stack([-corner, corner], dim=1)


def test_focus_deletion_of_what_the_model_reads_costs_more_than_random_deletion():
    pixels = torch.zeros(40, 3, 10, 10)
    pixels[:20, :, :2, :2] = 1.0  # class 1: a bright corner
    pixels[20:, :, 5:7, 5:7] = 1.0  # class 0: the bright square elsewhere
    labels = torch.tensor([1] * 20 + [0] * 20)
    maps = torch.zeros(40, 1, 10, 10)
    maps[..., :2, :2] = 1.0  # the saliency of CornerReader: its corner, nothing else
    generator = torch.Generator().manual_seed(0)
    focus = measure_focus(CornerReader(), pixels, labels, maps, generator, share=0.04)
    assert focus.clean_top1 == 100.0
    # Blanked to the image's mean colour (0.04), a bright corner is dark: class 0.
    assert focus.salient_top1 == 50.0
    # Four random pixels of 100 darken the corner below grey only if three of them fall in
    # it (a chance of about 4 in 10^5 per image).
    assert focus.random_top1 == 100.0


def test_a_focus_file_of_the_earlier_measure_is_measured_again(tmp_path):
    old = tmp_path / "saliency_focus.json"
    old.write_text('{"images": 8, "saliency_share": 0.5, "content_share": 0.5}')
    assert read_focus(old) is None and read_focus(tmp_path / "absent.json") is None
