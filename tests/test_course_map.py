"""Tests for zsl_utils.course_map: one map, every notebook on it, the current one in bold."""

import re
from pathlib import Path

import nbformat
import pytest

from zsl_utils import course_map


@pytest.mark.parametrize("notebook", range(12))
def test_map_names_every_notebook_and_bolds_the_current_one(notebook):
    text = course_map.map_markdown(notebook)
    for other in range(12):
        if other != notebook:
            assert f"{other:02d}" in text, f"notebook {other:02d} missing from the map"
    bold = re.findall(r"\*\*([^*]+)\*\*", text)
    assert any("this notebook" in b for b in bold)
    assert text.count("(this notebook") >= 1
    assert f"({notebook:02d})" not in text  # the current one is named "this notebook" instead


def test_map_is_a_two_by_two_markdown_table():
    rows = [r for r in course_map.map_markdown(3).splitlines() if r.startswith("|")]
    assert len(rows) == 4
    assert all(r.count("|") == 4 for r in rows)
    assert "**domain-adversarial training (this notebook)**" in rows[2]
    assert "self-taught clustering (11)" in rows[3]
    assert "not covered" not in "".join(rows)  # every quadrant is taught


def test_names_are_accepted_as_numbers_or_file_names():
    assert course_map.map_markdown("03_domain_adversarial") == course_map.map_markdown(3)


def test_notebook_11_is_bold_in_both_unlabelled_source_quadrants():
    text = course_map.map_markdown(11)
    assert text.count("(this notebook)") == 2


@pytest.mark.parametrize("bad", [12, -1, "12", "intro", True, 3.0, None])
def test_bad_notebooks_raise_naming_the_valid_ones(bad):
    with pytest.raises(ValueError, match="00, 01, 02"):
        course_map.map_markdown(bad)


def test_with_map_replaces_the_table_and_keeps_the_prose():
    old = "Intro.\n\n| | **target labelled** | **x** |\n|---|---|---|\n| a | b | c |\n\nAfter."
    new = course_map.with_map(old, 2)
    assert new.startswith("Intro.\n\n") and new.endswith("\n\nAfter.")
    assert course_map.map_markdown(2) in new
    assert course_map.with_map(new, 2) == new


@pytest.mark.parametrize("text", ["no table here", "| | **target a |\n\n| | **target b |"])
def test_with_map_needs_exactly_one_table(text):
    with pytest.raises(ValueError, match="one map table"):
        course_map.with_map(text, 1)


NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_shows_the_one_map(path):
    nb = nbformat.read(path, as_version=4)
    first = [c.source for c in nb.cells[:3] if c.cell_type == "markdown"]
    cells = [text for text in first if "| | **target" in text]
    assert len(cells) == 1, "the map must be in one of the first three cells"
    assert course_map.with_map(cells[0], path.name) == cells[0], (
        "this notebook's map differs from zsl_utils.course_map: run python scripts/update_maps.py"
    )
