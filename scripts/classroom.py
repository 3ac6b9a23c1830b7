"""The course's nbgrader workflow: course directory, release, LMS collection, grading.

    python scripts/classroom.py course  [--out build/course] [--roster roster.csv]  # make course
    python scripts/classroom.py student [--out build/student] [--keep-existing]     # make student
    python scripts/classroom.py collect ASSIGNMENT LMS_FOLDER [--course build/course]
    python scripts/classroom.py grade   ASSIGNMENT [--course build/course] [--jobs 2]  # make grade

Every step is nbgrader's own command, run in a subprocess inside a standard nbgrader course
directory (`nbgrader_config.py`, `source/`, `release/`, `submitted/`, `autograded/`,
`feedback/`, `gradebook.db`); one assignment per lesson, named after its notebook
(`04_attribute_zsl_dap`). The committed notebooks are the nbgrader source notebooks: their
metadata comes from `scripts/nbgrader_markup.py`.

- `course` copies each notebook into `source/<name>/`, imports the roster (a CSV with an `id`
  column, as `nbgrader db student import` reads it) and runs `nbgrader generate_assignment`
  into `release/` (solutions, hidden tests, mark schemes and outputs removed, test cells locked).
- `student` writes the same release notebooks offline (nbgrader's preprocessors, no
  gradebook) into one flat folder: `make student`, `make exercises`, the website's downloads.
- `package` zips the student notebooks with `zsl_utils` and its data (no solutions): it runs
  without a clone of the repository.
- `collect` copies an LMS bulk download (one flat folder, or zip files) into
  `downloaded/<assignment>/archive/` and runs `nbgrader zip_collect` with the file-name pattern
  LMS_PATTERN below, into `submitted/<student>/<assignment>/`.
- `grade` runs `nbgrader autograde` for each student of one assignment, `--jobs` students at
  a time, then `nbgrader generate_feedback` (HTML, without hidden tests) and `nbgrader export`
  (grades.csv in the course directory, one row per student and assignment, roster students
  without a submission included with score 0).
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    LockCells,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BIN = Path(sys.executable).parent

# An LMS bulk download renames files: `<student>_<anything numeric>_<notebook>[-N| (N)].ipynb`,
# e.g. Canvas's `smithjane_12345_67890_04_attribute_zsl_dap-1.ipynb` or
# `jdoe_04_attribute_zsl_dap.ipynb`. The student id is everything before the first underscore.
# nbgrader matches it against the file's whole path, hence the optional folder prefix.
LMS_PATTERN = (
    r"(?:.*[/\\])?(?P<student_id>[A-Za-z0-9.\-]+)_(?:[Ll][Aa][Tt][Ee]_)?(?:\d+_)*"
    r"(?P<file_id>\d\d_[A-Za-z0-9_]+?)(?:-\d+| ?\(\d+\))?\.ipynb$"
)

CONFIG = '''"""nbgrader configuration of the course (written by scripts/classroom.py course)."""

import re

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    ClearHiddenTests, ClearMarkScheme, GetGrades, NbGraderPreprocessor
)


class ExplainFailedTests(NbGraderPreprocessor):
    """Feedback shows which visible assert failed, and only that a hidden one did.

    A traceback would quote the failing line of a hidden test, so each error in a test cell
    is replaced by one line: the visible assert that failed, or "a hidden test failed".
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {{}}).get("grade"):
            return cell, resources
        lines, hidden, inside = cell.source.splitlines(), set(), False
        for number, line in enumerate(lines, 1):
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            if inside:
                hidden.add(number)
            if "END HIDDEN TESTS" in line:
                inside = False
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            text = re.sub(r"\\x1b\\[[0-9;]*m", "", "\\n".join(output.get("traceback", [])))
            found = re.findall(r"Cell In\\[\\d*\\], line (\\d+)", text)
            line = int(found[0]) if found else None
            if line is None or line in hidden or line > len(lines):
                where = "a hidden test failed (the visible asserts passed up to it)"
            else:
                where = f"this test failed (line {{line}}): {{lines[line - 1].strip()}}"
            output.traceback = [f"{{output.ename}}: {{output.evalue}}".rstrip(": "), where]
        return cell, resources


c = get_config()  # noqa: F821
c.GenerateFeedback.preprocessors = [
    GetGrades, ExplainFailedTests, ClearHiddenTests, ClearMarkScheme, CSSHTMLHeaderPreprocessor
]
c.CourseDirectory.course_id = "zero-shot-learning"
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_assignments = [dict(name=name) for name in {assignments!r}]
# The LMS bulk download: see LMS_PATTERN in scripts/classroom.py and INSTRUCTORS.md.
c.FileNameCollectorPlugin.named_regexp = {pattern!r}
c.ZipCollectApp.strict = True
# Each cell may run this long when grading (the slowest lesson runs about two minutes).
c.ExecutePreprocessor.timeout = {timeout}
c.Execute.timeout = {timeout}
'''


class ClassroomError(RuntimeError):
    """An nbgrader step failed or its input is missing."""


def assignments(source: Path = NOTEBOOKS) -> list[Path]:
    notebooks = sorted(source.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no course notebooks (NN_name.ipynb) in {source}")
    return notebooks


def nbgrader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` in the course directory (the environment's alembic on PATH)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise ClassroomError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def write_course(
    out: Path,
    source: Path = NOTEBOOKS,
    names: list[str] | None = None,
    roster: Path | None = None,
    timeout: int = 600,
) -> list[str]:
    """Write the course directory, import the roster, release every assignment; return names."""
    notebooks = [p for p in assignments(source) if not names or p.stem in names]
    if names and len(notebooks) != len(names):
        raise FileNotFoundError(f"not all of {names} are notebooks in {source}")
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    stems = [p.stem for p in notebooks]
    (out / "nbgrader_config.py").write_text(
        CONFIG.format(root=str(out), assignments=stems, pattern=LMS_PATTERN, timeout=timeout)
    )
    if roster is not None:
        nbgrader(out, "db", "student", "import", str(roster.resolve()))
    for path in notebooks:
        folder = out / "source" / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, folder / path.name)
        nbgrader(out, "generate_assignment", path.stem, "--force")
    return stems


def student_version(nb, stem: str = ""):
    """A copy of `nb` as `nbgrader generate_assignment` releases it, made offline: test cells
    locked, solutions replaced by stubs, hidden tests, mark schemes and outputs removed."""
    student = copy.deepcopy(nb)
    resources = {"language": "python"}
    for preprocessor in (
        LockCells(),
        ClearSolutions(),
        ClearOutput(),
        ClearHiddenTests(),
        ClearMarkScheme(),
        CheckCellMetadata(),
    ):
        try:
            student, resources = preprocessor.preprocess(student, resources)
        except RuntimeError as err:
            raise ClassroomError(f"{stem}: {err} (run scripts/nbgrader_markup.py)") from err
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.execution_count = None
    return student


def write_student_versions(source: Path, out: Path, keep_existing: bool = False) -> list[Path]:
    """The student version of every notebook in `source`, written to `out` (offline, the same
    preprocessors as `course`); with `keep_existing` a notebook already there (a student's
    work) is kept. Returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in assignments(source):
        destination = out / path.name
        if keep_existing and destination.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        nbformat.write(student_version(nb, path.stem), destination)
        written.append(destination)
    return written


PACKAGE_FILES = ("pyproject.toml", "constraints.txt", "environment.yml", "LICENSE", "Makefile")


def write_student_package(out: Path, source: Path = NOTEBOOKS, root: Path = ROOT) -> Path:
    """A zip that runs without cloning the repository: the student notebooks in notebooks/,
    the package zsl_utils/ and the course data in data/ beside it (where
    `zsl_utils.data.data_dir()` looks, as in a clone), and the files `make env` needs."""
    out.parent.mkdir(parents=True, exist_ok=True)
    top = out.stem
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in assignments(source):
            student = student_version(nbformat.read(path, as_version=4), path.stem)
            archive.writestr(f"{top}/notebooks/{path.name}", nbformat.writes(student))
        for folder in ("zsl_utils", "data"):
            for path in sorted((root / folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, f"{top}/{path.relative_to(root).as_posix()}")
        for name in PACKAGE_FILES:
            if (root / name).is_file():
                archive.write(root / name, f"{top}/{name}")
    return out


def write_student_folder(course: Path, out: Path, keep_existing: bool = False) -> list[Path]:
    """Copy every release notebook of `course` into `out`; a notebook already there is kept
    with `keep_existing` (a student's work). Returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted((course / "release").glob("*/*.ipynb")):
        destination = out / path.name
        if keep_existing and destination.exists():
            continue
        shutil.copy2(path, destination)
        written.append(destination)
    return written


def collect(course: Path, assignment: str, lms_folder: Path) -> list[str]:
    """nbgrader zip_collect from a flat LMS download; return the students collected."""
    if not lms_folder.is_dir():
        raise FileNotFoundError(f"{lms_folder} is not a folder of LMS downloads")
    archive = course / "downloaded" / assignment / "archive"
    if archive.exists():
        shutil.rmtree(archive)
    archive.mkdir(parents=True)
    for path in lms_folder.iterdir():
        if path.is_file():
            shutil.copy2(path, archive / path.name)
    nbgrader(course, "zip_collect", assignment, "--force")
    return sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}"))


def grade(course: Path, assignment: str, jobs: int = 2) -> dict:
    """Autograde every submission of `assignment` (`jobs` at a time), write HTML feedback and
    export grades.csv. Returns timings in seconds."""
    students = sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}"))
    if not students:
        raise FileNotFoundError(f"no submissions of {assignment} in {course / 'submitted'}")
    start = time.perf_counter()

    def autograde(student: str):
        for attempt in range(3):  # the SQLite gradebook may be locked by a parallel writer
            result = nbgrader(
                course,
                "autograde",
                assignment,
                "--student",
                student,
                "--create",
                "--force",
                check=False,
            )
            if result.returncode == 0:
                return
            time.sleep(1 + attempt)
        raise ClassroomError(f"autograde of {student} failed:\n{result.stdout}{result.stderr}")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(autograde, students))
    autograded = time.perf_counter()
    nbgrader(course, "generate_feedback", assignment, "--force")
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    return {
        "students": len(students),
        "autograde_s": autograded - start,
        "total_s": time.perf_counter() - start,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    course = commands.add_parser("course", help="course directory and release/")
    course.add_argument("--src", type=Path, default=NOTEBOOKS)
    course.add_argument("--out", type=Path, default=ROOT / "build" / "course")
    course.add_argument("--roster", type=Path, help="CSV with an id column (nbgrader db import)")
    course.add_argument("--assignment", action="append", help="only these (default: all)")
    course.add_argument("--timeout", type=int, default=600, help="seconds per cell when grading")
    student = commands.add_parser("student", help="the release notebooks in one folder")
    student.add_argument("--src", type=Path, default=NOTEBOOKS)
    student.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    student.add_argument(
        "--keep-existing", action="store_true", help="never overwrite a notebook already in --out"
    )
    package = commands.add_parser("package", help="a zip of the student notebooks with the data")
    package.add_argument("--src", type=Path, default=NOTEBOOKS)
    package.add_argument("--out", type=Path, default=ROOT / "build" / "zsl-course-student.zip")
    collect_ = commands.add_parser("collect", help="nbgrader zip_collect from an LMS download")
    collect_.add_argument("assignment")
    collect_.add_argument("lms_folder", type=Path)
    collect_.add_argument("--course", type=Path, default=ROOT / "build" / "course")
    grade_ = commands.add_parser("grade", help="autograde, feedback and export one assignment")
    grade_.add_argument("assignment")
    grade_.add_argument("--course", type=Path, default=ROOT / "build" / "course")
    grade_.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    try:
        if args.command == "course":
            names = write_course(args.out, args.src, args.assignment, args.roster, args.timeout)
            print(f"released {len(names)} assignments to {args.out / 'release'}")
        elif args.command == "student":
            written = write_student_versions(args.src, args.out, args.keep_existing)
            print(f"wrote {len(written)} student notebooks to {args.out}")
        elif args.command == "package":
            print(f"wrote {write_student_package(args.out, args.src)}")
        elif args.command == "collect":
            students = collect(args.course.resolve(), args.assignment, args.lms_folder)
            print(f"collected {len(students)} students: {', '.join(students)}")
        else:
            times = grade(args.course.resolve(), args.assignment, args.jobs)
            print(
                f"graded {times['students']} students in {times['total_s']:.0f} s; "
                f"grades: {args.course / 'grades.csv'}; feedback: {args.course / 'feedback'}"
            )
    except (FileNotFoundError, ClassroomError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
