"""Regenerate the notebooks, figures and numbers with papermill.

``python -m fhnrnn reproduce`` executes every numbered notebook in ``notebooks/`` in order,
with the kernel ``python3`` and ``notebooks/`` as working folder.

* A full run executes each notebook unchanged (no injected parameters) into
  ``build/executed/`` and then copies the executed notebook, stripped of papermill's
  timing metadata, back over ``notebooks/NAME.ipynb``: the committed notebooks carry the
  outputs of the full run.
* ``--quick`` injects ``QUICK = True`` into each notebook's ``parameters`` cell, writes the
  executed copies to ``build/quick/executed/`` and redirects figures and numbers to
  ``build/quick/``: a smoke run never touches the paper's files or the source notebooks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fhnrnn._paths import OUTPUT_ROOT_ENV, atomic_write_text, project_root

_NOTEBOOK = re.compile(r"^(\d\d)_.+\.ipynb$")


@dataclass(frozen=True)
class NotebookRun:
    """Outcome of executing one notebook."""

    notebook: Path
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def numbered_notebooks(folder: Path) -> list[Path]:
    """The notebooks ``NN_name.ipynb`` in ``folder``, in order."""
    return sorted(p for p in folder.glob("*.ipynb") if _NOTEBOOK.match(p.name))


def select_notebooks(notebooks: Sequence[Path], only: Sequence[str] | None) -> list[Path]:
    """Keep the notebooks whose two-digit prefix is in ``only`` (all when ``only`` is empty).

    Raises
    ------
    ValueError
        If ``only`` names a prefix that no notebook has, or two notebooks share a prefix.
    """
    if not only:
        return list(notebooks)
    by_prefix: dict[str, Path] = {}
    for notebook in notebooks:
        if notebook.name[:2] in by_prefix:
            raise ValueError(
                f"notebooks {by_prefix[notebook.name[:2]].name} and {notebook.name} share the "
                f"prefix {notebook.name[:2]}; give each notebook its own number"
            )
        by_prefix[notebook.name[:2]] = notebook
    wanted = [str(item).zfill(2) for item in only]
    missing = [item for item in wanted if item not in by_prefix]
    if missing:
        raise ValueError(
            f"only: no notebook with prefix {', '.join(missing)}; "
            f"available: {', '.join(sorted(by_prefix))}"
        )
    return [by_prefix[item] for item in sorted(set(wanted))]


def strip_papermill_metadata(notebook_json: dict) -> dict:
    """Remove papermill's per-run metadata (timings, status) from a notebook dictionary."""
    notebook_json.get("metadata", {}).pop("papermill", None)
    for cell in notebook_json.get("cells", []):
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    return notebook_json


def execute_notebook(notebook: Path, output: Path, quick: bool = False) -> NotebookRun:
    """Execute ``notebook`` with papermill into ``output``, in the notebook's own folder.

    Parameters
    ----------
    notebook, output : Path
        The source notebook and where the executed copy goes.
    quick : bool
        Inject ``QUICK = True`` into the notebook's parameters cell.

    Returns
    -------
    NotebookRun
        The wall-clock time and, for a failed run, one line naming the error.
    """
    import papermill

    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters={"QUICK": True} if quick else None,
            kernel_name="python3",
            cwd=str(notebook.parent),
            progress_bar=False,
        )
    except Exception as exc:  # a failed notebook is reported in the summary, not raised
        return NotebookRun(notebook, time.perf_counter() - start, describe_error(exc))
    return NotebookRun(notebook, time.perf_counter() - start)


def describe_error(exc: Exception) -> str:
    """One line naming an error; for a failed notebook, the exception raised in its cell.

    papermill's own message starts with a blank line, so its first line says nothing; the
    name and value of the cell's exception (``ename``, ``evalue``) do.
    """
    name = getattr(exc, "ename", type(exc).__name__)
    value = str(getattr(exc, "evalue", exc)).strip()
    return f"{name}: {value}".splitlines()[0][:200]


def _write_back(executed: Path, source: Path) -> None:
    content = strip_papermill_metadata(json.loads(executed.read_text(encoding="utf-8")))
    atomic_write_text(source, json.dumps(content, indent=1, ensure_ascii=False) + "\n")


@contextmanager
def _output_root_redirected(folder: Path | None) -> Iterator[None]:
    """Point the kernels' figures and numbers at ``folder`` for the duration (no-op for None)."""
    previous = os.environ.get(OUTPUT_ROOT_ENV)
    if folder is not None:
        os.environ[OUTPUT_ROOT_ENV] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(OUTPUT_ROOT_ENV, None)
        else:
            os.environ[OUTPUT_ROOT_ENV] = previous


def run(
    only: Sequence[str] | None = None, quick: bool = False, root: Path | None = None
) -> list[NotebookRun]:
    """Execute the selected notebooks in order and return one :class:`NotebookRun` each."""
    from tqdm.auto import tqdm

    root = root or project_root()
    notebooks = select_notebooks(numbered_notebooks(root / "notebooks"), only)
    build = root / "build" / ("quick" if quick else "")
    executed_dir = build / "executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with _output_root_redirected(build if quick else None):
        for notebook in (bar := tqdm(notebooks, desc="notebooks", unit="nb")):
            bar.set_postfix_str(notebook.name)
            result = execute_notebook(notebook, executed_dir / notebook.name, quick)
            if result.ok and not quick:
                _write_back(executed_dir / notebook.name, notebook)
            results.append(result)
    return results


def summary(results: Sequence[NotebookRun]) -> str:
    """A table of notebooks, seconds and status."""
    lines = [f"{'notebook':<40} {'seconds':>8}  status"]
    for item in results:
        status = "ok" if item.ok else f"FAILED: {item.error.splitlines()[0][:200]}"
        lines.append(f"{item.notebook.name:<40} {item.seconds:>8.1f}  {status}")
    total = sum(item.seconds for item in results)
    failed = sum(not item.ok for item in results)
    lines.append(f"{'total':<40} {total:>8.1f}  {len(results) - failed} ok, {failed} failed")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``python -m fhnrnn reproduce``."""
    parser = argparse.ArgumentParser(
        prog="python -m fhnrnn reproduce", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run with QUICK=True; outputs go to build/quick/"
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NN", help="two-digit prefixes of the notebooks to run"
    )
    args = parser.parse_args(argv)
    try:
        results = run(only=args.only, quick=args.quick)
    except ValueError as exc:
        parser.error(str(exc))
    print(summary(results))
    return 0 if all(item.ok for item in results) else 1
