"""Hostile inputs, one failure class: User text (class names, run names, paths) in Markdown,
HTML, CSV, the terminal and plots.

Each case is a reliability_corpus.Case run through the real command line by
test_bad_inputs.py; docs/reliability.md's corpus table lists them.
"""

from __future__ import annotations

from reliability_corpus import Case

CASES: list[Case] = []
