"""Hostile inputs, one failure class: Bad values at the entry: flags, YAML configs and stored
configs out of range, and what reaches the error boundary.

Each case is a reliability_corpus.Case run through the real command line by
test_bad_inputs.py; docs/reliability.md's corpus table lists them.
"""

from __future__ import annotations

from reliability_corpus import Case

CASES: list[Case] = []
