"""End-to-end: `reproduce` executes notebooks with papermill (one small kernel run each)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from fhnrnn import reproduce
from fhnrnn._paths import OUTPUT_ROOT_ENV


def _write_notebook(path: Path, body: str) -> None:
    parameters = nbformat.v4.new_code_cell("QUICK = False")
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(body)])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(OUTPUT_ROOT_ENV, raising=False)
    _write_notebook(
        tmp_path / "notebooks" / "01_first.ipynb", "print('quick' if QUICK else 'full')"
    )
    return tmp_path


def _printed(notebook: Path) -> str:
    cell = nbformat.read(notebook, as_version=4).cells[-1]
    return "".join(output.get("text", "") for output in cell.outputs)


def test_full_run_writes_outputs_back_without_papermill_metadata(project: Path) -> None:
    (result,) = reproduce.run(root=project)
    assert result.ok, result.error
    source = project / "notebooks" / "01_first.ipynb"
    assert _printed(source).strip() == "full"
    content = json.loads(source.read_text())
    assert "papermill" not in content["metadata"]
    assert len(content["cells"]) == 2, "a full run must not inject a parameters cell"


def test_quick_run_leaves_the_source_notebook_untouched(project: Path) -> None:
    source = project / "notebooks" / "01_first.ipynb"
    before = source.read_bytes()
    (result,) = reproduce.run(root=project, quick=True)
    assert result.ok, result.error
    assert source.read_bytes() == before
    assert _printed(project / "build" / "quick" / "executed" / "01_first.ipynb").strip() == "quick"


def test_a_failing_notebook_is_reported_and_sets_the_exit_status(project: Path) -> None:
    _write_notebook(project / "notebooks" / "02_broken.ipynb", "raise RuntimeError('boom')")
    results = reproduce.run(root=project, only=["02"])
    assert [item.ok for item in results] == [False]
    assert results[0].error == "RuntimeError: boom", "the failing cell's exception, on one line"
    assert "1 failed" in reproduce.summary(results)
    assert "RuntimeError: boom" in reproduce.summary(results)


FIGURE_THEN_FAIL = """
from fhnrnn.paper import record
from fhnrnn.plotting import save_figure
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
save_figure(fig, "staged")
record("stagedNumber", 1.0, ".1f", source="02")
if not QUICK:
    raise RuntimeError("after the outputs")
"""


def test_a_failing_notebook_leaves_the_papers_files_as_they_were(project: Path) -> None:
    _write_notebook(project / "notebooks" / "02_partial.ipynb", FIGURE_THEN_FAIL)
    (result,) = reproduce.run(root=project, only=["02"])
    assert not result.ok
    assert not (project / "figures").exists()
    assert not (project / "paper").exists()
    source = nbformat.read(project / "notebooks" / "02_partial.ipynb", as_version=4)
    assert not source.cells[-1].outputs, "a failed run must not write its outputs back"


def test_a_successful_notebook_lands_its_figures_and_numbers_together(project: Path) -> None:
    _write_notebook(project / "notebooks" / "02_partial.ipynb", FIGURE_THEN_FAIL)
    (result,) = reproduce.run(root=project, only=["02"], quick=True)
    assert result.ok, result.error
    quick = project / "build" / "quick"
    assert sorted(p.name for p in (quick / "figures").iterdir()) == ["staged.pdf", "staged.png"]
    numbers = json.loads((quick / "paper" / "generated" / "numbers.json").read_text())
    assert numbers["stagedNumber"]["text"] == "1.0"
    assert not list((project / "build").glob("**/.staging-*")), "staging folders are removed"


FIGURE_AND_NUMBER = FIGURE_THEN_FAIL.replace("if not QUICK:", "if False:")


def test_a_full_run_lands_everything_under_fhnrnn_output_root_when_set(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_notebook(project / "notebooks" / "02_done.ipynb", FIGURE_AND_NUMBER)
    source = project / "notebooks" / "02_done.ipynb"
    before = source.read_bytes()
    elsewhere = project / "elsewhere"
    monkeypatch.setenv(OUTPUT_ROOT_ENV, str(elsewhere))
    (result,) = reproduce.run(root=project, only=["02"])
    assert result.ok, result.error
    assert sorted(p.name for p in (elsewhere / "figures").iterdir()) == ["staged.pdf", "staged.png"]
    numbers = json.loads((elsewhere / "paper" / "generated" / "numbers.json").read_text())
    assert numbers["stagedNumber"]["text"] == "1.0"
    assert _printed(elsewhere / "notebooks" / "02_done.ipynb") == ""
    assert "papermill" not in json.loads((elsewhere / "notebooks" / "02_done.ipynb").read_text())
    assert source.read_bytes() == before, "the checkout's notebook is left alone"
    assert not (project / "figures").exists() and not (project / "paper").exists()


def test_outputs_that_cannot_all_be_written_land_not_at_all(project: Path) -> None:
    _write_notebook(project / "notebooks" / "02_done.ipynb", FIGURE_AND_NUMBER)
    source = project / "notebooks" / "02_done.ipynb"
    before = source.read_bytes()
    (project / "figures").mkdir()
    (project / "paper").mkdir()
    (project / "paper" / "generated").write_text("a file where the numbers' folder belongs")
    (result,) = reproduce.run(root=project, only=["02"])
    assert not result.ok
    assert result.error.startswith("outputs not written: ") and "generated" in result.error
    assert not list((project / "figures").iterdir()), "no figure lands without its numbers"
    assert source.read_bytes() == before, "nor the executed notebook"
    assert not list(project.glob("**/.*.tmp")), "temporary files are removed"


def test_a_folder_in_place_of_one_file_stops_every_file_from_landing(tmp_path: Path) -> None:
    from fhnrnn._paths import atomic_write_files

    (tmp_path / "old.txt").write_text("old")
    (tmp_path / "numbers.tex").mkdir()
    with pytest.raises(IsADirectoryError, match=r"numbers\.tex"):
        atomic_write_files({tmp_path / "old.txt": b"new", tmp_path / "numbers.tex": b"x"})
    assert (tmp_path / "old.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["numbers.tex", "old.txt"]


def test_numbers_of_earlier_notebooks_are_kept_when_one_lands(project: Path) -> None:
    from fhnrnn.paper import merge_numbers

    generated = project / "build" / "quick" / "paper" / "generated"
    generated.mkdir(parents=True)
    merge_numbers({"earlier": {"value": 2, "text": "2", "source": "01"}}, generated)
    _write_notebook(project / "notebooks" / "02_partial.ipynb", FIGURE_THEN_FAIL)
    reproduce.run(root=project, only=["02"], quick=True)
    numbers = json.loads((generated / "numbers.json").read_text())
    assert set(numbers) == {"earlier", "stagedNumber"}
    assert "fhnrec@earlier" in (generated / "numbers.tex").read_text()


def test_a_notebook_run_again_drops_the_names_it_no_longer_records(project: Path) -> None:
    from fhnrnn.paper import merge_numbers

    generated = project / "build" / "quick" / "paper" / "generated"
    generated.mkdir(parents=True)
    merge_numbers({"gone": {"value": 1, "text": "1", "source": "03"},
                   "other": {"value": 2, "text": "2", "source": "01"}}, generated)
    _write_notebook(project / "notebooks" / "03_again.ipynb",
                    "from fhnrnn.paper import record\nrecord('fresh', 3, 'd', source='03')")
    (result,) = reproduce.run(root=project, only=["03"], quick=True)
    assert result.ok, result.error
    numbers = json.loads((generated / "numbers.json").read_text())
    assert set(numbers) == {"fresh", "other"}
    assert "fhnrec@gone" not in (generated / "numbers.tex").read_text()


def test_an_interrupt_lands_nothing_and_names_the_notebook(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reproduce, "execute_notebook", interrupted)
    with pytest.raises(reproduce.Interrupted) as stop:
        reproduce.run(root=project)
    assert stop.value.notebook.name == "01_first.ipynb" and stop.value.done == []
    assert not list((project / "build").glob("**/.staging-*"))


def test_main_reports_an_interrupt_in_one_line(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reproduce, "execute_notebook", interrupted)
    monkeypatch.chdir(project)
    (project / "pyproject.toml").write_text("")
    (project / "fhnrnn").mkdir()
    assert reproduce.main([]) == 130
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and "interrupted in 01_first.ipynb" in out


def test_a_folder_without_notebooks_is_an_error_that_says_where_it_looked(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match=f"no numbered notebooks .* in {tmp_path}"):
        reproduce.run(root=tmp_path)
    assert not (tmp_path / "build").exists()


def test_retrain_plans_a_separate_folder_and_ignores_the_shipped_networks(tmp_path: Path) -> None:
    plan = reproduce.plan(tmp_path, retrain=True)
    assert plan.output_root == tmp_path / "build" / "retrain" and not plan.write_back
    assert plan.variables["FHNRNN_RETRAIN"] == "1"
    assert "FHNRNN_REFRESH_ARTIFACTS" not in plan.variables
    refresh = reproduce.plan(tmp_path, retrain=True, refresh=True)
    assert refresh.variables["FHNRNN_REFRESH_ARTIFACTS"] == "1"
    with pytest.raises(ValueError, match="refresh_artifacts needs retrain"):
        reproduce.plan(tmp_path, refresh=True)
    assert all(p.variables["FHNRNN_HEADLESS"] == "1" for p in (plan, refresh))


def test_compare_numbers_lists_every_number_of_both_runs() -> None:
    shipped = {"a": {"value": 2.0, "text": "2.0", "source": "03"},
               "b": {"value": "x", "text": "x", "source": "05"}}
    retrained = {"a": {"value": 3.0, "text": "3.0", "source": "03"},
                 "c": {"value": 1, "text": "1", "source": "06"}}
    rows = reproduce.compare_numbers(shipped, retrained).splitlines()
    assert len(rows) == 4
    assert rows[1].split() == ["a", "03", "2.0", "3.0", "+50%"]
    assert rows[2].split()[-1] == "missing" and rows[3].split()[-1] == "missing"
