"""Coverage of the activation-region search on the study's deep ReLU network, from scratch.

For the shipped :class:`~fhnrnn.models.PaperRNN` of notebooks 03-05, at the 41 currents of
its shipped fixed points, the same starts (``--per-current`` states evenly spaced along the
network's trajectory at each current, as the notebooks' search takes them) go to

* :func:`fhnrnn.fixedpoints.find_fixed_points_piecewise` (SCYFI-style region iteration,
  ``--iters`` iterations per start, restarts included), and
* :func:`fhnrnn.fixedpoints.find_fixed_points` (damped Newton, no warm-up), the seeding
  step of the notebooks' search before its continuation.

Printed per method: wall time, converged starts, unique points, and the currents at which
a point was found, against the 41 at which the shipped set (found with continuation) has
one. Run ``python benchmarks/bench_piecewise.py`` (about two minutes at the defaults).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from fhnrnn.analysis import trajectory_starts
from fhnrnn.fixedpoints import FixedPoints, find_fixed_points, find_fixed_points_piecewise
from fhnrnn.recipes import fhn_rnn_fixed_points, train_fhn_rnn
from fhnrnn.recipes.fhn_fixed_points import SHIPPED_CURRENTS


def row(method: str, seconds: float, points: FixedPoints, note: str = "") -> str:
    """A table row: time, converged starts, unique points and the currents with a point."""
    currents = len(np.unique(points.u[:, 0])) if len(points) else 0
    return (f"| {method} | {seconds:.1f} s | {points.n_converged} of {points.n_started} | "
            f"{len(points)} | {currents} of {len(SHIPPED_CURRENTS)} | {note} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-current", type=int, default=4, help="starts per current")
    parser.add_argument("--iters", type=int, default=50, help="region iterations per start")
    args = parser.parse_args()
    run = train_fhn_rnn(progress=False)
    # the first torch.func call imports torch._dynamo (seconds): keep it out of the timings
    find_fixed_points(lambda x, u: torch.tanh(x), [[0.5]], None, progress=False)
    starts, index = trajectory_starts(run.model, SHIPPED_CURRENTS, n_per_input=args.per_current)
    inputs = SHIPPED_CURRENTS[index][:, None]
    shipped = fhn_rnn_fixed_points(run, SHIPPED_CURRENTS, progress=False)
    rows = []
    clock = time.perf_counter()
    regions = find_fixed_points_piecewise(run.model, starts, inputs, max_iters=args.iters)
    rows.append(row("activation regions", time.perf_counter() - clock, regions.fixed_points,
                    f"{regions.n_regions} regions visited, {regions.n_restarts} restarts"))
    clock = time.perf_counter()
    newton = find_fixed_points(run.model, starts, inputs, warmup_iters=0, progress=False)
    rows.append(row("Newton", time.perf_counter() - clock, newton))
    shipped_currents = len(np.unique(shipped.u[:, 0]))
    print(f"{len(starts)} starts ({args.per_current} per current); the shipped set (with "
          f"continuation) has {len(shipped)} points at {shipped_currents} currents\n")
    print("| method | time | converged starts | unique points | currents with a point | |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
