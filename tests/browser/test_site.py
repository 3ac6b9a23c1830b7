"""The course website (`make site`, build/site/) in headless Chromium.

The built site is served by a local http.server on a free port; Playwright drives Debian's
Chromium (conftest.py). Every page must load without console errors and without asking for
anything outside the site; every same-site link and image must resolve; every lesson shows its
figures and its rendered math; solutions are folded and hidden tests absent; the search page
finds a method by name. Screenshots of the landing page and one lesson land in build/browser/.
`make test-browser` builds the site first; run alone, this file builds it when it is missing.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "site"
SHOTS = ROOT / "build" / "browser"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LESSON_PAGES = [f"notebooks/{p.stem}.html" for p in NOTEBOOKS]
PAGES = ["index.html", *LESSON_PAGES, "data.html", "instructors.html", "search.html"]
SHOWN_LESSON = "06_conse"
SEARCHED_METHOD = "ConSE"
MATH = re.compile(r"\$[^$\n]+\$")
BEGIN_SOLUTION, BEGIN_HIDDEN = "### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(free_port):
    """build/site served on a local port (built first when missing); yields its base URL."""
    if not (SITE / "index.html").exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "build_site.py")], check=True)
    handler = functools.partial(_Quiet, directory=str(SITE))
    server = ThreadingHTTPServer(("127.0.0.1", free_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{free_port}/"
    finally:
        server.shutdown()
        server.server_close()


class _Tags(HTMLParser):
    """The attributes of every tag of a page, and its element ids."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids.add(attrs["id"])


def parse(path: Path) -> _Tags:
    parser = _Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def visit(page, url: str) -> list[str]:
    """Open `url`; return what went wrong: console errors, page errors, failed requests,
    error responses and requests to other hosts."""
    problems: list[str] = []
    base = urlparse(url).netloc
    page.on(
        "console",
        lambda m: m.type == "error" and problems.append(f"console: {m.text} ({m.location})"),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status}: {r.url}"))
    page.on(
        "request",
        lambda r: (
            urlparse(r.url).scheme in ("http", "https")
            and urlparse(r.url).netloc != base
            and problems.append(f"external request: {r.url}")
        ),
    )
    page.goto(url, wait_until="networkidle")
    return problems


def notebook(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)


def image_outputs(nb: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )


def hidden_test_lines(nb: nbformat.NotebookNode) -> list[str]:
    """The substantial lines of the hidden-test regions that appear nowhere else in `nb`."""
    hidden, visible = [], []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if line.strip() == BEGIN_HIDDEN:
                inside = True
            elif line.strip() == "### END HIDDEN TESTS":
                inside = False
            else:
                (hidden if inside else visible).append(line.strip())
    elsewhere = "\n".join(visible)
    return [line for line in hidden if len(line) > 20 and line not in elsewhere]


def solution_lines(nb: nbformat.NotebookNode) -> list[str]:
    for cell in nb.cells:
        if BEGIN_SOLUTION in cell.source:
            region = cell.source.split(BEGIN_SOLUTION, 1)[1].split("### END SOLUTION", 1)[0]
            return [line.strip() for line in region.splitlines() if len(line.strip()) > 15]
    return []


def test_every_page_is_built(site):
    missing = [p for p in PAGES if not (SITE / p).is_file()]
    assert not missing, f"pages missing from {SITE}: {missing}"


def test_no_page_loads_anything_from_outside(site):
    """No <script src>, stylesheet, font, icon or image from another host, in any page."""
    offenders = []
    for path in sorted(SITE.rglob("*.html")):
        for tag, attrs in parse(path).tags:
            url = attrs.get("src") if tag in ("script", "img", "iframe") else None
            if tag == "link" and attrs.get("rel", "") not in ("canonical", "alternate"):
                url = attrs.get("href")
            if url and re.match(r"^(https?:)?//", url):
                offenders.append(f"{path.relative_to(SITE)}: <{tag}> {url}")
    assert not offenders, "\n".join(offenders[:20])


def test_mathjax_is_served_by_the_site(site):
    assert (SITE / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (SITE / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_cleanly_with_its_images_and_links(site, page, name):
    url = urljoin(site, name)
    problems = visit(page, url)
    if name == "search.html":  # the search page fills itself in: give it a query
        problems += visit(page, f"{url}?q={SEARCHED_METHOD}")
    broken_images = page.eval_on_selector_all(
        "img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    assert not broken_images, f"{name}: images that did not load: {broken_images}"
    assert not problems, f"{name}:\n" + "\n".join(problems)
    # Every same-site link resolves, and its #anchor exists on the target page.
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
    for href in sorted(set(hrefs)):
        target, fragment = urldefrag(href)
        if not target.startswith(site):
            continue
        try:
            with urllib.request.urlopen(target, timeout=10) as response:
                assert response.status == 200, f"{name}: {href} answered {response.status}"
        except urllib.error.HTTPError as err:
            pytest.fail(f"{name}: broken link {href} ({err.code})")
        local = SITE / urlparse(target).path.lstrip("/")
        if fragment and local.suffix == ".html":
            assert fragment in parse(local).ids, f"{name}: {href}: no #{fragment} there"


@pytest.mark.parametrize("stem", [p.stem for p in NOTEBOOKS])
def test_lesson_shows_its_figures_and_rendered_math(site, page, stem):
    nb = notebook(stem)
    problems = visit(page, urljoin(site, f"notebooks/{stem}.html"))
    assert not problems, "\n".join(problems)
    figures = image_outputs(nb)  # tests/test_notebooks_hygiene.py: the lessons are executed
    shown = page.eval_on_selector_all(
        ".cell_output img",
        "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0 && i.width > 0).length",
    )
    assert shown == figures, f"{stem}: {shown} figures shown, the notebook has {figures}"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    if MATH.search(markdown):
        page.wait_for_selector("mjx-container", state="attached", timeout=15_000)
        assert page.locator("mjx-container").count() >= len(MATH.findall(markdown)) // 2
        assert page.locator("mjx-merror").count() == 0, f"{stem}: MathJax could not typeset"
    assert page.locator(".math").count() == page.locator(".math mjx-container").count(), (
        f"{stem}: math left untypeset"
    )


@pytest.mark.parametrize("stem", [p.stem for p in NOTEBOOKS])
def test_solution_is_folded_and_hidden_tests_absent(site, page, stem):
    nb = notebook(stem)
    hidden, solution = hidden_test_lines(nb), solution_lines(nb)
    assert hidden and solution, f"{stem}.ipynb: no graded exercise in nbgrader markup"
    visit(page, urljoin(site, f"notebooks/{stem}.html"))
    text = page.evaluate("document.body.textContent")
    for line in hidden:
        assert line not in text, f"{stem}: a hidden test is on the page: {line}"
    assert "HIDDEN TESTS" not in text
    assert solution[0] in text, f"{stem}: the solution is not on the page at all"
    folded = page.locator("div.cell.tag_hide-input", has_text=solution[0])
    assert folded.count() == 1, f"{stem}: the solution cell is not folded"
    code = folded.locator("div.cell_input")
    assert not code.is_visible(), f"{stem}: the solution shows before it is asked for"
    folded.locator("summary").first.click()
    assert code.is_visible(), f"{stem}: the folded solution does not open"
    for source in SITE.rglob(f"{stem}*.ipynb"):  # the page's source and the download
        assert BEGIN_HIDDEN not in source.read_text(encoding="utf-8"), f"hidden tests in {source}"


@pytest.mark.parametrize("index", range(len(NOTEBOOKS)))
def test_lesson_offers_its_notebook_and_neighbours(site, page, index):
    stem = NOTEBOOKS[index].stem
    visit(page, urljoin(site, f"notebooks/{stem}.html"))
    download = page.locator(f"a.download[href$='{stem}.ipynb']")
    assert download.count() == 1, f"{stem}: no download link for the notebook"
    with urllib.request.urlopen(download.evaluate("a => a.href"), timeout=10) as response:
        student = nbformat.reads(response.read().decode(), as_version=4)
    sources = "\n".join(c.source for c in student.cells)
    assert BEGIN_SOLUTION not in sources and BEGIN_HIDDEN not in sources
    assert "raise NotImplementedError" in sources, f"{stem}: the download is not a student copy"
    assert page.locator("a[href$='index.html#start-here']").count() >= 1, "no 'run it locally'"
    if index + 1 < len(NOTEBOOKS):
        following = NOTEBOOKS[index + 1].stem
        assert page.locator(f"a.right-next[href$='{following}.html']").count() == 1
    if index > 0:
        previous = NOTEBOOKS[index - 1].stem
        assert page.locator(f"a.left-prev[href$='{previous}.html']").count() == 1


def test_landing_page_maps_the_course(site, page):
    problems = visit(page, site)
    assert not problems, "\n".join(problems)
    text = page.inner_text("article")
    for needed in ("Who it is for", "target labelled", "Start here", "Syllabus"):
        assert needed in text, f"the landing page lacks {needed!r}"
    for path in NOTEBOOKS:
        assert page.locator(f"article a[href$='notebooks/{path.stem}.html']").count() >= 1
    assert page.locator("article a[href$='data.html']").count() >= 1
    assert page.locator("article a[href$='instructors.html']").count() >= 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "site-landing.png")
    visit(page, urljoin(site, f"notebooks/{SHOWN_LESSON}.html"))
    page.wait_for_selector("mjx-container", state="attached", timeout=15_000)
    page.screenshot(path=SHOTS / f"site-{SHOWN_LESSON}.png")


def test_search_finds_a_method_by_name(site, page):
    problems = visit(page, urljoin(site, f"search.html?q={SEARCHED_METHOD}"))
    page.wait_for_selector("#search-results ul.search li a", timeout=20_000)
    hits = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    assert any(h.split("#")[0].endswith(f"notebooks/{SHOWN_LESSON}.html") for h in hits), hits
    assert not problems, "\n".join(problems)


def test_downloadable_sources_are_notebooks(site):
    """The theme's download button offers the page's .ipynb; it must be a valid notebook."""
    for path in NOTEBOOKS:
        source = SITE / "_sources" / "notebooks" / f"{path.stem}.ipynb"
        assert source.is_file(), f"no downloadable source for {path.stem}"
        nbformat.validate(nbformat.reads(source.read_text(encoding="utf-8"), as_version=4))
        json.loads(source.read_text(encoding="utf-8"))
