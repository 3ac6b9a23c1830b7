"""What a notebook reports beyond its own cells.

Introduced in notebook 00: each lesson ends by handing its headline number to
`key_result`, which prints one tagged line that `make run` collects into its table.
"""

from __future__ import annotations

__all__ = ["KEY_RESULT_TAG", "key_result", "find_key_result"]

KEY_RESULT_TAG = "KEY RESULT:"


def key_result(text: str) -> str:
    """Print `text` as this notebook's key result (one line) and return the printed line."""
    text = str(text).strip()
    if not text or "\n" in text:
        raise ValueError("a key result is one non-empty line of text")
    line = f"{KEY_RESULT_TAG} {text}"
    print(line)
    return line


def find_key_result(lines: list[str]) -> str | None:
    """The last key result among printed `lines`, without its tag; None if there is none."""
    found = [
        ln.removeprefix(KEY_RESULT_TAG).strip() for ln in lines if ln.startswith(KEY_RESULT_TAG)
    ]
    return found[-1] if found else None
