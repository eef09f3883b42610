"""The list-file and categories.txt parsers: hand-written cases and hypothesis fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenelab.data.listfile import Entry, category_name, parse_categories, parse_list
from scenelab.data.samples import Problem

SOURCE = Path("train.txt")


def test_parses_paths_labels_and_line_numbers():
    text = "train/a/abbey/00000001.jpg 0\n\nval/with space.jpg 12\r\n"
    entries, problems = parse_list(text, SOURCE)
    assert problems == []
    assert entries == [
        Entry("train/a/abbey/00000001.jpg", 0, 1),
        Entry("val/with space.jpg", 12, 3),
    ]


def test_unlabelled_lines_get_label_minus_one():
    entries, problems = parse_list("test/00000001.jpg\ntest/00000002.jpg\n", SOURCE, labelled=False)
    assert problems == []
    assert [(e.path, e.label) for e in entries] == [
        ("test/00000001.jpg", -1),
        ("test/00000002.jpg", -1),
    ]


def test_every_bad_line_is_a_problem_at_its_line():
    text = "\n".join(
        [
            "ok/1.jpg 0",  # 1
            "just_a_path.jpg",  # 2: no label
            "x/2.jpg two",  # 3: not an integer
            "x/3.jpg -1",  # 4: negative
            "/abs/4.jpg 0",  # 5: absolute
            "../up/5.jpg 0",  # 6: escapes images/
            "ok/1.jpg 1",  # 7: duplicate of line 1
        ]
    )
    entries, problems = parse_list(text, SOURCE)
    assert [e.line for e in entries] == [1]
    assert [p.line for p in problems] == [2, 3, 4, 5, 6, 7]
    assert all(p.file == SOURCE for p in problems)
    assert "first at line 1" in problems[-1].message
    assert str(problems[0]).startswith("train.txt:2: ")


def test_categories_give_names_in_label_order():
    names, problems = parse_categories("/b/bedroom 1\n/a/abbey 0\n/a/apartment/outdoor 2\n", SOURCE)
    assert problems == []
    assert names == ["abbey", "bedroom", "apartment/outdoor"]
    assert category_name("plain") == "plain"


def test_categories_with_a_gap_or_a_repeat_are_problems():
    _, gap = parse_categories("/a/abbey 0\n/c/coast 2\n", SOURCE)
    assert [(p.line, p.message) for p in gap] == [
        (None, "labels must be 0..1; missing [1]"),
        (2, "label 2 is beyond the 2 categories: labels are 0..K-1"),
    ]
    _, repeat = parse_categories("/a/abbey 0\n/b/bar 0\n", SOURCE)
    assert [p.line for p in repeat] == [None, 2] and "given twice" in repeat[1].message


def test_a_label_far_beyond_the_categories_is_a_problem_at_its_line():
    names, problems = parse_categories("/a/abbey 0\n/b/beach 1000000000\n", SOURCE)
    assert names == ["abbey"]
    assert str(problems[-1]) == (
        "train.txt:2: label 1000000000 is beyond the 2 categories: labels are 0..K-1"
    )


def test_two_categories_with_one_display_name_are_refused_naming_both():
    _, problems = parse_categories("/a/abbey 0\n/b/beach 1\n/b/abbey 2\n", SOURCE)
    assert [str(p) for p in problems] == [
        "train.txt:3: '/b/abbey' has the class name 'abbey' of '/a/abbey' at line 1; "
        "class names must differ"
    ]


@pytest.mark.parametrize("label", ["\u0661", "\uff11", "\U0001d7cf", "0_1", "+1"])
def test_labels_are_ascii_digits_only(label):
    assert int(label) == 1  # what int() would have read
    entries, problems = parse_list(f"ok/0.jpg 0\nodd/1.jpg {label}\n", SOURCE)
    assert [e.line for e in entries] == [1]
    assert [str(p) for p in problems] == [
        f"train.txt:2: label {label!r} is not a number of ASCII digits 0-9"
    ]
    _, problems = parse_categories(f"/a/abbey 0\n/b/beach {label}\n", SOURCE)
    assert "train.txt:2: " in str(problems[-1])


def test_a_label_of_thousands_of_digits_is_a_problem_not_an_exception():
    _, problems = parse_list("big/1.jpg " + "9" * 5000 + "\n", SOURCE)
    assert [p.line for p in problems] == [1] and "too large" in problems[0].message


# A path as the official lists write them: relative segments without whitespace.
segment = st.text(st.characters(categories=("L", "N"), include_characters="_-."), min_size=1)
paths = st.lists(segment, min_size=1, max_size=4).map("/".join).filter(lambda p: ".." not in p)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(paths, st.integers(0, 10**6)), max_size=20, unique_by=lambda t: t[0]))
def test_written_lists_parse_back(rows):
    text = "".join(f"{path} {label}\n" for path, label in rows)
    entries, problems = parse_list(text, SOURCE)
    assert problems == []
    assert [(e.path, e.label) for e in entries] == rows
    assert [e.line for e in entries] == list(range(1, len(rows) + 1))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.booleans())
def test_any_text_gives_entries_or_located_problems(text, labelled):
    entries, problems = parse_list(text, SOURCE, labelled)
    non_blank = [n for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    assert sorted([e.line for e in entries] + [p.line for p in problems]) == non_blank
    assert all(isinstance(p, Problem) and p.file == SOURCE for p in problems)
    assert all(e.label >= 0 for e in entries) if labelled else all(e.label == -1 for e in entries)
    assert len({e.path for e in entries}) == len(entries)
    assert not any(e.path.startswith("/") or ".." in e.path.split("/") for e in entries)
