"""The lecture's map of transfer learning, defined once, and its display in every notebook.

The lecture sorts transfer learning by whether the source data and the target data are
labelled (a 2 × 2 map). `METHODS` lists, for each quadrant, the methods the lecture puts there
and the notebooks that teach them. `map_markdown(nb)` returns the map as a Markdown table with
notebook `nb`'s entries in bold and marked "(this notebook)". Every notebook's first cell holds
that table as written by `scripts/update_maps.py` (a test checks it), so that the map reads the
same everywhere, also where nothing is executed. To add a method, add one entry to `METHODS` and
run the script.
"""

from __future__ import annotations

import re

__all__ = ["METHODS", "map_markdown", "with_map"]

NOTEBOOKS = tuple(range(12))

ROWS = ("source data labelled", "source data unlabelled")
COLUMNS = ("target data labelled", "target data unlabelled")

# quadrant (row, column) -> list of (method, notebooks that teach it; empty: not covered yet)
METHODS: dict[tuple[str, str], list[tuple[str, tuple[int, ...]]]] = {
    ("source data labelled", "target data labelled"): [
        ("fine-tuning, conservative training, layer transfer", (1,)),
        ("multitask learning, progressive networks", (2,)),
    ],
    ("source data labelled", "target data unlabelled"): [
        ("domain-adversarial training", (3,)),
        ("zero-shot learning: attributes, DAP", (4,)),
        ("attribute and word-vector embeddings, ESZSL", (5,)),
        ("ConSE", (6,)),
        ("CLIP-style contrastive training", (7,)),
        ("zero-shot translation", (8,)),
        (
            "the zero-shot leaderboard, generative ZSL (CVAE, f-CLSWGAN), visual prototypes, "
            "transductive ZSL",
            (9,),
        ),
        ("the leaderboard at scale: 100 unseen Hangul syllables", (10,)),
    ],
    ("source data unlabelled", "target data labelled"): [
        ("self-taught learning", (11,)),
    ],
    ("source data unlabelled", "target data unlabelled"): [
        ("self-taught clustering", (11,)),
    ],
}


def _check_notebook(notebook) -> int:
    """The notebook number of `notebook` (0..11, "03", "03_domain_adversarial", ...)."""
    valid = ", ".join(f"{n:02d}" for n in NOTEBOOKS)
    number = None
    if isinstance(notebook, int) and not isinstance(notebook, bool):
        number = notebook
    elif isinstance(notebook, str):
        head = notebook.strip().split("_")[0]
        if head.isdigit():
            number = int(head)
    if number not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {notebook!r}; valid notebooks are {valid}")
    return number


def _notebooks_text(numbers: tuple[int, ...]) -> str:
    if not numbers:
        return "not covered yet"
    return ", ".join(f"{n:02d}" for n in numbers)


def _cell(entries, notebook: int) -> str:
    parts = []
    for method, numbers in entries:
        if notebook in numbers:
            others = tuple(n for n in numbers if n != notebook)
            extra = f"; also {_notebooks_text(others)}" if others else ""
            parts.append(f"**{method} (this notebook{extra})**")
        else:
            parts.append(f"{method} ({_notebooks_text(numbers)})")
    return "; ".join(parts) if parts else "—"


def map_markdown(notebook: int | str) -> str:
    """The lecture's map as a Markdown table, with `notebook`'s entries in bold and marked."""
    number = _check_notebook(notebook)
    lines = [
        "| | " + " | ".join(f"**{c}**" for c in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for row in ROWS:
        cells = [_cell(METHODS.get((row, column), []), number) for column in COLUMNS]
        lines.append(f"| **{row}** | " + " | ".join(cells) + " |")
    setup = "the tools and the data that every quadrant uses"
    setup = f"**{setup} (this notebook)**" if number == 0 else f"{setup} (00)"
    return "\n".join(lines) + f"\n\nSet-up: {setup}."


# A map in a notebook's markdown: its header row, the table, and the set-up line if present.
_MAP_BLOCK = re.compile(r"^\| \| \*\*target .*?(?:\n\|.*)*(?:\n\nSet-up: .*)?$", re.M)


def with_map(markdown: str, notebook: int | str) -> str:
    """`markdown` (a notebook's first cell) with its map table replaced by `map_markdown`.

    Raises ValueError when the text holds no map table, or more than one.
    """
    found = _MAP_BLOCK.findall(markdown)
    if len(found) != 1:
        raise ValueError(f"expected one map table in the cell, found {len(found)}")
    return _MAP_BLOCK.sub(lambda _: map_markdown(notebook), markdown)
