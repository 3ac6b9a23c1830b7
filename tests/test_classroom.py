"""The nbgrader workflow: valid source notebooks, markup, and a mock class graded end to end."""

import csv
import html as html_lib
import json
import re
import shutil
import time
import zipfile

import nbformat
import pytest
from conftest import ROOT, load_script
from nbgrader.nbgraderformat import MetadataValidator

classroom = load_script("classroom")
markup = load_script("nbgrader_markup")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
HIDDEN = r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS"
MOCK = "00_setup_and_data"


def grade_ids(nb):
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]


def by_id(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_is_a_valid_nbgrader_source_notebook(path):
    """nbgrader's own metadata validation, and the course's id and points conventions."""
    nb = nbformat.read(path, as_version=4)
    MetadataValidator().validate_nb(nb)
    nn = path.name[:2]
    ids = grade_ids(nb)
    assert ids, f"{path.name} has no nbgrader cells: run scripts/nbgrader_markup.py"
    assert all(re.fullmatch(rf"{nn}-ex\d+(-tests|-task)?", i) for i in ids), ids
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        if meta["grade_id"].endswith("-task"):
            assert (
                cell.cell_type == "markdown" and meta["task"] and "BEGIN MARK SCHEME" in cell.source
            )
            assert (
                by_id(nb, meta["grade_id"].removesuffix("-task"))["metadata"]["nbgrader"]["points"]
                > 0
            )
        elif meta["grade"]:
            assert meta["points"] > 0
    again = nbformat.from_dict(nb)
    markup.mark_code_exercises(again, nn, None)
    assert [c.metadata for c in again.cells] == [c.metadata for c in nb.cells], (
        "scripts/nbgrader_markup.py would change this notebook's metadata"
    )


def toy_notebook():
    """A lesson's tail: a summary with an exercise list, a code exercise and its tests."""
    cells = [
        nbformat.v4.new_code_cell("import math"),
        nbformat.v4.new_markdown_cell(
            "## Summary\n\nWords.\n\n## Exercises\n\nSome intro.\n\n"
            "1. **Conceptual: why?** Explain.\n   Second line.\n"
            "2. **Code: double.** Write `double`.\n"
            "3. **Experimental: try.** Run it.\n"
        ),
        nbformat.v4.new_code_cell(
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
        ),
        nbformat.v4.new_code_cell(
            "assert double(2) == 4, 'double(2) should be 4'\n"
            "### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS"
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


RUBRICS = [
    {
        "exercise": 1,
        "kind": "conceptual",
        "title": "why",
        "points": 3,
        "rubric": "- 2 pt: reason\n- 1 pt: example",
        "model_answer": "Because.",
    },
    {
        "exercise": 2,
        "kind": "code",
        "title": "double",
        "points": 2,
        "rubric": "",
        "model_answer": "",
    },
    {
        "exercise": 3,
        "kind": "experimental",
        "title": "try",
        "points": 4,
        "rubric": "- 4 pt: a table",
        "model_answer": "A table.",
    },
]


@pytest.fixture
def toy(tmp_path):
    path = tmp_path / "99_toy.ipynb"
    nbformat.write(toy_notebook(), path)
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "99.json").write_text(json.dumps(RUBRICS))
    return path, rubrics


def test_markup_splits_exercises_inserts_answers_and_is_idempotent(toy):
    path, rubrics = toy
    before = nbformat.read(path, as_version=4)
    nb = markup.mark_notebook(path, rubrics)
    MetadataValidator().validate_nb(nb)
    assert grade_ids(nb) == [
        "99-ex1-task",
        "99-ex1",
        "99-ex3-task",
        "99-ex3",
        "99-ex2",
        "99-ex2-tests",
    ]
    assert nb.cells[1].source == "## Summary\n\nWords."
    assert nb.cells[2].source == "## Exercises\n\nSome intro."
    task = by_id(nb, "99-ex1-task")
    assert task.source.startswith("1. **Conceptual: why?** Explain.\n   Second line.")
    assert "=== BEGIN MARK SCHEME ===\n\n- 2 pt: reason" in task.source
    assert task.metadata.nbgrader["points"] == 0 and task.metadata.nbgrader["locked"]
    answer = by_id(nb, "99-ex1")
    assert answer.cell_type == "markdown" and answer.source == "Because."
    assert answer.metadata.nbgrader["points"] == 3 and answer.metadata.nbgrader["solution"]
    assert by_id(nb, "99-ex2-tests").metadata.nbgrader["points"] == 2  # from the rubric
    code_before = [c.source for c in before.cells if c.cell_type == "code"]
    assert [c.source for c in nb.cells if c.cell_type == "code"] == code_before
    # the notebook is now the source of truth: points edited there survive a second run
    by_id(nb, "99-ex2-tests").metadata.nbgrader["points"] = 5
    nbformat.write(nb, path)
    again = markup.mark_notebook(path)
    assert [c.source for c in again.cells] == [c.source for c in nb.cells]
    assert by_id(again, "99-ex2-tests").metadata.nbgrader["points"] == 5
    assert markup.main([str(path)]) == 0


def test_markup_rejects_what_it_cannot_mark(toy, tmp_path, capsys):
    path, rubrics = toy
    with pytest.raises(markup.MarkupError, match="pass --rubrics"):
        markup.mark_notebook(path)
    (rubrics / "99.json").write_text(json.dumps(RUBRICS[1:]))
    with pytest.raises(markup.MarkupError, match="no rubric for exercise 1"):
        markup.mark_notebook(path, rubrics)
    nb = toy_notebook()
    nb.cells[3].source = "print('no tests')"
    nbformat.write(nb, path)
    (rubrics / "99.json").write_text(json.dumps(RUBRICS))
    with pytest.raises(markup.MarkupError, match="not followed by a test cell"):
        markup.mark_notebook(path, rubrics)
    assert markup.main([str(tmp_path / "toy.ipynb")]) == 2
    assert "NN_topic" in capsys.readouterr().err


def test_lms_pattern_reads_renamed_downloads():
    pattern = re.compile(classroom.LMS_PATTERN)
    for name, student in [
        ("smithjane_12345_67890_04_attribute_zsl_dap-1.ipynb", "smithjane"),
        ("jdoe_04_attribute_zsl_dap.ipynb", "jdoe"),
        ("/x/extracted/j.doe_LATE_881_04_attribute_zsl_dap (2).ipynb", "j.doe"),
    ]:
        match = pattern.match(name)
        assert match and match["student_id"] == student, name
        assert match["file_id"] == "04_attribute_zsl_dap", name
    assert pattern.match("04_attribute_zsl_dap.ipynb") is None  # no student in the name


def submission(release, student_code=None, tests=None, delete_tests=False, answers=None):
    """A student's copy of the release notebook with some cells edited."""
    nb = nbformat.read(release, as_version=4)
    if student_code is not None:
        by_id(nb, f"{MOCK[:2]}-ex6").source = student_code
    if tests is not None:
        by_id(nb, f"{MOCK[:2]}-ex6-tests").source = tests
    if delete_tests:
        nb.cells.remove(by_id(nb, f"{MOCK[:2]}-ex6-tests"))
    for grade_id, text in (answers or {}).items():
        by_id(nb, grade_id).source = text
    return nb


def solution_code(source_nb):
    code = by_id(source_nb, f"{MOCK[:2]}-ex6").source
    return re.sub(r"\s*### (BEGIN|END) SOLUTION", "", code)


@pytest.fixture(scope="module")
def mock_class(tmp_path_factory):
    """Notebook 00 released, five students on the roster, four submissions from a flat LMS
    download, collected with zip_collect and graded (two at a time) with nbgrader."""
    tmp = tmp_path_factory.mktemp("class")
    course = tmp / "course"
    roster = tmp / "roster.csv"
    roster.write_text(
        "id,first_name,last_name,email\n"
        + "".join(
            f"{s},{s.title()},Student,{s}@example.org\n"
            for s in ["alice", "bob", "carol", "dave", "erin"]
        )
    )
    classroom.write_course(course, ROOT / "notebooks", [MOCK], roster)
    release = course / "release" / MOCK / f"{MOCK}.ipynb"
    source = nbformat.read(course / "source" / MOCK / f"{MOCK}.ipynb", as_version=4)
    correct = solution_code(source)
    # passes the visible asserts, fails a hidden one (a repeated word must count twice)
    wrong = correct.replace("words = [", "words = sorted({").replace(
        " if word in kv]", " if word in kv})"
    )
    assert wrong != correct
    lms = tmp / "lms"
    lms.mkdir()
    subs = {
        "alice_1001_5001_{}.ipynb": submission(release, correct, answers={"00-ex1": "My map."}),
        "bob_1002_{}-1.ipynb": submission(release, wrong),
        "dave_LATE_1004_{} (2).ipynb": submission(release, tests="pass  # my own tests"),
        "erin_1005_{}.ipynb": submission(release, correct, delete_tests=True),
    }
    for name, nb in subs.items():
        nbformat.write(nb, lms / name.format(MOCK))
    (lms / "carol_1003_notes.txt").write_text("carol forgot the notebook")
    collected = classroom.collect(course, MOCK, lms)
    start = time.perf_counter()
    times = classroom.grade(course, MOCK, jobs=2)
    print(f"mock class of {times['students']}: graded in {time.perf_counter() - start:.0f} s")
    return course, source, collected, times


def test_mock_class_is_collected_from_a_flat_lms_folder(mock_class):
    course, _, collected, _ = mock_class
    assert collected == ["alice", "bob", "dave", "erin"]
    assert (course / "submitted" / "bob" / MOCK / f"{MOCK}.ipynb").is_file()


def test_mock_class_grades_are_exported(mock_class):
    course, source, _, _ = mock_class
    with open(course / "grades.csv") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle) if r["assignment"] == MOCK}
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "erin"]
    points = sum(
        c.metadata["nbgrader"].get("points", 0)
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    )
    code_points = by_id(source, "00-ex6-tests").metadata.nbgrader["points"]
    assert {float(r["max_score"]) for r in rows.values()} == {points}
    scores = {s: float(r["score"]) for s, r in rows.items()}
    # the manually graded answers score 0 until graded in formgrader; the code exercise:
    assert scores == {"alice": code_points, "bob": 0, "carol": 0, "dave": 0, "erin": 0}, scores


def test_mock_class_feedback_has_no_hidden_tests_or_mark_scheme(mock_class):
    course, source, _, _ = mock_class
    hidden = [
        ln.strip()
        for cell in source.cells
        for region in re.findall(HIDDEN, cell.source, re.S)
        for ln in region.splitlines()
        if ln.strip()
    ]
    assert hidden
    visible = re.sub(HIDDEN, "", "\n".join(c.source for c in source.cells), flags=re.S)
    secret = [ln for ln in hidden if ln not in visible] + ["MARK SCHEME", "HIDDEN TESTS"]
    for student in ["alice", "bob", "dave", "erin"]:
        page = (course / "feedback" / student / MOCK / f"{MOCK}.html").read_text()
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", page))
        leaked = [s for s in secret if s in text]
        assert not leaked, f"{student}'s feedback shows {leaked}"
    bob = html_lib.unescape((course / "feedback" / "bob" / MOCK / f"{MOCK}.html").read_text())
    assert "a hidden test failed" in bob
    assert not (course / "feedback" / "carol").exists()


def test_student_folder_is_the_release(mock_class, tmp_path):
    course, _, _, _ = mock_class
    out = tmp_path / "student"
    written = classroom.write_student_folder(course, out, keep_existing=True)
    assert [p.name for p in written] == [f"{MOCK}.ipynb"]
    text = written[0].read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "MARK SCHEME" not in text
    written[0].write_text(text.replace("YOUR ANSWER HERE", "mine", 1))
    assert classroom.write_student_folder(course, out, keep_existing=True) == []
    assert "mine" in written[0].read_text()
    shutil.rmtree(out)


def test_student_versions_offline_match_the_markup(toy, tmp_path):
    path, rubrics = toy
    markup.mark_notebook(path, rubrics)
    out = tmp_path / "student"
    written = classroom.write_student_versions(path.parent, out, keep_existing=True)
    nb = nbformat.read(written[0], as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN" not in text and "MARK SCHEME" not in text
    assert "Because." not in text and "raise NotImplementedError()" in text
    assert by_id(nb, "99-ex2-tests").metadata.get("editable") is False  # LockCells
    written[0].write_text(written[0].read_text().replace("YOUR ANSWER HERE", "mine", 1))
    assert classroom.write_student_versions(path.parent, out, keep_existing=True) == []
    assert "mine" in written[0].read_text()
    unmarked = tmp_path / "raw"
    unmarked.mkdir()
    nbformat.write(toy_notebook(), unmarked / "99_toy.ipynb")
    with pytest.raises(classroom.ClassroomError, match="nbgrader_markup"):
        classroom.write_student_versions(unmarked, tmp_path / "other")


def test_student_package_carries_the_data_and_no_solutions(toy, tmp_path):
    path, rubrics = toy
    markup.mark_notebook(path, rubrics)
    out = classroom.write_student_package(tmp_path / "pkg" / "course.zip", path.parent)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        notebook = archive.read("course/notebooks/99_toy.ipynb").decode()
    assert "course/zsl_utils/data.py" in names and "course/pyproject.toml" in names
    assert "course/data/SHA256SUMS" in names
    assert not any("__pycache__" in n for n in names)
    assert "BEGIN SOLUTION" not in notebook and "MARK SCHEME" not in notebook
