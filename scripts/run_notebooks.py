"""Execute the course notebooks headless and print one table of results.

    python scripts/run_notebooks.py --out build/notebooks   # `make run`: committed files untouched
    python scripts/run_notebooks.py --in-place              # `make refresh`: regenerate outputs
    ZSL_SEED=1 python scripts/run_notebooks.py --out build/seed1   # the same at another base seed

Each notebook runs top to bottom in a fresh kernel from the notebooks/ folder. The table
shows its wall time, whether it ran without error, and the line it passed to
`zsl_utils.key_result`. Metadata that changes on every run is normalised away. The kernels see
the base seed in `ZSL_SEED`; `--in-place` always runs base seed 0, the committed outputs.
"""

from __future__ import annotations

import argparse
import csv
import os
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
    if args.out:
        with (args.out / "run_times.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["notebook", "seconds", "status", "key_result"])
            writer.writerows(
                (r.notebook, f"{r.seconds:.1f}", r.status, r.key_result) for r in results
            )
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
