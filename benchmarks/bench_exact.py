"""The exact route for the study's ReLU cell, against the smooth engine and the FPF baseline.

Two tables, both on the example network (:func:`fhnrnn.recipes.train_fhn_rnn`, 256 units,
5 ReLU layers), in one run, on one thread (numpy and torch):

1. **The fixed-point curve over 0 <= I <= 1.75** through the point at I = 1.0:
   :func:`fhnrnn.fixedpoints.trace_fixed_points` (fastest of ``--repeat`` runs) beside
   :func:`fhnrnn.fixedpoints.continue_branch` (pseudo-arclength, the recipe's settings
   ``BRANCH_CONTINUATION``, both ways from the same point, run once).
2. **Fixed points at the 41 currents of notebook 03**: the exact search
   (:func:`fhnrnn.analysis.fixed_points_by_input`, exact route, ``--starts`` trajectory
   starts per current) beside the FixedPointFinder-default baseline of
   ``bench_fixedpoints.py`` at I = 1.0 alone (1024 starts) and the smooth search of the
   notebooks (Newton from 24 starts per current, then continuation), each run once; then
   the baseline's time over the exact search's (target: at least 20), in wall-clock and in
   CPU time (the process's own, less sensitive to other work on the machine).

Run ``python benchmarks/bench_exact.py`` (``make bench-exact``); ``--skip-smooth`` leaves out
the smooth continuation and the smooth search, ``--skip-slow`` the baseline as well (each
minutes). Timings depend on the machine and its load; the counts do not.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import time

import numpy as np
import torch
from bench_fixedpoints import fpf_baseline, paper_problem

from fhnrnn.analysis import fixed_points_by_input
from fhnrnn.fixedpoints import continue_branch, trace_fixed_points
from fhnrnn.recipes import BRANCH_CONTINUATION, FIXED_POINT_SEARCH, train_fhn_rnn
from fhnrnn.recipes.fhn_fixed_points import SHIPPED_CURRENTS


def _start(run: object) -> tuple[np.ndarray, float]:
    """The example network's fixed point at I = 1.0, from the exact search at that current."""
    found = fixed_points_by_input(run.model, [1.0], n_per_input=24, route="exact")
    return found.xstar[0], 1.0


def curve_table(run: object, repeat: int, smooth: bool) -> list[str]:
    x0, u0 = _start(run)
    times = []
    for _ in range(repeat):
        begin = time.perf_counter()
        curve = trace_fixed_points(run.model, x0, u0, (0.0, 1.75))
        times.append(time.perf_counter() - begin)
    rows = [
        "| method | time | segments / points | folds | stability changes | ends |",
        "|---|---|---|---|---|---|",
        f"| exact trace | {min(times):.2f} s | {curve.n_segments} segments | "
        f"{len(curve.folds)} ({', '.join(f'{f.u:.4f}' for f in curve.folds)}) | "
        f"{len(curve.border_collisions)} border collisions | "
        f"{curve.ends[0].name} / {curve.ends[1].name} |",
    ]
    if smooth:
        begin = time.perf_counter()
        steps = {key: BRANCH_CONTINUATION[key] for key in ("step_size", "max_step_size")}
        branches = [continue_branch(run.model, x0, u0, end, state_scale=1.0, **steps)
                    for end in (0.0, 1.75)]
        seconds = time.perf_counter() - begin
        folds = [b.u for branch in branches for b in branch.bifurcations if b.kind == "fold"]
        points = sum(len(branch.u) for branch in branches)
        rows.append(f"| pseudo-arclength | {seconds:.1f} s | {points} points | "
                    f"{len(folds)} | - | - |")
    return rows


def search_table(run: object, starts: int, smooth: bool, baseline: bool) -> list[str]:
    rows = [
        "| method | time | currents with a point | points | note |",
        "|---|---|---|---|---|",
    ]
    begin, cpu = time.perf_counter(), time.process_time()
    exact = fixed_points_by_input(run.model, SHIPPED_CURRENTS, n_per_input=starts,
                                  route="exact")
    seconds, exact_cpu = time.perf_counter() - begin, time.process_time() - cpu
    covered = len(np.unique(exact.u[:, 0]))
    rows.append(f"| exact, {starts} starts per current | {seconds:.1f} s | {covered} of 41 | "
                f"{len(exact)} | {exact.n_started - len(exact)} homotopies, "
                f"{exact.n_failed} back or out |")
    exact_seconds = seconds
    if smooth:
        begin = time.perf_counter()
        points = fixed_points_by_input(run.model, SHIPPED_CURRENTS, route="smooth",
                                       progress=False, **FIXED_POINT_SEARCH)
        seconds = time.perf_counter() - begin
        rows.append(f"| smooth (notebooks' search) | {seconds:.1f} s | "
                    f"{len(np.unique(points.u[:, 0]))} of 41 | {len(points)} | |")
    if baseline:
        problem = paper_problem()
        cpu = time.process_time()
        fpf = fpf_baseline(problem, "cpu")
        fpf_cpu = time.process_time() - cpu
        found = len(fpf.xstar)
        rows.append(f"| FPF baseline, I = 1.0 only | {fpf.seconds:.1f} s | "
                    f"{int(found > 0)} of 1 | {found} | 1024 starts |")
        ratio = fpf.seconds / exact_seconds
        rows.append(f"\ntime ratio FPF baseline / exact search: {ratio:.1f} "
                    f"(target 20: {'met' if ratio >= 20 else 'MISSED'}); in CPU time "
                    f"{fpf_cpu:.1f} s / {exact_cpu:.1f} s = {fpf_cpu / exact_cpu:.1f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--starts", type=int, default=4)
    parser.add_argument("--skip-smooth", action="store_true",
                        help="leave out the smooth continuation and the smooth search")
    parser.add_argument("--skip-slow", action="store_true",
                        help="leave out the smooth runs and the FPF baseline")
    args = parser.parse_args()
    torch.set_num_threads(1)
    run = train_fhn_rnn(progress=False)
    smooth = not (args.skip_smooth or args.skip_slow)
    print("\n".join(curve_table(run, args.repeat, smooth)))
    print()
    print("\n".join(search_table(run, args.starts, smooth, not args.skip_slow)))


if __name__ == "__main__":
    main()
