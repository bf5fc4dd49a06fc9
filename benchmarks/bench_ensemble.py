"""Scaling of the ensemble sweep: one fixed subset of runs at 1 and at 2 cores, side by side.

The subset (``SUBSET``: two runs of the study's cell and two tanh runs) is run twice through
the project's Snakefile, ``snakemake --cores 1`` and then ``--cores 2``, each time into a
fresh temporary folder with an empty training cache (``FHNRNN_CACHE_DIR``), so every run
trains. The wall time of each ``snakemake`` call is printed with the speed-up and the
parallel efficiency (speed-up / cores). The rows of the two passes are compared as well: each
run uses one thread, so the two passes must give the same numbers.

Needs the ``[ensemble]`` extra (``make ensemble DRY=1`` installs it). Run
``.venv/bin/python benchmarks/bench_ensemble.py`` (about 10 minutes on a 2-core CPU);
``--runs ID ...`` picks another subset, ``--json PATH`` also writes the table as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fhnrnn._paths import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
SUBSET = (
    "paper-rot90_200-study-s0",
    "paper-rot90_200-study-s1",
    "tanh-default-study-s0",
    "tanh-default-study-s1",
)
_COMPARED = ("train_mse", "held_out_mse", "period_error_max", "n_fixed_points", "rmse_vstar")


def _sweep(runs: list[str], cores: int, folder: Path) -> float:
    """Wall seconds of one snakemake call over ``runs`` into ``folder``."""
    snakemake = Path(sys.executable).parent / "snakemake"
    targets = [str(folder / "out" / "runs" / f"{run_id}.json") for run_id in runs]
    environment = {**os.environ, "FHNRNN_CACHE_DIR": str(folder / "cache")}
    start = time.perf_counter()
    done = subprocess.run(
        [str(snakemake), *targets, "-s", "workflow/Snakefile", "--profile",
         "workflow/profiles/local", "--cores", str(cores), "--config", f"out={folder / 'out'}",
         f"networks={folder / 'nets'}"],
        cwd=ROOT, env=environment, capture_output=True, text=True,
    )
    if done.returncode:
        raise RuntimeError(f"snakemake --cores {cores} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def _rows(folder: Path, runs: list[str]) -> dict[str, dict]:
    return {run_id: json.loads((folder / "out" / "runs" / f"{run_id}.json").read_text())["row"]
            for run_id in runs}


def _same(a: float, b: float) -> bool:
    """Equal, NaN counting as equal to NaN (a run without fixed points has no error)."""
    return a == b or (math.isnan(a) and math.isnan(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=list(SUBSET), help="run ids of the subset")
    parser.add_argument("--json", type=Path, help="also write the table here")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ensemble-") as scratch:
        seconds, rows = {}, {}
        for cores in (1, 2):
            folder = Path(scratch) / f"cores{cores}"
            seconds[cores] = _sweep(arguments.runs, cores, folder)
            rows[cores] = _rows(folder, arguments.runs)
    same = all(_same(rows[1][run][column], rows[2][run][column])
               for run in arguments.runs for column in _COMPARED)
    speedup = seconds[1] / seconds[2]
    print(f"subset: {len(arguments.runs)} runs ({', '.join(arguments.runs)})")
    print(f"{'cores':>5} {'wall s':>8} {'speed-up':>9} {'efficiency':>11}")
    print(f"{1:>5} {seconds[1]:>8.1f} {1.0:>9.2f} {1.0:>11.2f}")
    print(f"{2:>5} {seconds[2]:>8.1f} {speedup:>9.2f} {speedup / 2:>11.2f}")
    print(f"same numbers at 1 and 2 cores: {same}")
    if arguments.json:
        atomic_write_text(arguments.json, json.dumps(
            {"runs": arguments.runs, "seconds": seconds, "speedup": speedup,
             "same_numbers": same}, indent=1) + "\n")


if __name__ == "__main__":
    main()
