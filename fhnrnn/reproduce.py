"""Regenerate the notebooks, figures and numbers with papermill.

``python -m fhnrnn reproduce`` executes every numbered notebook in ``notebooks/`` in order,
with the kernel ``python3`` and ``notebooks/`` as working folder.

* A full run executes each notebook unchanged (no injected parameters) into
  ``build/executed/``. The notebook's figures and numbers go to a staging folder first; only
  when the whole notebook has run do they land in ``figures/`` and ``paper/generated/``,
  together with the executed notebook (stripped of papermill's timing metadata) over
  ``notebooks/NAME.ipynb``, all or nothing: a notebook that fails or is interrupted, or
  whose files cannot all be written, leaves every file of the paper as it was. These folders
  lie in the checkout, or under ``FHNRNN_OUTPUT_ROOT`` when that is set (the checkout is then
  left alone).
* ``--quick`` injects ``QUICK = True`` into each notebook's ``parameters`` cell, writes the
  executed copies to ``build/quick/executed/`` and the figures and numbers to
  ``build/quick/``: a smoke run never touches the paper's files or the source notebooks.
* ``--retrain`` ignores the shipped networks (:mod:`fhnrnn.artifacts`) and trains every
  network anew (cache ``build/retrain/cache``), writes everything under ``build/retrain/``,
  and prints every recorded number of the shipped run beside the retrained one. With
  ``--refresh-artifacts`` the new networks also replace the shipped ones, on purpose.

Every kernel runs with ``FHNRNN_HEADLESS=1``, which the notebooks' interactive explorers read:
a headless run never waits on a widget.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fhnrnn._paths import CACHE_DIR_ENV, OUTPUT_ROOT_ENV, atomic_write_files, project_root
from fhnrnn.paper import load_numbers, merge_numbers

HEADLESS_ENV = "FHNRNN_HEADLESS"

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


def _without_papermill(executed: Path) -> bytes:
    """The executed notebook's bytes as committed: papermill's metadata stripped."""
    content = strip_papermill_metadata(json.loads(executed.read_text(encoding="utf-8")))
    return (json.dumps(content, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


@contextmanager
def environment(**variables: str) -> Iterator[None]:
    """Set environment variables (inherited by the kernels) for the duration."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class Plan:
    """Where a run writes and what it sets.

    Attributes
    ----------
    build : Path
        Folder of the executed notebooks (``build/``, ``build/quick/``, ``build/retrain/``).
    output_root : Path
        Where the figures and numbers land.
    write_back : bool
        Land the executed notebooks as ``output_root/notebooks/NAME.ipynb`` (full runs only;
        over the sources when ``output_root`` is the checkout).
    quick : bool
        Inject ``QUICK = True``.
    variables : dict
        Environment of the kernels.
    """

    build: Path
    output_root: Path
    write_back: bool
    quick: bool
    variables: dict[str, str]


def plan(root: Path, quick: bool = False, retrain: bool = False, refresh: bool = False) -> Plan:
    """The :class:`Plan` of a full, quick or retraining run of the checkout ``root``.

    A full run writes under ``FHNRNN_OUTPUT_ROOT`` when that is set, else into ``root``.
    """
    if quick and retrain:
        raise ValueError("quick and retrain: choose one")
    if refresh and not retrain:
        raise ValueError("refresh_artifacts needs retrain")
    variables = {HEADLESS_ENV: "1"}
    if quick:
        return Plan(root / "build" / "quick", root / "build" / "quick", False, True, variables)
    if retrain:
        build = root / "build" / "retrain"
        variables.update({"FHNRNN_RETRAIN": "1", CACHE_DIR_ENV: str(build / "cache")})
        if refresh:
            variables["FHNRNN_REFRESH_ARTIFACTS"] = "1"
        return Plan(build, build, False, False, variables)
    paper_root = Path(os.environ.get(OUTPUT_ROOT_ENV) or root)
    return Plan(root / "build", paper_root, True, False, variables)


class Interrupted(Exception):
    """A run stopped by the user; ``done`` holds the notebooks that had finished."""

    def __init__(self, notebook: Path, done: list[NotebookRun]) -> None:
        super().__init__(notebook.name)
        self.notebook = notebook
        self.done = done


def run(
    only: Sequence[str] | None = None,
    quick: bool = False,
    root: Path | None = None,
    *,
    retrain: bool = False,
    refresh_artifacts: bool = False,
) -> list[NotebookRun]:
    """Execute the selected notebooks in order and return one :class:`NotebookRun` each.

    Raises
    ------
    ValueError
        If ``root`` holds no numbered notebooks, or the options conflict.
    Interrupted
        On Ctrl-C; the interrupted notebook's outputs are discarded.
    """
    from tqdm.auto import tqdm

    root = root or project_root()
    found = numbered_notebooks(root / "notebooks")
    if not found:
        raise ValueError(
            f"no numbered notebooks (NN_name.ipynb) in {root / 'notebooks'}: run reproduce from "
            f"inside the fhnrnn checkout"
        )
    notebooks = select_notebooks(found, only)
    settings = plan(root, quick, retrain, refresh_artifacts)
    executed_dir = settings.build / "executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    results: list[NotebookRun] = []
    for notebook in (bar := tqdm(notebooks, desc="notebooks", unit="nb")):
        bar.set_postfix_str(notebook.name)
        try:
            results.append(_run_staged(notebook, executed_dir / notebook.name, settings))
        except KeyboardInterrupt:
            raise Interrupted(notebook, results) from None
    return results


def _run_staged(notebook: Path, executed: Path, settings: Plan) -> NotebookRun:
    """Run one notebook with its outputs staged; land them only if it succeeded."""
    settings.build.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{notebook.stem}-", dir=settings.build))
    try:
        with environment(**settings.variables, **{OUTPUT_ROOT_ENV: str(staging)}):
            result = execute_notebook(notebook, executed, settings.quick)
        if result.ok:
            landed_notebook = executed if settings.write_back else None
            try:
                land_outputs(staging, settings.output_root, landed_notebook)
            except (OSError, ValueError) as exc:
                return NotebookRun(notebook, result.seconds, f"outputs not written: {exc}")
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def land_outputs(staging: Path, output_root: Path, executed: Path | None = None) -> None:
    """Land a notebook's staged figures and numbers under ``output_root``, all or nothing.

    The numbers the notebook recorded replace every number recorded before under its source
    (a name it no longer records is dropped); numbers of other notebooks are kept.

    Parameters
    ----------
    staging : Path
        The ``FHNRNN_OUTPUT_ROOT`` the notebook ran with.
    output_root : Path
        Where ``figures/``, ``paper/generated/`` and ``notebooks/`` lie.
    executed : Path, optional
        The executed notebook, landed as ``output_root/notebooks/NAME.ipynb`` in the same
        step, without papermill's metadata.
    """
    files = {
        output_root / "figures" / figure.name: figure.read_bytes()
        for figure in sorted((staging / "figures").glob("*"))
    }
    if executed is not None:
        files[output_root / "notebooks" / executed.name] = _without_papermill(executed)
    staged = load_numbers(staging / "paper" / "generated")
    if staged:
        sources = frozenset(entry["source"] for entry in staged.values() if entry["source"])
        merge_numbers(staged, output_root / "paper" / "generated", with_files=files,
                      replace_sources=sources)
    else:
        atomic_write_files(files)


def compare_numbers(shipped: dict[str, dict], retrained: dict[str, dict]) -> str:
    """A table of every recorded number: the shipped run's text beside the retrained one's."""
    lines = [f"{'number':<36} {'source':>6}  {'shipped':>16}  {'retrained':>16}  {'change':>8}"]
    for name in sorted(set(shipped) | set(retrained)):
        old, new = shipped.get(name, {}), retrained.get(name, {})
        lines.append(
            f"{name:<36} {new.get('source', old.get('source', ''))!s:>6}  "
            f"{old.get('text', '-'):>16}  {new.get('text', '-'):>16}  {_change(old, new):>8}"
        )
    return "\n".join(lines)


def _change(old: dict, new: dict) -> str:
    a, b = old.get("value"), new.get("value")
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a == b:
            return "same"
        return f"{(b - a) / abs(a):+.0%}" if a else "new"
    if a is None or b is None:
        return "missing"
    return "same" if a == b else "differs"


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
        "--retrain",
        action="store_true",
        help="train every network anew into build/retrain/ and compare its numbers with the "
        "shipped run's",
    )
    parser.add_argument(
        "--refresh-artifacts",
        action="store_true",
        help="with --retrain: replace the shipped networks in artifacts/ by the new ones",
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NN", help="two-digit prefixes of the notebooks to run"
    )
    args = parser.parse_args(argv)
    root = project_root()
    try:
        results = run(
            only=args.only,
            quick=args.quick,
            root=root,
            retrain=args.retrain,
            refresh_artifacts=args.refresh_artifacts,
        )
    except ValueError as exc:
        parser.error(str(exc))
    except Interrupted as stop:
        finished = ", ".join(item.notebook.name for item in stop.done) or "none"
        print(
            f"interrupted in {stop.notebook.name}: none of its outputs were written "
            f"(finished before it: {finished})"
        )
        return 130
    print(summary(results))
    if args.retrain:
        shipped = load_numbers(root / "paper" / "generated")
        retrained = load_numbers(plan(root, retrain=True).output_root / "paper" / "generated")
        print(compare_numbers(shipped, retrained))
    return 0 if all(item.ok for item in results) else 1
