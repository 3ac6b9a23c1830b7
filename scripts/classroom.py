"""Student versions of the course notebooks, and autograding of submitted ones.

    python scripts/classroom.py student [--out build/student]          # `make student`
    python scripts/classroom.py grade SUBMISSIONS [--out build/grades]  # `make grade`

A code exercise is a cell with an nbgrader solution region (`### BEGIN SOLUTION` /
`### END SOLUTION`) followed by its test cell, whose asserts may include a hidden region
(`### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS`). `student` marks these cells with nbgrader
metadata (ids like `01_fine_tuning-ex1`), then runs nbgrader's preprocessors offline: solutions
become stubs that raise NotImplementedError, hidden tests and all outputs are removed.

`grade` expects one folder per student in SUBMISSIONS, holding submitted notebooks under their
release names. It puts the instructor's test cells (hidden tests included) back in place of the
submitted ones, found by their nbgrader id, executes each notebook in a fresh kernel, and
counts an exercise as passed when its test cell runs without error. It writes `grades.csv`
(one row per student, notebook and exercise), `feedback/<student>.md`, and the executed
notebooks under `graded/<student>/`.
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BEGIN_SOLUTION, BEGIN_HIDDEN = "### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"


class ExerciseMarkupError(ValueError):
    """A notebook's exercise cells do not follow the course's nbgrader markup."""


@dataclass
class ExerciseResult:
    student: str
    notebook: str
    exercise: str
    points: int
    max_points: int
    message: str


def _nbgrader_metadata(grade_id: str, *, solution: bool) -> dict:
    return {
        "grade": not solution,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
        "task": False,
        **({} if solution else {"points": 1}),
    }


def mark_exercises(nb: nbformat.NotebookNode, stem: str) -> list[str]:
    """Give every solution cell and the test cell after it nbgrader metadata (in place).

    Returns the ids of the test cells, `<stem>-ex<k>-tests`, in order.
    """
    test_ids = []
    for index, cell in enumerate(nb.cells):
        if BEGIN_SOLUTION not in cell.source:
            continue
        if cell.cell_type != "code":
            raise ExerciseMarkupError(f"{stem}: cell {index} has a solution region but is not code")
        following = nb.cells[index + 1] if index + 1 < len(nb.cells) else None
        if following is None or following.cell_type != "code" or "assert" not in following.source:
            raise ExerciseMarkupError(
                f"{stem}: the solution in cell {index} is not followed by a test cell with asserts"
            )
        grade_id = f"{stem}-ex{len(test_ids) + 1}"
        cell.metadata["nbgrader"] = _nbgrader_metadata(grade_id, solution=True)
        following.metadata["nbgrader"] = _nbgrader_metadata(f"{grade_id}-tests", solution=False)
        test_ids.append(f"{grade_id}-tests")
    if not test_ids:
        raise ExerciseMarkupError(f"{stem}: no code exercise in nbgrader markup")
    return test_ids


def student_version(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """A copy of `nb` with solutions replaced by stubs, hidden tests and outputs removed."""
    student = copy.deepcopy(nb)
    mark_exercises(student, stem)
    resources = {"language": "python"}
    for preprocessor in (ClearSolutions(), ClearHiddenTests(), ClearOutput()):
        student, resources = preprocessor.preprocess(student, resources)
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.execution_count = None
    return student


def release_notebooks(source: Path) -> list[Path]:
    notebooks = sorted(source.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no course notebooks (NN_name.ipynb) in {source}")
    return notebooks


def write_student_versions(source: Path, out: Path, keep_existing: bool = False) -> list[Path]:
    """Write the student version of every notebook in `source` to `out`; return the paths
    written. With `keep_existing`, a notebook already in `out` (a student's work) is left as
    it is."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in release_notebooks(source):
        destination = out / path.name
        if keep_existing and destination.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        nbformat.write(student_version(nb, path.stem), destination)
        written.append(destination)
    return written


def _error_message(cell: nbformat.NotebookNode) -> str | None:
    if cell.get("execution_count") is None:
        return "the test cell did not run (an earlier cell timed out or the kernel died)"
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return f"{output.ename}: {output.evalue}".strip().splitlines()[0][:300]
    return None


def grade_notebook(
    submitted: nbformat.NotebookNode,
    release: nbformat.NotebookNode,
    stem: str,
    *,
    workdir: Path,
    timeout: int,
) -> tuple[nbformat.NotebookNode, dict[str, str | None]]:
    """Execute `submitted` in `workdir` with the release's test cells restored.

    Returns the executed notebook and, for each test id, None if it passed or why it failed.
    """
    instructor = copy.deepcopy(release)
    test_ids = mark_exercises(instructor, stem)
    tests = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in instructor.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    found = {}
    for cell in submitted.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in tests and grade_id not in found:
            cell.cell_type, cell.source = "code", tests[grade_id]
            cell.outputs, cell.execution_count = [], None
            cell.pop("attachments", None)
            found[grade_id] = cell
    client = NotebookClient(
        submitted,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        client.execute()
    except (CellTimeoutError, DeadKernelError) as err:
        print(f"{stem}: execution stopped: {type(err).__name__}")
    verdicts = {}
    for grade_id in test_ids:
        if grade_id not in found:
            verdicts[grade_id] = "the test cell is missing from the submission"
        else:
            verdicts[grade_id] = _error_message(found[grade_id])
    return submitted, verdicts


def grade_student(student_dir: Path, releases: dict[str, Path], out: Path, timeout: int):
    """Grade every release notebook for one student; missing or unreadable ones score 0."""
    results = []
    for name, release_path in releases.items():
        stem = release_path.stem
        release = nbformat.read(release_path, as_version=4)
        test_ids = mark_exercises(copy.deepcopy(release), stem)
        path = student_dir / name
        try:
            submitted = nbformat.read(path, as_version=4)
        except FileNotFoundError:
            verdicts = dict.fromkeys(test_ids, "not submitted")
        except (nbformat.reader.NotJSONError, ValueError) as err:
            verdicts = dict.fromkeys(test_ids, f"the notebook could not be read: {err}"[:300])
        else:
            executed, verdicts = grade_notebook(
                submitted, release, stem, workdir=student_dir, timeout=timeout
            )
            graded = out / "graded" / student_dir.name / name
            graded.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(executed, graded)
        results += [
            ExerciseResult(
                student_dir.name,
                stem,
                grade_id.removesuffix("-tests"),
                int(message is None),
                1,
                message or "passed",
            )
            for grade_id, message in verdicts.items()
        ]
    return results


def write_feedback(results: list[ExerciseResult], out: Path) -> None:
    with open(out / "grades.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "notebook", "exercise", "points", "max_points", "message"])
        for r in results:
            writer.writerow([r.student, r.notebook, r.exercise, r.points, r.max_points, r.message])
    (out / "feedback").mkdir(exist_ok=True)
    for student in sorted({r.student for r in results}):
        mine = [r for r in results if r.student == student]
        lines = [
            f"# Feedback for {student}",
            "",
            f"Score: {sum(r.points for r in mine)} / {sum(r.max_points for r in mine)}",
            "",
            "| notebook | exercise | points | result |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r.notebook} | {r.exercise} | {r.points}/{r.max_points} | "
            f"{r.message.replace('|', '/')} |"
            for r in mine
        ]
        (out / "feedback" / f"{student}.md").write_text("\n".join(lines) + "\n")


def grade_submissions(submissions: Path, source: Path, out: Path, timeout: int = 600):
    """Grade every student folder in `submissions`; write grades and feedback to `out`."""
    if not submissions.is_dir():
        raise FileNotFoundError(f"{submissions} is not a folder of student submissions")
    students = sorted(p for p in submissions.iterdir() if p.is_dir())
    if not students:
        raise FileNotFoundError(f"{submissions} has no student folders (one per student)")
    releases = {p.name: p for p in release_notebooks(source)}
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for student in students:
        if stray := sorted(p.name for p in student.glob("*.ipynb") if p.name not in releases):
            print(f"{student.name}: ignoring notebooks that are not in the course: {stray}")
        mine = grade_student(student, releases, out, timeout)
        print(f"{student.name}: {sum(r.points for r in mine)} / {sum(r.max_points for r in mine)}")
        results += mine
    write_feedback(results, out)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    student = commands.add_parser("student", help="write student versions of the notebooks")
    student.add_argument("--src", type=Path, default=NOTEBOOKS)
    student.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    student.add_argument(
        "--keep-existing", action="store_true", help="never overwrite a notebook already in --out"
    )
    grade = commands.add_parser("grade", help="autograde a folder of submissions")
    grade.add_argument("submissions", type=Path, help="one subfolder of notebooks per student")
    grade.add_argument("--src", type=Path, default=NOTEBOOKS)
    grade.add_argument("--out", type=Path, default=ROOT / "build" / "grades")
    grade.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    try:
        if args.command == "student":
            written = write_student_versions(args.src, args.out, args.keep_existing)
            kept = len(release_notebooks(args.src)) - len(written)
            print(f"wrote {len(written)} student notebooks to {args.out}", end="")
            print(f" (kept {kept} already there)" if kept else "")
        else:
            grade_submissions(args.submissions, args.src, args.out, args.timeout)
            print(f"grades: {args.out / 'grades.csv'}; feedback: {args.out / 'feedback'}")
    except (FileNotFoundError, ExerciseMarkupError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
