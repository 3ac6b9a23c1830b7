"""Every committed notebook: executed top to bottom, no errors, the course's lesson shape."""

import json
import re

import pytest
from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_BYTES = 2 * 1024 * 1024


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def markdown(nb):
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param, json.loads(request.param.read_text())


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ has no notebooks"


def test_names_are_numbered(notebook):
    path, _ = notebook
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name)


def test_executed_top_to_bottom_in_one_pass(notebook):
    _, nb = notebook
    counts = [c.get("execution_count") for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1))


def test_no_error_outputs(notebook):
    _, nb = notebook
    errors = [
        o for c in code_cells(nb) for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert not errors, errors[0].get("ename") if errors else ""


def test_standard_kernel(notebook):
    _, nb = notebook
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_lesson_shape(notebook):
    _, nb = notebook
    text = markdown(nb)
    assert re.search(r"^## Summary", text, re.M), "no '## Summary' section"
    assert re.search(r"^## Exercises", text, re.M), "no '## Exercises' section"
    first = "".join(code_cells(nb)[0]["source"])
    assert "device = zu.setup(" in first, "not the standard setup cell"


# A seed written as a number in a notebook ignores ZSL_SEED; seeds come from zu.seeds(...).
LITERAL_SEED = re.compile(
    r"(seed|SEEDS?|random_state)\s*=\s*[\[(]?\s*\d"
    r"|(manual_seed|default_rng|set_seed|RandomState|SeedSequence)\(\s*\d"
    r"|seeds?\s+in\s+(tqdm\()?(range\(|[\[(]\s*\d)"
)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
REPR_NOISE = re.compile(r"<[\w.]+ (object )?at 0x[0-9a-f]+>|np\.float(32|64)\(")


def output_texts(nb):
    for cell in code_cells(nb):
        for output in cell.get("outputs", []):
            for text in (output.get("text", ""), output.get("data", {}).get("text/plain", "")):
                yield "".join(text) if isinstance(text, list) else text


def test_no_stateless_widgets(notebook):
    """A widget output without its state shows as a progress bar frozen at 0 %."""
    _, nb = notebook
    if "widgets" in nb["metadata"]:
        return
    widgets = [
        o for c in code_cells(nb) for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})
    ]
    assert not widgets, f"{len(widgets)} widget outputs without state (use make refresh)"


def test_no_object_reprs_in_outputs(notebook):
    _, nb = notebook
    noise = [m.group(0) for text in output_texts(nb) for m in REPR_NOISE.finditer(text)]
    assert not noise, f"object reprs in outputs: {noise[:3]}"


WORKFLOW_WORDS = re.compile(
    r"\b([Ii]ssues?|[Ss]essions?|TODO|FIXME|XXX)\b|busy (2-core )?machine|target 0\.95\b"
)


def test_no_words_from_the_projects_workflow(notebook):
    """The notebooks speak of the course: no development leftovers in sources or outputs."""
    _, nb = notebook
    texts = ["".join(cell["source"]) for cell in nb["cells"]] + list(output_texts(nb))
    found = sorted({m.group(0) for text in texts for m in WORKFLOW_WORDS.finditer(text)})
    assert not found, f"development leftovers: {found}"


ASSERT_RULE = (
    "# The asserts in this notebook are its tests. Each claims only what the evidence carries:"
)


def test_first_assert_cell_states_what_an_assert_may_claim(notebook):
    _, nb = notebook
    sources = ["".join(c["source"]) for c in code_cells(nb)]
    first = next(s for s in sources if re.search(r"^\s*assert ", s, re.M))
    assert first.startswith(ASSERT_RULE), "the first assert cell must open with the rule"


def test_no_literal_seed(notebook):
    _, nb = notebook
    found = [
        m.group(0) for c in code_cells(nb) for m in LITERAL_SEED.finditer("".join(c["source"]))
    ]
    assert not found, f"seeds written as numbers (take them from zu.seeds): {found}"


def test_reports_a_key_result_and_asserts_claims(notebook):
    _, nb = notebook
    sources = ["".join(c["source"]) for c in code_cells(nb)]
    assert any("zu.key_result(" in s for s in sources)
    assert any(re.search(r"^\s*assert ", s, re.M) for s in sources)


def test_has_a_graded_code_exercise(notebook):
    _, nb = notebook
    cells = nb["cells"]
    solutions = [i for i, c in enumerate(cells) if "### BEGIN SOLUTION" in "".join(c["source"])]
    assert solutions, "no code exercise in nbgrader markup"
    following = "".join(cells[solutions[0] + 1]["source"])
    assert "assert" in following and "### BEGIN HIDDEN TESTS" in following


def test_small_enough(notebook):
    path, _ = notebook
    assert path.stat().st_size < MAX_BYTES


def test_listed_in_the_readme_syllabus(notebook):
    path, _ = notebook
    assert path.name in (ROOT / "README.md").read_text()


def test_at_least_three_exercises_of_each_kind(notebook):
    _, nb = notebook
    exercises = markdown(nb).split("## Exercises", 1)[-1]
    kinds = re.findall(r"^\d+\. \*\*(Conceptual|Experimental|Code)\b", exercises, re.M)
    assert len(kinds) >= 3, f"{len(kinds)} exercises; write '1. **Conceptual: title.**' etc."
    assert {"Conceptual", "Experimental", "Code"} <= set(kinds), kinds
