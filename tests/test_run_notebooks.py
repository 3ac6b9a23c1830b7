"""The `make run` machinery, on two tiny notebooks: one that works and one that fails."""

import nbformat
from conftest import load_script


def tiny_notebook(path, source):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)
    return path


def test_run_reports_time_status_and_key_result(tmp_path, capsys):
    runner = load_script("run_notebooks")
    good = tiny_notebook(
        tmp_path / "01_good.ipynb", "import zsl_utils as zu\nzu.key_result('answer 42')"
    )
    bad = tiny_notebook(tmp_path / "02_bad.ipynb", "raise RuntimeError('boom')")
    out = tmp_path / "out"
    assert runner.main(["--out", str(out), str(good), str(bad)]) == 1
    table = capsys.readouterr().out
    assert "01_good.ipynb" in table and "answer 42" in table
    assert "FAILED" in table and "boom" in table
    executed = nbformat.read(out / "01_good.ipynb", as_version=4)
    assert executed.cells[0].execution_count == 1
    assert executed.metadata.language_info == {"name": "python"}
    assert "execution" not in executed.cells[0].metadata
    assert (out / "run_times.csv").read_text().startswith("notebook,seconds,status,key_result")
    assert nbformat.read(good, as_version=4).cells[0].execution_count is None  # source untouched


def test_kernels_see_the_base_seed_and_refresh_always_runs_base_zero(tmp_path, monkeypatch):
    runner = load_script("run_notebooks")
    source = "import zsl_utils as zu\nzu.key_result(f'base {zu.base_seed()}')"
    monkeypatch.setenv("ZSL_SEED", "3")
    seen = tiny_notebook(tmp_path / "01_seed.ipynb", source)
    assert runner.main(["--out", str(tmp_path / "out"), str(seen)]) == 0
    assert "base 3" in (tmp_path / "out" / "run_times.csv").read_text()
    assert runner.main(["--in-place", str(seen)]) == 0
    printed = nbformat.read(seen, as_version=4).cells[0].outputs[0]["text"]
    assert "base 0" in printed


def test_progress_widgets_are_not_committed(tmp_path):
    runner = load_script("run_notebooks")
    source = "from tqdm.auto import tqdm\nfor _ in tqdm(range(3)):\n    pass\nprint('done')"
    path = tiny_notebook(tmp_path / "01_bar.ipynb", source)
    executed = runner.execute(nbformat.read(path, as_version=4), tmp_path, timeout=60)
    assert [o for o in executed.cells[0].outputs if runner.WIDGET_VIEW in o.get("data", {})]
    outputs = runner.normalise(executed).cells[0].outputs
    assert not [o for o in outputs if runner.WIDGET_VIEW in o.get("data", {})]
    assert any("done" in o.get("text", "") for o in outputs)


def test_in_place_runs_record_their_times_beside_the_notebooks(tmp_path):
    runner = load_script("run_notebooks")
    first = tiny_notebook(tmp_path / "01_a.ipynb", "print('a')")
    second = tiny_notebook(tmp_path / "02_b.ipynb", "print('b')")
    assert runner.main(["--in-place", str(first), str(second)]) == 0
    assert runner.main(["--in-place", str(second)]) == 0
    times = runner.read_run_times(tmp_path / runner.RUN_TIMES)
    assert sorted(times) == ["01_a.ipynb", "02_b.ipynb"]  # the earlier row is kept
    assert all(row["status"] == "ok" and float(row["seconds"]) > 0 for row in times.values())


def test_readme_rows_get_the_measured_times_and_their_total():
    runner = load_script("run_notebooks")
    readme = (
        "| notebook | topic | time |\n|---|---|---|\n"
        "| `01_a.ipynb` | one | not run |\n| `02_b.ipynb` | two | 40 s |\n"
        "| **all** | | 1 min |\n"
    )
    times = {"01_a.ipynb": {"seconds": "75.4"}, "02_b.ipynb": {"seconds": "104.6"}}
    updated = runner.readme_with_times(readme, times)
    assert "| `01_a.ipynb` | one | 75 s |" in updated
    assert "| `02_b.ipynb` | two | 105 s |" in updated
    assert "| **all** | | 3 min |" in updated
