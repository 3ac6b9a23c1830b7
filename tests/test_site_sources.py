"""scripts/build_site.py stages the course website's sources (the browser test checks the built
site): solutions folded, hidden tests removed, repository links pointed at the site's pages."""

import nbformat
import pytest
from conftest import ROOT, load_script

site = load_script("build_site")


def exercise_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 99 — A lesson\n\nText with $x^2$."),
        nbformat.v4.new_code_cell(
            "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION"
        ),
        nbformat.v4.new_code_cell(
            "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(41) == 42\n### END HIDDEN TESTS"
        ),
    ]
    return nb


def test_site_version_folds_the_solution_and_drops_hidden_tests():
    original = exercise_notebook()
    shown = site.site_version(original, "99_lesson")
    sources = [c.source for c in shown.cells]
    assert sources[0] == original.cells[0].source
    assert "{download}" in sources[1] and "../downloads/99_lesson.ipynb" in sources[1]
    solution, tests = shown.cells[2], shown.cells[3]
    assert solution.source == "def f(x):\n    return x + 1"
    assert "hide-input" in solution.metadata["tags"]
    assert tests.source == "assert f(1) == 2"
    assert "HIDDEN" not in "\n".join(sources)
    assert "BEGIN SOLUTION" in original.cells[1].source, "the original must stay untouched"


def test_strip_region_rejects_unbalanced_markers():
    assert site.strip_region("a\n# B\nb\n# E\nc", "# B", "# E") == "a\nc"
    with pytest.raises(ValueError, match="without"):
        site.strip_region("a\n# B\nb", "# B", "# E")
    with pytest.raises(ValueError, match="without"):
        site.strip_region("a\n# E\nb", "# B", "# E")


def test_links_to_repository_files_point_at_site_pages():
    text = (
        "See [the guide](INSTRUCTORS.md), [data](data/README.md#why), "
        "[lesson](notebooks/06_conse.ipynb), [code](zsl_utils/stats.py), "
        "[PyPI](https://pypi.org/) and [above](#syllabus)."
    )
    out = site.rewrite_links(text, "README.md")
    assert "[the guide](instructors.md)" in out
    assert "[data](data.md#why)" in out
    assert "[lesson](notebooks/06_conse.ipynb)" in out
    assert "code (`zsl_utils/stats.py`)" in out, "a file the site lacks becomes plain text"
    assert "[PyPI](https://pypi.org/)" in out and "[above](#syllabus)" in out
    assert site.rewrite_links("[back](../README.md)", "data/README.md") == "[back](index.md)"


def test_notebook_names_in_code_become_links_except_in_code_blocks():
    text = "Open `06_conse.ipynb` or `data/README.md`.\n```bash\nls `06_conse.ipynb`\n```\n"
    out = site.link_notebook_names(text)
    assert "[`06_conse.ipynb`](notebooks/06_conse.ipynb)" in out
    assert "[`data/README.md`](data.md)" in out
    assert "ls `06_conse.ipynb`" in out


def test_landing_page_holds_the_readme_sections_and_every_lesson():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lessons = site.lesson_notebooks()
    page = site.landing_page(readme, lessons)
    for title in site.LANDING_SECTIONS:
        assert f"## {title}" in page
    for path in lessons:
        assert f"notebooks/{path.stem}\n" in page
    with pytest.raises(ValueError, match="Syllabus"):
        site.landing_page(readme.replace("## Syllabus", "## Plan"), lessons)


def test_site_version_drops_the_mark_scheme_of_a_manually_graded_exercise():
    original = exercise_notebook()
    original.cells.append(
        nbformat.v4.new_markdown_cell(
            "1. **Conceptual: why?** Explain.\n\n=== BEGIN MARK SCHEME ===\n\n- 2 pt: the reason"
            "\n\n=== END MARK SCHEME ==="
        )
    )
    shown = site.site_version(original, "99_lesson")
    assert shown.cells[-1].source == "1. **Conceptual: why?** Explain."
    assert "MARK SCHEME" in original.cells[-1].source, "the original must stay untouched"
