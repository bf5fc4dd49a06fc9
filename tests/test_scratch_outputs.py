"""A notebook run by hand (no FHNRNN_OUTPUT_ROOT) writes to build/scratch/, never over the paper."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from fhnrnn._paths import OUTPUT_ROOT_ENV

ROOT = Path(__file__).resolve().parents[1]

# What a "Try it" does: draw and save a figure the paper uses, record a number it quotes.
TRY_IT_CELLS = [
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    "from fhnrnn.paper import record\nfrom fhnrnn.plotting import save_figure",
    "fig, ax = plt.subplots()\nax.plot([0, 1], [1, 0])\nsave_figure(fig, 'fhn_phase_plane')",
    "record('restingVoltage', -1.5, '.2f', source='01')",
]


def _git(checkout: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, cwd=checkout, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A committed checkout with the paper's figure and number already in it."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'fhnrnn'\n")
    (tmp_path / "fhnrnn").mkdir()
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "fhn_phase_plane.png").write_bytes(b"the committed figure")
    (tmp_path / "paper" / "generated").mkdir(parents=True)
    committed = {"restingVoltage": {"value": -1.2, "text": "-1.20", "source": "01"}}
    (tmp_path / "paper" / "generated" / "numbers.json").write_text(json.dumps(committed))
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(cell) for cell in TRY_IT_CELLS]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    (tmp_path / "notebooks").mkdir()
    nbformat.write(notebook, tmp_path / "notebooks" / "01_try.ipynb")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "committed")
    return tmp_path


def test_a_notebook_run_by_hand_leaves_git_status_clean(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(OUTPUT_ROOT_ENV, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout's package
    notebook = nbformat.read(checkout / "notebooks" / "01_try.ipynb", as_version=4)
    client = NotebookClient(
        notebook, kernel_name="python3", resources={"metadata": {"path": checkout / "notebooks"}}
    )
    client.execute()
    assert _git(checkout, "status", "--porcelain") == ""
    scratch = checkout / "build" / "scratch"
    assert (scratch / "figures" / "fhn_phase_plane.png").read_bytes().startswith(b"\x89PNG")
    numbers = json.loads((scratch / "paper" / "generated" / "numbers.json").read_text())
    assert numbers["restingVoltage"]["text"] == "-1.50"


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
def test_every_notebook_says_near_its_top_where_a_run_by_hand_writes(notebook: Path) -> None:
    cells = nbformat.read(notebook, as_version=4).cells[:3]
    notes = [cell.source for cell in cells if cell.cell_type == "markdown"]
    assert any("`build/scratch/`" in note for note in notes), notebook.name
