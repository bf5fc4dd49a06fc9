"""End-to-end: `reproduce` executes notebooks with papermill (one small kernel run each)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from fhnrnn import reproduce


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
def project(tmp_path: Path) -> Path:
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
