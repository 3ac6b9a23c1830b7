"""Write the lecture's map (`zsl_utils.course_map.map_markdown`) into every notebook.

    python scripts/update_maps.py [NOTEBOOK ...]     # default: every notebook in notebooks/

Each notebook's map table (in its first markdown cells) is replaced by the one the package
defines, with that notebook's entries in bold. Only markdown changes; nothing is re-executed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

from zsl_utils.course_map import with_map

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MAP_HEADER = "| | **target"


def map_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The markdown cell among the first three that holds the map table."""
    cells = [c for c in nb.cells[:3] if c.cell_type == "markdown" and MAP_HEADER in c.source]
    if len(cells) != 1:
        raise ValueError(f"expected the map in one of the first three cells, found {len(cells)}")
    return cells[0]


def update(path: Path) -> bool:
    """Rewrite `path`'s map; True when it changed."""
    nb = nbformat.read(path, as_version=4)
    cell = map_cell(nb)
    new = with_map(cell.source, path.name)
    if new == cell.source:
        return False
    cell.source = new
    nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    paths = parser.parse_args(argv).notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"{path.name}: {'updated' if update(path) else 'unchanged'}")


if __name__ == "__main__":
    main()
