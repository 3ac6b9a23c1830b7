"""The course website: a static HTML site of the committed, executed notebooks (`make site`).

    python scripts/build_site.py [--out build/site]

Nothing is re-executed: the pages show the outputs committed in notebooks/. The script stages
the site's sources in build/site-src/ and runs Sphinx (myst-nb, sphinx-book-theme) with the
configuration in scripts/site/. The committed files are never modified; on the staged copies

- the landing page is README.md's introduction, syllabus, "Start here" and data sections, with
  links rewritten to the site's pages; data/README.md and INSTRUCTORS.md become pages too;
- each graded exercise's solution cell is folded (shown on request), and every hidden-test
  region (`### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS`) is removed;
- each lesson links to its student version (no solutions, no hidden tests, no outputs: what
  `make exercises` writes) for download, and to README's "Start here" for running it locally.

MathJax is served from the site itself (the sphinx-mathjax-offline package), so the pages load
nothing from the network.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "scripts" / "site"
NOTEBOOKS = ROOT / "notebooks"
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# The instructor's rubric of a conceptual or experimental exercise (scripts/nbgrader_markup.py)
BEGIN_MARK_SCHEME, END_MARK_SCHEME = "=== BEGIN MARK SCHEME ===", "=== END MARK SCHEME ==="
# README sections shown on the landing page, in this order (level-2 headings).
LANDING_SECTIONS = ("Syllabus", "Start here", "Data and licences")
# Repository files that are pages of the site, by their path in the repository.
SITE_PAGES = {
    "README.md": "index.md",
    "data/README.md": "data.md",
    "INSTRUCTORS.md": "instructors.md",
}
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def _classroom():
    """scripts/classroom.py, which makes the student versions (`make exercises`)."""
    spec = importlib.util.spec_from_file_location("classroom", ROOT / "scripts" / "classroom.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("classroom", module)
    spec.loader.exec_module(module)
    return module


def lesson_notebooks(source: Path = NOTEBOOKS) -> list[Path]:
    """The course's lessons, NN_topic.ipynb, in order."""
    notebooks = sorted(source.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no course notebooks (NN_topic.ipynb) in {source}")
    return notebooks


def strip_region(source: str, begin: str, end: str) -> str:
    """`source` without the lines from `begin` to `end` (both markers included)."""
    kept, inside = [], False
    for line in source.splitlines(keepends=True):
        marker = line.strip()
        if marker == begin:
            inside = True
        elif marker == end:
            if not inside:
                raise ValueError(f"{end!r} without {begin!r}")
            inside = False
        elif not inside:
            kept.append(line)
    if inside:
        raise ValueError(f"{begin!r} without {end!r}")
    return "".join(kept).rstrip("\n")


def drop_marker_lines(source: str, *markers: str) -> str:
    return "".join(
        line for line in source.splitlines(keepends=True) if line.strip() not in markers
    ).rstrip("\n")


def site_version(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """The lesson as the site shows it: solutions folded, hidden tests removed, and a line
    under the title linking to the student version and to how to run it locally."""
    site = copy.deepcopy(nb)
    for cell in site.cells:
        if cell.cell_type == "markdown" and BEGIN_MARK_SCHEME in cell.source:
            cell.source = strip_region(cell.source, BEGIN_MARK_SCHEME, END_MARK_SCHEME).rstrip()
        if cell.cell_type != "code":
            continue
        if BEGIN_HIDDEN in cell.source:
            cell.source = strip_region(cell.source, BEGIN_HIDDEN, END_HIDDEN)
        if BEGIN_SOLUTION in cell.source:
            cell.source = drop_marker_lines(cell.source, BEGIN_SOLUTION, END_SOLUTION)
            tags = cell.metadata.setdefault("tags", [])
            if "hide-input" not in tags:
                tags.append("hide-input")
            cell.metadata["mystnb"] = {
                "code_prompt_show": "Show the solution",
                "code_prompt_hide": "Hide the solution",
            }
    note = nbformat.v4.new_markdown_cell(
        f"{{download}}`Download this notebook <../downloads/{stem}.ipynb>` (the exercises "
        "without their solutions) and run it in the course environment: see "
        "[Start here](../index.md#start-here)."
    )
    note.id = "site-download"
    first_title = next(
        (i for i, c in enumerate(site.cells) if c.cell_type == "markdown" and "# " in c.source),
        -1,
    )
    site.cells.insert(first_title + 1, note)
    return site


def _split_sections(markdown: str) -> tuple[str, dict[str, str]]:
    """README text before its first level-2 heading, and each level-2 section by title."""
    parts = re.split(r"(?m)^## ", markdown)
    sections = {}
    for part in parts[1:]:
        title, _, _body = part.partition("\n")
        sections[title.strip()] = "## " + part
    return parts[0], sections


def rewrite_links(markdown: str, page: str) -> str:
    """Point links to repository files at the site's pages; a link to a file the site does not
    publish becomes the file's name in code. `page` is the repository path of the text."""
    base = Path(page).parent

    def target(match: re.Match) -> str:
        text, href = match.group(1), match.group(2)
        if re.match(r"^[a-z]+:|^#", href):
            return match.group(0)
        path, _, anchor = href.partition("#")
        resolved = posixpath.normpath((base / path).as_posix())
        anchor = f"#{anchor}" if anchor else ""
        if resolved in SITE_PAGES:
            return f"[{text}]({SITE_PAGES[resolved]}{anchor})"
        if re.fullmatch(r"notebooks/\d\d_\w+\.ipynb", resolved):
            return f"[{text}]({resolved}{anchor})"
        return text if text.startswith("`") else f"{text} (`{resolved}`)"

    return LINK.sub(target, markdown)


def link_notebook_names(markdown: str) -> str:
    """`NN_topic.ipynb`, `data/README.md` or `INSTRUCTORS.md` written in code (outside links
    and code blocks) becomes a link to its page."""

    def page(match: re.Match) -> str:
        name = match.group(1)
        href = SITE_PAGES.get(name) or f"notebooks/{Path(name).name}"
        return f"[`{name}`]({href})"

    pages = "|".join(re.escape(p) for p in SITE_PAGES if p != "README.md")
    pattern = rf"(?<!\[)`((?:notebooks/)?\d\d_\w+\.ipynb|{pages})`(?!\])"
    chunks = re.split(r"(?ms)(^```.*?^```)", markdown)
    return "".join(c if c.startswith("```") else re.sub(pattern, page, c) for c in chunks)


def landing_page(readme: str, lessons: list[Path]) -> str:
    intro, sections = _split_sections(rewrite_links(readme, "README.md"))
    missing = [s for s in LANDING_SECTIONS if s not in sections]
    if missing:
        raise ValueError(f"README.md has no section {missing}: the landing page needs it")
    body = [intro.rstrip(), ""]
    for title in LANDING_SECTIONS:
        body += [link_notebook_names(sections[title].rstrip()), ""]
    body += [
        "## On this site",
        "",
        "Every lesson is shown with the outputs it printed when it was last executed at base "
        "seed 0. The solutions of the graded exercises are folded: open them once you have "
        "tried. Each lesson page links to its notebook without solutions, to run in the "
        "course environment (see *Start here*). The [data](data.md) and "
        "[instructors'](instructors.md) pages complete it.",
        "",
        "```{toctree}",
        ":caption: Lessons",
        ":hidden:",
        "",
        *[f"notebooks/{p.stem}" for p in lessons],
        "```",
        "",
        "```{toctree}",
        ":caption: About the course",
        ":hidden:",
        "",
        "data",
        "instructors",
        "```",
        "",
    ]
    return "\n".join(body)


def stage(src: Path) -> list[Path]:
    """Write the site's sources to `src` (emptied first); return the lessons staged."""
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    (src / "downloads").mkdir()
    classroom = _classroom()
    lessons = lesson_notebooks()
    for path in lessons:
        nb = nbformat.read(path, as_version=4)
        nbformat.write(site_version(nb, path.stem), src / "notebooks" / path.name)
        nbformat.write(classroom.student_version(nb, path.stem), src / "downloads" / path.name)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (src / "index.md").write_text(landing_page(readme, lessons), encoding="utf-8")
    for repo_path, page in SITE_PAGES.items():
        if page == "index.md":
            continue
        text = (ROOT / repo_path).read_text(encoding="utf-8")
        (src / page).write_text(link_notebook_names(rewrite_links(text, repo_path)), "utf-8")
    return lessons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--src", type=Path, default=ROOT / "build" / "site-src")
    args = parser.parse_args(argv)
    lessons = stage(args.src)
    if args.out.exists():  # no page of a renamed or removed notebook survives
        shutil.rmtree(args.out)
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-q",
        "-E",
        "-c",
        str(CONF_DIR),
        str(args.src),
        str(args.out),
    ]
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode == 0:
        print(f"site with {len(lessons)} lessons in {args.out} (open {args.out / 'index.html'})")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
