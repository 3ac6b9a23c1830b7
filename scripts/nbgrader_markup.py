"""Give the course notebooks consistent nbgrader metadata, in place, idempotently.

    python scripts/nbgrader_markup.py notebooks/*.ipynb [--rubrics DIR]

Ids (stable, one set per notebook `NN_topic.ipynb`, exercise number K from the notebook's
numbered list under "## Exercises"):

- `NN-exK`: the answer of exercise K. For a code exercise, the code cell with the solution
  region (nbgrader "autograded answer"); for a conceptual or experimental exercise, a markdown
  cell after the exercise holding the model answer (nbgrader "manually graded answer", with
  the exercise's points).
- `NN-exK-tests`: the test cell of a code exercise (nbgrader "autograder tests", locked, with
  the exercise's points).
- `NN-exK-task`: the exercise's own markdown cell for a conceptual or experimental exercise,
  locked, 0 points, holding the instructor's rubric between `=== BEGIN MARK SCHEME ===` and
  `=== END MARK SCHEME ===` (removed from student versions by nbgrader's ClearMarkScheme).

With `--rubrics DIR`, the exercise list is split into one markdown cell per exercise and the
answer cells are inserted, from DIR/NN.json (a list of {"exercise", "kind", "points",
"rubric", "model_answer"}). After that the notebooks are the source of truth: running again
(with or without `--rubrics`) only renormalises metadata, keeping the points it finds. Code
cells' sources are never changed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

EXERCISES = "## Exercises"
ITEM = re.compile(r"(?m)^(\d+)\. \*\*(\w+)")
BEGIN_SOLUTION = "### BEGIN SOLUTION"
MARK_SCHEME = "=== BEGIN MARK SCHEME ===\n\n{rubric}\n\n=== END MARK SCHEME ==="


class MarkupError(ValueError):
    """A notebook's exercises cannot be given consistent nbgrader metadata."""


def nbgrader_meta(grade_id, *, grade, solution, locked, task=False, points=None) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": task,
    }
    if grade or task:
        meta["points"] = points if points is not None else 0
    return meta


def prefix(path: Path) -> str:
    match = re.match(r"(\d\d)_", path.name)
    if not match:
        raise MarkupError(f"{path.name}: a course notebook is named NN_topic.ipynb")
    return match.group(1)


def exercise_items(text: str) -> list[tuple[int, str, str]]:
    """(number, kind, text) of each numbered item of an exercise list (kind lowercased)."""
    starts = list(ITEM.finditer(text))
    items = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        items.append((int(m.group(1)), m.group(2).lower(), text[m.start() : end].rstrip()))
    return items


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def split_and_insert(nb, nn: str, rubrics: list[dict]) -> None:
    """Split the exercise list into one cell per exercise; insert answer cells (in place)."""
    by_number = {int(r["exercise"]): r for r in rubrics}
    index = next(
        (i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and EXERCISES in c.source),
        None,
    )
    if index is None:
        raise MarkupError(f"{nn}: no '{EXERCISES}' section")
    cell = nb.cells[index]
    before, _, section = cell.source.partition(EXERCISES)
    items = exercise_items(section)
    if not items:
        raise MarkupError(f"{nn}: the exercise list has no numbered items")
    intro = EXERCISES + section[: section.index(items[0][2])].rstrip()
    new_cells = []
    if before.strip():
        cell.source = before.rstrip()
        new_cells += [cell, nbformat.v4.new_markdown_cell(intro)]
        new_cells[-1].id = f"{nn}-exercises"
    else:
        cell.source = intro
        new_cells.append(cell)
    for number, kind, text in items:
        item = nbformat.v4.new_markdown_cell(text)
        item.id = f"{nn}-ex{number}-text"
        new_cells.append(item)
        if kind == "code":
            continue
        rubric = by_number.get(number)
        if rubric is None:
            raise MarkupError(f"{nn}: no rubric for exercise {number} ({kind})")
        if rubric.get("kind", kind) != kind:
            raise MarkupError(
                f"{nn}: exercise {number} is {kind} here, {rubric['kind']} in the rubric"
            )
        item.source = text + "\n\n" + MARK_SCHEME.format(rubric=rubric["rubric"].strip())
        item.metadata["nbgrader"] = nbgrader_meta(
            f"{nn}-ex{number}-task", grade=False, solution=False, locked=True, task=True, points=0
        )
        answer = nbformat.v4.new_markdown_cell(rubric["model_answer"].strip())
        answer.id = f"{nn}-ex{number}-answer"
        answer.metadata["nbgrader"] = nbgrader_meta(
            f"{nn}-ex{number}",
            grade=True,
            solution=True,
            locked=False,
            points=int(rubric["points"]),
        )
        new_cells.append(answer)
    nb.cells[index : index + 1] = new_cells


def code_exercise_numbers(nb) -> list[int]:
    numbers = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not cell.metadata.get("nbgrader", {}).get("solution"):
            text = cell.source.split("=== BEGIN MARK SCHEME")[0]
            for number, kind, _ in exercise_items(text):
                if kind == "code":
                    numbers.append(number)
    return numbers


def mark_code_exercises(nb, nn: str, rubrics: list[dict] | None) -> None:
    """Solution cells `NN-exK`, their test cells `NN-exK-tests` with points (in place)."""
    solutions = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and BEGIN_SOLUTION in c.source
    ]
    numbers = code_exercise_numbers(nb)
    if len(numbers) != len(solutions):
        raise MarkupError(
            f"{nn}: {len(solutions)} solution cells but {len(numbers)} code "
            "exercises in the exercise list"
        )
    points_from_rubric = {
        int(r["exercise"]): int(r["points"]) for r in rubrics or [] if r.get("kind") == "code"
    }
    for number, index in zip(numbers, solutions, strict=True):
        test = nb.cells[index + 1] if index + 1 < len(nb.cells) else None
        if test is None or test.cell_type != "code" or "assert" not in test.source:
            raise MarkupError(f"{nn}: exercise {number}'s solution is not followed by a test cell")
        grade_id = f"{nn}-ex{number}"
        old = test.metadata.get("nbgrader", {})
        points = points_from_rubric.get(number)
        if points is None:
            points = old.get("points", 1) if old.get("grade_id") == f"{grade_id}-tests" else 1
        nb.cells[index].metadata["nbgrader"] = nbgrader_meta(
            grade_id, grade=False, solution=True, locked=False
        )
        test.metadata["nbgrader"] = nbgrader_meta(
            f"{grade_id}-tests", grade=True, solution=False, locked=True, points=points
        )


def is_split(nb, nn: str) -> bool:
    return any(
        (_grade_id(c) or "").startswith(f"{nn}-ex") and c.cell_type == "markdown" for c in nb.cells
    )


def mark_notebook(path: Path, rubrics_dir: Path | None = None) -> nbformat.NotebookNode:
    """Rewrite `path` with consistent nbgrader metadata; return the notebook."""
    nn = prefix(path)
    nb = nbformat.read(path, as_version=4)
    rubrics = None
    if rubrics_dir is not None:
        rubrics = json.loads((rubrics_dir / f"{nn}.json").read_text())
    if not is_split(nb, nn):
        if rubrics is None:
            raise MarkupError(f"{path.name}: answer cells are not inserted yet; pass --rubrics")
        split_and_insert(nb, nn, rubrics)
    mark_code_exercises(nb, nn, rubrics if rubrics_dir is not None and rubrics else None)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--rubrics", type=Path, help="folder of NN.json rubrics (first run)")
    args = parser.parse_args(argv)
    try:
        for path in args.notebooks:
            nb = mark_notebook(path, args.rubrics)
            ids = [_grade_id(c) for c in nb.cells if _grade_id(c)]
            print(f"{path.name}: {', '.join(ids)}")
    except (MarkupError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
