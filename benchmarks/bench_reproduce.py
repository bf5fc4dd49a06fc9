"""Regeneration of the whole paper: every notebook cold (empty model cache) and warm.

Measures what ``make reproduce`` costs without touching the committed notebooks, figures or
numbers. Everything runs in a fresh temporary folder:

* ``cache/`` is the model cache (``FHNRNN_CACHE_DIR``); it starts empty.
* Cold pass: the selected notebooks are executed in order with papermill (kernel
  ``python3``, working folder ``notebooks/`` as in ``fhnrnn.reproduce``) into
  ``executed/cold/``, with figures and numbers going to ``cold/`` (``FHNRNN_OUTPUT_ROOT``).
  Every network trains and every cached fixed-point search runs.
* Warm pass: the same notebooks again, outputs to ``warm/``, with the cache the cold pass
  filled, as a second ``make reproduce`` would run.
* After each pass the paper is built: ``paper/main.tex``, ``references.bib`` and
  ``paper/Makefile`` are copied into the pass's output root, next to the ``figures/`` and
  ``paper/generated/numbers.tex`` that pass wrote, and ``make -C <root>/paper`` runs the same
  ``latexmk`` command as ``make paper``, from scratch (no auxiliary files). ``--no-paper``
  skips it; so does a machine without ``latexmk`` (the table says so).

With ``--only``, the output roots start from copies of the committed ``figures/`` and
``paper/generated/`` so that the paper still finds what the skipped notebooks would have
written. The warm pass's recorded numbers are compared with the cold pass's: a cache that
changes a number is reported.

Each step is timed by wall clock (``time.perf_counter``), kernel start-up included; the
figures depend on the machine and on its load. The temporary folder is deleted at the end
unless ``--keep-cache`` is given (then its path is printed).

Run ``.venv/bin/python benchmarks/bench_reproduce.py`` for the full measurement (on a 2-core
CPU about 9 minutes for the cold pass plus 1.5 for the warm one, measured 2026-11-28), or
``.venv/bin/python benchmarks/bench_reproduce.py --quick --only 01`` for a smoke test
(``QUICK = True`` injected, as ``reproduce --quick`` does).
``--json PATH`` also writes the table as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import torch

from fhnrnn._paths import CACHE_DIR_ENV, OUTPUT_ROOT_ENV, atomic_write_text
from fhnrnn.reproduce import (
    describe_error,
    environment,
    execute_notebook,
    numbered_notebooks,
    select_notebooks,
)

ROOT = Path(__file__).resolve().parents[1]
PAPER_SOURCES = ("main.tex", "references.bib", "Makefile")
PASSES = ("cold", "warm")
NUMBERS = Path("paper") / "generated" / "numbers.json"


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of one step and, if it failed, the first line of its error."""

    seconds: float
    error: str | None = None


Row = tuple[str, Timing | None, Timing | None]  # label, cold pass, warm pass


@dataclass
class Pass:
    """The timings of one pass: per notebook (in order) and of the paper build."""

    notebooks: dict[str, Timing]
    paper: Timing | None


def timed(action: Callable[[], object]) -> Timing:
    """Run ``action`` and return its wall-clock time; an exception becomes the error text."""
    start = time.perf_counter()
    try:
        action()
    except Exception as exc:  # a failed step is reported in the table, not raised
        return Timing(time.perf_counter() - start, describe_error(exc))
    return Timing(time.perf_counter() - start)


def seed_outputs(output_root: Path) -> None:
    """Copy the committed figures and numbers into ``output_root`` (for partial runs)."""
    shutil.copytree(ROOT / "figures", output_root / "figures", dirs_exist_ok=True)
    generated = ROOT / "paper" / "generated"
    shutil.copytree(generated, output_root / "paper" / "generated", dirs_exist_ok=True)


def build_paper(output_root: Path) -> None:
    """Build ``paper/main.pdf`` from scratch under ``output_root`` with the paper's Makefile.

    Raises
    ------
    RuntimeError
        If ``make`` fails; the message is the last line of its output.
    """
    paper = output_root / "paper"
    paper.mkdir(parents=True, exist_ok=True)
    for name in PAPER_SOURCES:
        shutil.copy2(ROOT / "paper" / name, paper / name)
    done = subprocess.run(["make", "-C", str(paper)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).strip().splitlines() or ["(no output)"]
        raise RuntimeError(f"make exited with {done.returncode}: {lines[-1]}")


def run_pass(
    label: str, notebooks: Sequence[Path], workdir: Path, quick: bool, paper: bool, seed: bool
) -> Pass:
    """Execute ``notebooks`` in order, outputs under ``workdir/label``, then build the paper."""
    output_root = workdir / label
    executed = workdir / "executed" / label
    executed.mkdir(parents=True)
    if seed:
        seed_outputs(output_root)
    timings: dict[str, Timing] = {}
    with environment(**{OUTPUT_ROOT_ENV: str(output_root)}):
        for notebook in notebooks:
            output = executed / notebook.name
            outcome = execute_notebook(notebook, output, quick)
            timings[notebook.name] = Timing(outcome.seconds, outcome.error)
            print(f"  {label} {notebook.name:<40} {cell(timings[notebook.name])}", flush=True)
    paper_timing = timed(partial(build_paper, output_root)) if paper else None
    if paper_timing is not None:
        print(f"  {label} {'paper (latexmk)':<40} {cell(paper_timing)}", flush=True)
    return Pass(timings, paper_timing)


def recorded_texts(output_root: Path) -> dict[str, str]:
    """The formatted text of every number recorded under ``output_root`` (name -> text)."""
    path = output_root / NUMBERS
    if not path.is_file():
        return {}
    return {name: entry["text"] for name, entry in json.loads(path.read_text()).items()}


def differing_numbers(workdir: Path) -> list[str]:
    """Names whose recorded text differs between the cold and the warm pass (or is missing)."""
    cold, warm = (recorded_texts(workdir / label) for label in PASSES)
    return sorted(name for name in set(cold) | set(warm) if cold.get(name) != warm.get(name))


def cache_contents(cache: Path) -> tuple[int, float]:
    """Number of files below ``cache`` and their total size in MB."""
    files = [path for path in cache.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files) / 1e6


def cell(timing: Timing | None) -> str:
    """A table cell: seconds, with ``!`` when the step failed, or ``skipped``."""
    if timing is None:
        return f"{'skipped':>9}"
    return f"{timing.seconds:8.1f}{'!' if timing.error else ' '}"


def total(timings: Sequence[Timing | None]) -> Timing:
    """The summed seconds of ``timings`` (skipped steps count zero); failed if any failed."""
    present = [item for item in timings if item is not None]
    failed = next((item.error for item in present if item.error), None)
    return Timing(sum(item.seconds for item in present), failed)


def table(cold: Pass, warm: Pass) -> list[Row]:
    """Rows ``(label, cold, warm)``: each notebook, the notebooks, the paper, the total."""
    rows: list[Row] = [
        (name, cold.notebooks[name], warm.notebooks[name]) for name in cold.notebooks
    ]
    sums = [total(list(item.notebooks.values())) for item in (cold, warm)]
    rows.append(("notebooks", sums[0], sums[1]))
    rows.append(("paper (latexmk)", cold.paper, warm.paper))
    rows.append(("total", total([sums[0], cold.paper]), total([sums[1], warm.paper])))
    return rows


def print_table(rows: Sequence[Row], passes: dict[str, Pass]) -> None:
    """Print the rows, then the error of every failed step (marked ``!``)."""
    print(f"\n{'notebook':<40} {'cold s':>9} {'warm s':>9}")
    for label, cold, warm in rows:
        if label == "notebooks":
            print("-" * 60)
        print(f"{label:<40} {cell(cold)} {cell(warm)}")
    for name, result in passes.items():
        steps = {**result.notebooks, "paper (latexmk)": result.paper}
        for label, timing in steps.items():
            if timing is not None and timing.error:
                print(f"! {name} {label}: {timing.error}")


def machine() -> dict[str, object]:
    """The machine and software the timings were taken on."""
    return {
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def as_json(
    info: dict[str, object], args: argparse.Namespace, rows: Sequence[Row], differing: list[str]
) -> str:
    """The measurement as a JSON document (seconds and errors per row and pass)."""
    return json.dumps(
        {
            "machine": info,
            "quick": args.quick,
            "only": args.only,
            "rows": [
                {
                    "name": label,
                    "cold": asdict(cold) if cold else None,
                    "warm": asdict(warm) if warm else None,
                }
                for label, cold, warm in rows
            ],
            "numbers_differing_warm_vs_cold": differing,
        },
        indent=1,
    )


def parse_arguments(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[Path]]:
    """The options and the selected notebooks (an unknown ``--only`` prefix is an error)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="inject QUICK=True (smoke test)")
    parser.add_argument("--only", nargs="+", metavar="NN", help="two-digit notebook prefixes")
    parser.add_argument("--no-paper", action="store_true", help="skip the LaTeX build")
    parser.add_argument(
        "--keep-cache", action="store_true", help="keep the temporary folder (cache, outputs)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the table here")
    args = parser.parse_args(argv)
    try:
        notebooks = select_notebooks(numbered_notebooks(ROOT / "notebooks"), args.only)
    except ValueError as exc:
        parser.error(str(exc))
    return args, notebooks


def main(argv: Sequence[str] | None = None) -> int:
    args, notebooks = parse_arguments(argv)
    info = machine()
    print(", ".join(f"{key} {value}" for key, value in info.items()))
    paper = not args.no_paper and shutil.which("latexmk") is not None
    if not args.no_paper and not paper:
        print("latexmk not found: the paper build is skipped (`make paper` installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="fhnrnn-bench-reproduce-"))
    cache = workdir / "cache"
    passes: dict[str, Pass] = {}
    try:
        with environment(**{CACHE_DIR_ENV: str(cache)}):
            for label in PASSES:
                passes[label] = run_pass(
                    label, notebooks, workdir, args.quick, paper, seed=bool(args.only)
                )
                files, megabytes = cache_contents(cache)
                print(f"  model cache after the {label} pass: {files} files, {megabytes:.2f} MB")
        differing = differing_numbers(workdir)
    finally:
        if args.keep_cache:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = table(passes["cold"], passes["warm"])
    print_table(rows, passes)
    print(f"numbers differing warm vs cold: {', '.join(differing) if differing else 'none'}")
    if args.json:
        atomic_write_text(args.json, as_json(info, args, rows, differing) + "\n")
    failed = any(timing is not None and timing.error for _, *steps in rows for timing in steps)
    return 1 if failed or differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
