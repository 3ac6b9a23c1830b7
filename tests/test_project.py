"""The repository's wiring: one source of dependencies, a lock, CI = the README's command."""

import re
import tomllib

import yaml
from conftest import ROOT, load_script
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def locked_versions():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            assert str(req.specifier).startswith("=="), f"not an exact pin: {line}"
            pins[canonicalize_name(req.name)] = req.specifier
    return pins


def test_every_dependency_is_locked_and_satisfied_by_its_pin():
    pins = locked_versions()
    deps = (
        PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"]
    )
    for dep in map(Requirement, deps):
        name = canonicalize_name(dep.name)
        assert name in pins, f"{dep.name} is not in constraints.txt"
        version = str(pins[name]).removeprefix("==")
        assert dep.specifier.contains(version), (
            f"{dep.name} {dep.specifier} excludes locked {version}"
        )


def test_environment_yml_installs_the_same_package():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    (pip_section,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    python = next(d for d in conda if d.startswith("python"))
    version = re.search(r"[\d.]+", python).group()
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(version)
    assert "pip" in conda
    assert conda == [python, "pip"], "dependencies belong in pyproject.toml, installed by pip"
    assert pip_section == ["-c constraints.txt", "-e .[dev]"]


def test_ci_runs_the_readme_test_command_and_a_second_base_seed():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make test-seed ZSL_SEED=" in readme
    commands = [
        ln.strip()
        for ln in (ROOT / ".ci/run").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert "make test" in commands
    (second,) = [c for c in commands if c.startswith("make test-seed")]
    assert re.fullmatch(r"make test-seed ZSL_SEED=[1-9]\d*", second), "a base seed other than 0"
    assert commands.index(second) > commands.index("make test")


def test_makefile_passes_the_base_seed_to_nbval():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest-seed:")[1].split("\n\n")[0]
    assert "ZSL_SEED=$(ZSL_SEED)" in recipe and "--nbval-lax" in recipe


def test_readme_syllabus_lists_every_notebook_with_its_measured_time():
    runner = load_script("run_notebooks")
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\d\d_\w+\.ipynb)` \|.*\| ([^|]*) \|$", readme, re.M))
    on_disk = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert set(rows) == on_disk, "the syllabus table and notebooks/ list different notebooks"
    times = runner.read_run_times(ROOT / "notebooks" / runner.RUN_TIMES)
    assert set(times) == on_disk, "notebooks/run_times.csv misses a notebook: run make refresh"
    assert all(row["status"] == "ok" for row in times.values())
    assert readme == runner.readme_with_times(readme, times), (
        "the README's times differ from notebooks/run_times.csv: run make refresh"
    )


def test_instructors_guide_covers_every_notebook_and_command():
    guide = (ROOT / "INSTRUCTORS.md").read_text()
    commands = ("make student", "make course", "make collect ASSIGNMENT=", "make grade ASSIGNMENT=")
    for command in commands:
        assert command in guide
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"| {path.name[:2]} " in guide, f"{path.name} has no row in INSTRUCTORS.md"
