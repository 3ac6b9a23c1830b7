"""Execute the course notebooks headless and print one table of results.

    python scripts/run_notebooks.py --out build/notebooks   # `make run`: committed files untouched
    python scripts/run_notebooks.py --in-place              # `make refresh`: regenerate outputs
    ZSL_SEED=1 python scripts/run_notebooks.py --out build/seed1   # the same at another base seed

Each notebook runs top to bottom in a fresh kernel from the notebooks/ folder. The table
shows its wall time, whether it ran without error, and the line it passed to
`zsl_utils.key_result`. Metadata that changes on every run is normalised away. The kernels see
the base seed in `ZSL_SEED`; `--in-place` always runs base seed 0, the committed outputs.

Each run's times go to `run_times.csv` beside the executed notebooks (rows of notebooks not run
this time are kept). `--in-place` on the course's notebooks also writes each time into the
README's syllabus table, so the times the README quotes are the ones measured.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from zsl_utils.report import find_key_result
from zsl_utils.repro import SEED_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
RUN_TIMES = "run_times.csv"
FIELDS = ["notebook", "seconds", "status", "key_result"]
KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


@dataclass
class RunResult:
    notebook: str
    seconds: float
    status: str
    key_result: str


def printed_lines(nb: nbformat.NotebookNode) -> list[str]:
    """Every line the notebook printed to stdout, in order."""
    lines = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                lines += output["text"].splitlines()
    return lines


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what changes from run to run (timings, interpreter version, widget state), and the
    progress-bar widgets: without their state a reader would see bars frozen at 0 %."""
    nb.metadata["kernelspec"] = dict(KERNEL)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
    return nb


def execute(nb: nbformat.NotebookNode, folder: Path, timeout: int) -> nbformat.NotebookNode:
    """Run `nb` top to bottom in a fresh kernel started in `folder`; raise on a failing cell."""
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL["name"],
        resources={"metadata": {"path": str(folder)}},
    )
    return client.execute()


def run_one(path: Path, destination: Path, timeout: int) -> RunResult:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        execute(nb, path.parent, timeout)
        status = "ok"
    except CellExecutionError as err:
        status = "FAILED: " + (str(err).strip().splitlines() or ["error"])[-1][:80]
    seconds = time.perf_counter() - start
    destination.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(normalise(nb), destination)
    return RunResult(path.name, seconds, status, find_key_result(printed_lines(nb)) or "-")


def print_table(results: list[RunResult]) -> None:
    rows = [("notebook", "time (s)", "status", "key result")]
    rows += [(r.notebook, f"{r.seconds:.1f}", r.status, r.key_result) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    rows.insert(1, tuple("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def read_run_times(path: Path) -> dict[str, dict[str, str]]:
    """The rows of a run-times file by notebook name ({} when there is none)."""
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {row["notebook"]: row for row in csv.DictReader(f)}


def record_run_times(path: Path, results: list[RunResult]) -> None:
    """Write these results into `path`, keeping the rows of notebooks not run this time."""
    rows = read_run_times(path)
    for r in results:
        values = (r.notebook, f"{r.seconds:.1f}", r.status, r.key_result)
        rows[r.notebook] = dict(zip(FIELDS, values, strict=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows[name] for name in sorted(rows))


SYLLABUS_ROW = re.compile(r"^(\| `(\d\d_\w+\.ipynb)` \|.*\| )[^|]*( \|)$", re.M)
TOTAL_ROW = re.compile(r"^(\| \*\*all\*\* \|.*\| )[^|]*( \|)$", re.M)


def readme_with_times(readme: str, times: dict[str, dict[str, str]]) -> str:
    """The README with each syllabus row's last cell set to the notebook's measured time."""
    def row_time(match: re.Match) -> str:
        row = times.get(match.group(2))
        measured = f"{float(row['seconds']):.0f} s" if row else "not run"
        return match.group(1) + measured + match.group(3)

    total = sum(float(row["seconds"]) for row in times.values())
    readme = SYLLABUS_ROW.sub(row_time, readme)
    return TOTAL_ROW.sub(lambda m: f"{m.group(1)}{total / 60:.0f} min{m.group(2)}", readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="write executed notebooks to this folder")
    where.add_argument("--in-place", action="store_true", help="overwrite the notebooks")
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to run (default: notebooks/*.ipynb)"
    )
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)

    if args.in_place:
        os.environ[SEED_VARIABLE] = "0"  # kernels inherit it: committed outputs are base seed 0
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if missing := [p for p in paths if not p.is_file()]:
        parser.error(f"no such notebook: {', '.join(map(str, missing))}")
    results = []
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        destination = path if args.in_place else args.out / path.name
        results.append(run_one(path.resolve(), destination, args.timeout))
    print()
    print_table(results)
    folders = [args.out] * len(paths) if args.out else [p.resolve().parent for p in paths]
    for folder in set(folders):
        ran_here = [r for r, f in zip(results, folders, strict=True) if f == folder]
        record_run_times(folder / RUN_TIMES, ran_here)
    if args.in_place and NOTEBOOKS in folders:
        times = read_run_times(NOTEBOOKS / RUN_TIMES)
        README.write_text(readme_with_times(README.read_text(), times))
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
