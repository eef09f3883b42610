"""Epsilons are pixel units, given as numbers or fractions of 255 levels."""

from __future__ import annotations

import pytest

from scenelab.attacks import parse_epsilon, parse_epsilons
from scenelab.errors import ScenelabError


@pytest.mark.parametrize(
    ("text", "value"),
    [("6/255", 6 / 255), ("0", 0.0), ("1", 1.0), ("0.03", 0.03), (" 8/255 ", 8 / 255), (0.5, 0.5)],
)
def test_numbers_and_fractions_parse(text, value):
    assert parse_epsilon(text) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["256/255", "-1/255", "1.5", "abc", "1/0", "nan", ""])
def test_out_of_range_or_malformed_epsilons_are_clear_errors(text):
    with pytest.raises(ScenelabError, match="epsilon"):
        parse_epsilon(text)


def test_a_sweep_is_a_comma_separated_list():
    assert parse_epsilons("0,1/255, 2/255,0.5") == pytest.approx([0, 1 / 255, 2 / 255, 0.5])
    with pytest.raises(ScenelabError, match="epsilon"):
        parse_epsilons("0,2")
