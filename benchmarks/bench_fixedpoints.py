"""Fixed-point engine: default Newton method against the Adam baseline, on trained networks.

For each network the same starts (hidden states of the trained network plus noise) are
searched three times in one run, all in float64 with ``tol_q = 1e-12``: the default
(``method="newton"``, whose ``linear_solver="auto"`` picks dense Jacobians for d <= 128 and
Krylov above), Newton with the other linear solver, and ``method="adam"`` (the gradient-only
procedure of the original study and of FixedPointFinder). The table gives wall and CPU
seconds, CPU time relative to the default, iterations, converged / started starts, unique
fixed points and the largest q; below it, whether the unique sets match (every point of one
within ``tol_unique`` of a point at the same input in the other) and how many starts only
the other run converged.

Networks (trained with :func:`fhnrnn.training.fit`, cached under the build folder):

* a 3-bit flip-flop :class:`~fhnrnn.models.TanhRNN` (64 units), searched at zero input;
* the original study's :class:`~fhnrnn.models.PaperRNN` (256 units, 5 ReLU layers), trained
  briefly on the FHN voltage task, searched with the input held at each training current.

Run ``python benchmarks/bench_fixedpoints.py`` (``--quick`` for fewer starts and a smaller
Adam budget). Timings depend on the machine and on its load.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import torch

from fhnrnn.fixedpoints import FixedPoints, find_fixed_points, sample_states
from fhnrnn.models import PaperRNN, RNNCell, TanhRNN
from fhnrnn.tasks import fhn_grid, fhn_voltage, flip_flop
from fhnrnn.training import fit

TOL_Q = 1e-12
TOL_UNIQUE = 1e-3


@dataclass
class Problem:
    name: str
    model: RNNCell
    starts: np.ndarray  # (N, d)
    inputs: np.ndarray  # (N, m)


@dataclass
class Run:
    method: str
    seconds: float  # wall clock
    cpu_seconds: float  # this process's CPU time (less sensitive to other load)
    result: FixedPoints


def flip_flop_problem(n_starts: int) -> Problem:
    task = flip_flop(3, n_trials=64, n_steps=100, seed=0)
    model = TanhRNN(3, 3, 64, seed=0)
    trained = fit(
        model,
        task.inputs,
        task.targets,
        seed=0,
        max_epochs=3000,
        target_loss=2e-3,
        lr=1e-2,
        progress=False,
    )
    print(f"flip-flop TanhRNN: final loss {trained.history[-1]:.2e} after {trained.epochs} epochs")
    with torch.no_grad():
        states, _ = trained.model.rollout(task.inputs)
    starts = sample_states(states.double().numpy(), n_starts, noise_scale=0.1, seed=0)
    return Problem("3-bit flip-flop TanhRNN-64", trained.model, starts, np.zeros((n_starts, 3)))


def fhn_problem(n_starts: int) -> Problem:
    currents, _ = fhn_grid(8)
    task = fhn_voltage(currents, t_max=60.0, scale=0.5)
    model = PaperRNN(1, 1, 256, 5, seed=0)
    trained = fit(
        model,
        task.inputs,
        task.targets,
        seed=0,
        max_epochs=600,
        target_loss=1e-3,
        lr=3e-4,
        lr_schedule="cosine",
        curriculum=[(50, 300)],
        progress=False,
    )
    print(f"FHN PaperRNN: final loss {trained.history[-1]:.2e} after {trained.epochs} epochs")
    with torch.no_grad():
        states, _ = trained.model.rollout(task.inputs)
    per_input = n_starts // len(currents)
    drawn = sample_states(states.double().numpy(), per_input, noise_scale=0.1, seed=0)
    starts = np.tile(drawn, (len(currents), 1))
    inputs = np.repeat(task.inputs[:, 0].double().numpy(), per_input, axis=0)
    return Problem("FHN PaperRNN-256 (5 ReLU layers)", trained.model, starts, inputs)


def search(problem: Problem, method: str, adam_iters: int, linear_solver: str = "auto") -> Run:
    max_iters = adam_iters if method == "adam" else None
    start, cpu_start = time.perf_counter(), time.process_time()
    result = find_fixed_points(
        problem.model,
        problem.starts,
        problem.inputs,
        method=method,
        tol_q=TOL_Q,
        tol_unique=TOL_UNIQUE,
        max_iters=max_iters,
        linear_solver=linear_solver,
        progress=False,
    )
    label = method if method == "adam" else f"{method}/{result.linear_solver}"
    return Run(label, time.perf_counter() - start, time.process_time() - cpu_start, result)


def unmatched(one: FixedPoints, other: FixedPoints) -> int:
    """Points of ``one`` with no point of ``other`` at the same input within TOL_UNIQUE."""
    count = 0
    for x, u in zip(one.xstar, one.u, strict=True):
        same_input = np.all(other.u == u, axis=1)
        distance = np.linalg.norm(other.xstar[same_input] - x, axis=1)
        count += int(distance.size == 0 or distance.min() > TOL_UNIQUE)
    return count


def row(run: Run, reference: Run) -> str:
    fps = run.result
    iterations = f"{fps.adam_iterations}+{fps.newton_iterations}"
    max_q = f"{fps.q.max():.1e}" if len(fps) else "-"
    ratio = run.cpu_seconds / reference.cpu_seconds
    return (
        f"  {run.method:<14} {run.seconds:8.1f} {run.cpu_seconds:8.1f} {ratio:7.1f} "
        f"{iterations:>12} {fps.n_converged:>5}/{fps.n_started:<5} {fps.n_unique:>6} {max_q:>9}"
    )


def compare(default: Run, other: Run) -> str:
    """How the unique sets and the converged starts of two runs differ."""
    missing = unmatched(other.result, default.result)
    extra = unmatched(default.result, other.result)
    other_converged = np.setdiff1d(np.arange(other.result.n_started), other.result.failed_index)
    lost = np.intersect1d(other_converged, default.result.failed_index)
    same = "same unique set" if missing == extra == 0 else "UNIQUE SETS DIFFER"
    return (
        f"  {default.method} vs {other.method}: {same} ({missing} of {other.method}'s "
        f"{other.result.n_unique} points missing, {extra} of {default.result.n_unique} extra); "
        f"starts converged by {other.method} only: {lost.size}"
    )


def report(problem: Problem, default: Run, others: list[Run]) -> None:
    print(f"\n{problem.name}: {len(problem.starts)} starts, d = {problem.starts.shape[1]}")
    print(
        f"  {'method':<14} {'wall s':>8} {'CPU s':>8} {'CPU x':>7} {'Adam+Newton':>12} "
        f"{'converged':>11} {'unique':>6} {'max q':>9}"
    )
    for run in (default, *others):
        print(row(run, default))
    for run in others:
        print(compare(default, run))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 starts, 2000 Adam iterations")
    parser.add_argument("--only", choices=["flipflop", "fhn"], help="run one network only")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n_starts, adam_iters = (256, 2000) if args.quick else (1024, 10_000)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print("CPU x: CPU time relative to the default (first row)")
    # the first torch.func call imports torch._dynamo (seconds): keep it out of the timings
    find_fixed_points(lambda x, u: torch.tanh(x), [[0.5]], None, progress=False)
    builders = {"flipflop": flip_flop_problem, "fhn": fhn_problem}
    for key, build in builders.items():
        if args.only and key != args.only:
            continue
        problem = build(n_starts)
        default = search(problem, "newton", adam_iters)
        other_solver = "dense" if default.result.linear_solver == "krylov" else "krylov"
        others = [
            search(problem, "newton", adam_iters, linear_solver=other_solver),
            search(problem, "adam", adam_iters),
        ]
        report(problem, default, others)


if __name__ == "__main__":
    main()
