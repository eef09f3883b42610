"""Hostile inputs, one failure class: Checkpoints and models that do not fit the data or the
model.

Each case is a reliability_corpus.Case run through the real command line by
test_bad_inputs.py; docs/reliability.md's corpus table lists them.
"""

from __future__ import annotations

from reliability_corpus import Case

CASES: list[Case] = []
