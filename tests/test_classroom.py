"""Student versions leak nothing and run; the autograder restores hidden tests and scores."""

import csv
import re

import nbformat
import pytest
from conftest import ROOT, load_script
from nbclient import NotebookClient

classroom = load_script("classroom")
HIDDEN = r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def hidden_lines(nb):
    """The non-blank lines inside hidden-test regions of a notebook."""
    lines = []
    for cell in nb.cells:
        for region in re.findall(HIDDEN, cell.source, re.S):
            lines += [ln.strip() for ln in region.splitlines() if ln.strip()]
    return lines


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    classroom.write_student_versions(ROOT / "notebooks", out)
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_version_leaks_no_solution_hidden_test_or_output(student_dir, path):
    original = nbformat.read(path, as_version=4)
    student = nbformat.read(student_dir / path.name, as_version=4)
    text = "\n".join(cell.source for cell in student.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "HIDDEN TESTS" not in text
    assert hidden_lines(original), f"{path.name} has no hidden tests to protect"
    visible = re.sub(HIDDEN, "", "\n".join(cell.source for cell in original.cells), flags=re.S)
    leaked = [ln for ln in hidden_lines(original) if ln in text and ln not in visible]
    assert not leaked, f"hidden tests leaked: {leaked}"
    assert text.count("raise NotImplementedError()") >= 1
    assert all(
        not cell.get("outputs") and cell.get("execution_count") is None
        for cell in student.cells
        if cell.cell_type == "code"
    )
    assert len(student.cells) == len(original.cells)
    unchanged = [
        (a.source, b.source)
        for a, b in zip(original.cells, student.cells, strict=True)
        if "nbgrader" not in b.metadata
    ]
    assert all(a == b for a, b in unchanged), "cells outside the exercises must stay as they are"


def test_student_notebook_runs_up_to_its_first_exercise(student_dir):
    nb = nbformat.read(student_dir / "00_setup_and_data.ipynb", as_version=4)
    first = next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")
    )
    nb.cells = nb.cells[: first + 2]  # everything before the exercise, its stub and its tests
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    ).execute()
    errors = [
        (i, o.ename)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors == [(first + 1, "NotImplementedError")], errors


def test_a_solution_without_a_test_cell_is_rejected():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
            nbformat.v4.new_markdown_cell("no tests here"),
        ]
    )
    with pytest.raises(classroom.ExerciseMarkupError, match="not followed by a test cell"):
        classroom.mark_exercises(nb, "99_toy")
    with pytest.raises(classroom.ExerciseMarkupError, match="no code exercise"):
        classroom.mark_exercises(nbformat.v4.new_notebook(), "99_toy")


SOLUTION = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
TESTS = (
    "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS\n"
)


@pytest.fixture
def course(tmp_path):
    """A one-notebook course, its student version, and four students' submissions."""
    release = tmp_path / "release"
    release.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import math"),
            nbformat.v4.new_code_cell(SOLUTION),
            nbformat.v4.new_code_cell(TESTS),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, release / "99_toy.ipynb")
    student = classroom.student_version(nb, "99_toy")
    submissions = tmp_path / "submissions"

    def submit(name, solution=None, tests=None):
        copy = nbformat.from_dict(student)
        if solution is not None:
            copy.cells[1].source = solution
        if tests is not None:
            copy.cells[2].source = tests
        (submissions / name).mkdir(parents=True)
        nbformat.write(copy, submissions / name / "99_toy.ipynb")

    submit("alice", solution="def double(x):\n    return x + x\n")
    submit("bob")  # the stub, untouched
    submit("carol", solution="def double(x):\n    return abs(2 * x)\n", tests="pass  # no tests")
    (submissions / "dave").mkdir()  # submitted nothing
    return release, submissions, tmp_path / "grades"


def test_grading_restores_hidden_tests_and_scores_each_student(course):
    release, submissions, out = course
    classroom.grade_submissions(submissions, release, out, timeout=60)
    with open(out / "grades.csv") as handle:
        rows = {r["student"]: r for r in csv.DictReader(handle)}
    assert {s: int(r["points"]) for s, r in rows.items()} == {
        "alice": 1,
        "bob": 0,
        "carol": 0,
        "dave": 0,
    }
    assert rows["alice"]["exercise"] == "99_toy-ex1" and rows["alice"]["max_points"] == "1"
    assert "NotImplementedError" in rows["bob"]["message"]
    assert "AssertionError" in rows["carol"]["message"]  # passes the visible test, not the hidden
    assert rows["dave"]["message"] == "not submitted"
    feedback = (out / "feedback" / "carol.md").read_text()
    assert "Score: 0 / 1" in feedback and "AssertionError" in feedback
    graded = nbformat.read(out / "graded" / "carol" / "99_toy.ipynb", as_version=4)
    assert "BEGIN HIDDEN TESTS" in graded.cells[2].source


def test_grading_reports_bad_input_clearly(course, tmp_path, capsys):
    release, submissions, out = course
    with pytest.raises(FileNotFoundError, match="not a folder"):
        classroom.grade_submissions(tmp_path / "nowhere", release, out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no student folders"):
        classroom.grade_submissions(tmp_path / "empty", release, out)
    assert classroom.main(["grade", str(tmp_path / "nowhere"), "--src", str(release)]) == 2
    assert "not a folder" in capsys.readouterr().err
    (submissions / "erin").mkdir()
    (submissions / "erin" / "99_toy.ipynb").write_text("not json")
    (submissions / "erin" / "notes.ipynb").write_text("{}")
    results = classroom.grade_student(
        submissions / "erin", {"99_toy.ipynb": release / "99_toy.ipynb"}, out, timeout=60
    )
    assert [r.points for r in results] == [0] and "could not be read" in results[0].message


def test_exercises_never_overwrite_a_students_work(tmp_path):
    out = tmp_path / "exercises"
    first = classroom.write_student_versions(ROOT / "notebooks", out, keep_existing=True)
    started = first[0]
    started.write_text(started.read_text().replace("NotImplementedError", "my answer", 1))
    (out / first[1].name).unlink()
    again = classroom.write_student_versions(ROOT / "notebooks", out, keep_existing=True)
    assert again == [out / first[1].name]
    assert "my answer" in started.read_text()
