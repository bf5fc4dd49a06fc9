"""Fixed-point engine against a FixedPointFinder-default baseline, on three trained networks.

The baseline is Golub & Sussillo's FixedPointFinder (Torch) with its defaults, written out
here since the package cannot be installed: Adam on ``q`` (learning rate 1.0) with a plateau
schedule (factor 0.95, patience 2) on the mean q, ``tol_q = 1e-12``, ``tol_dq = 1e-20``,
at most 5000 iterations, float32, all starts optimised jointly until every start meets a
tolerance; then unique points (``q < tol_q``, merged within 1e-3), their Jacobians and their
eigen-decompositions (FixedPointFinder's ``do_compute_jacobians`` and
``do_decompose_jacobians`` are on by default).

The engine runs in float64 with ``ENGINE``: Newton from the starts as given (no Adam
warm-up), dense Jacobians, ``merge_starts`` (starts that coincide are merged as they
converge, so each point is polished to the rounding floor once) and ``share_jacobians``
(Newton on rounds of scouts; the other starts follow the points found by chord steps with
their factorised Jacobians, and are searched in full only when they do not reach one).
On the deep ReLU network, where neither finds a point from trajectory starts at one current,
the engine's time is that of its full set: Newton from 24 trajectory states at each of the
41 training currents, then every point continued along the currents
(the search of :func:`fhnrnn.recipes.fhn_rnn_fixed_points`, run afresh).

Networks:

* a 3-bit flip-flop :class:`~fhnrnn.models.TanhRNN` (64 units), at zero input;
* the sine-wave generator of notebook 02 (TanhRNN, 200 units), at its middle input level;
* the study's :class:`~fhnrnn.models.PaperRNN` (256 units, 5 ReLU layers) from
  :func:`fhnrnn.recipes.train_fhn_rnn`, at I = 1.0.

Starts: 1024 hidden states of the network's own trajectories plus N(0, 0.5^2) noise, the same
for both finders. Run ``python benchmarks/bench_fixedpoints.py`` (``make bench``;
``--only NAME`` for one network, ``--device cuda`` on a GPU). Every network is trained once
and cached; on the small networks each finder runs ``--repeat`` times (default 3) and its
fastest run counts, and a second table shows what ``share_jacobians`` saves there (the engine
with and without it). Timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fhnrnn.analysis import fixed_points_by_input, rollout_float64
from fhnrnn.fixedpoints import (
    FixedPoints,
    SearchOptions,
    find_fixed_points,
    jacobians,
    sample_states,
)
from fhnrnn.models import RNNCell, TanhRNN
from fhnrnn.recipes import FIXED_POINT_SEARCH, train_fhn_rnn
from fhnrnn.tasks import fhn_grid, flip_flop, sine_wave
from fhnrnn.training import fit

N_STARTS = 1024
NOISE = 0.5
TOL_Q, TOL_DQ, MAX_ITERS, TOL_UNIQUE = 1e-12, 1e-20, 5000, 1e-3
PAPER_CURRENT = 1.0
ENGINE = SearchOptions(tol_unique=TOL_UNIQUE, warmup_iters=0, linear_solver="dense",
                       merge_starts=True, share_jacobians=True)


@dataclass
class Problem:
    name: str
    model: RNNCell
    starts: np.ndarray  # (N, d)
    inputs: np.ndarray  # (N, m)
    run: Any = None  # the FHNRNNRun of the PaperRNN


@dataclass
class Outcome:
    """A finder's unique points (float64 arrays) and its wall time."""

    method: str
    seconds: float
    xstar: np.ndarray  # (K, d)
    q: np.ndarray  # (K,) in float64
    n_stable: int
    note: str = ""


def _starts(model: RNNCell, inputs: np.ndarray, n_steps: int, seed: int) -> np.ndarray:
    states, _ = rollout_float64(model, inputs, n_steps)
    return np.asarray(sample_states(states, N_STARTS, noise_scale=NOISE, seed=seed))


def flip_flop_problem() -> Problem:
    task = flip_flop(3, n_trials=64, n_steps=100, seed=0)
    model = TanhRNN(3, 3, 64, seed=0)
    trained = fit(model, task.inputs, task.targets, seed=0, max_epochs=3000, target_loss=2e-3,
                  lr=1e-2, progress=False).model
    with torch.no_grad():
        states, _ = trained.double().rollout(task.inputs.double())
    starts = np.asarray(sample_states(states.numpy(), N_STARTS, noise_scale=NOISE, seed=0))
    return Problem("3-bit flip-flop, TanhRNN 64", trained, starts, np.zeros((N_STARTS, 3)))


def sine_problem() -> Problem:
    """The generator of notebook 02 (its recipe, with the variance penalty)."""
    task = sine_wave()
    model = TanhRNN(1, 1, 200, spectral_radius=1.1, readout_scale=8.0, seed=0)
    trained = fit(model, task.inputs, task.targets, seed=0, max_epochs=100, target_loss=0.0,
                  lr=1.0, clip=None, optimizer="lbfgs", variance_penalty=3e-3,
                  progress=False).model
    level = np.array([task.levels[len(task.levels) // 2]])
    starts = _starts(trained, level, task.targets.shape[1], seed=0)
    return Problem(f"sine generator, TanhRNN 200, u = {level[0]:.3f}", trained, starts,
                   np.full((N_STARTS, 1), level[0]))


def paper_problem() -> Problem:
    run = train_fhn_rnn(progress=False)
    current = np.array([PAPER_CURRENT])
    starts = _starts(run.model, current, 334, seed=0)
    return Problem(f"PaperRNN 256 (5 ReLU layers), I = {PAPER_CURRENT}", run.model, starts,
                   np.full((N_STARTS, 1), PAPER_CURRENT), run)


def fpf_baseline(problem: Problem, device: str) -> Outcome:
    """FixedPointFinder's defaults: joint Adam on q in float32, then unique points."""
    start = time.perf_counter()
    cell = _frozen_copy(problem.model, torch.float32, device)
    x = torch.as_tensor(problem.starts, dtype=torch.float32, device=device).requires_grad_(True)
    u = torch.as_tensor(problem.inputs, dtype=torch.float32, device=device)
    optimizer = torch.optim.Adam([x], lr=1.0)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.95, patience=2)
    q_previous = None
    for _ in range(MAX_ITERS):
        optimizer.zero_grad()
        q = 0.5 * ((cell.step(x, u) - x) ** 2).sum(dim=1)
        loss = q.mean()
        loss.backward()
        optimizer.step()
        schedule.step(loss.item())
        q = q.detach()
        dq = torch.full_like(q, torch.inf) if q_previous is None else (q_previous - q).abs()
        if bool(((q < TOL_Q) | (dq < TOL_DQ)).all()):
            break
        q_previous = q
    with torch.no_grad():
        x_final = x.detach()
        q_final = 0.5 * ((cell.step(x_final, u) - x_final) ** 2).sum(dim=1)
    keep = _greedy_unique(x_final[q_final < TOL_Q], q_final[q_final < TOL_Q])
    points = x_final[q_final < TOL_Q][keep]
    if len(points):  # as FPF characterises its points
        jac, _ = jacobians(cell, points, u[: len(points)], dtype=torch.float32)
        np.linalg.eig(jac.astype(np.float32))
    seconds = time.perf_counter() - start
    return _outcome("FPF defaults", seconds, problem, points.double().cpu().numpy())


def _frozen_copy(model: RNNCell, dtype: torch.dtype, device: str) -> RNNCell:
    cell = copy.deepcopy(model).to(device=device, dtype=dtype).eval()
    cell.requires_grad_(False)
    return cell


def _greedy_unique(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Lowest q first, keep a point unless a kept one lies within TOL_UNIQUE."""
    kept: list[int] = []
    for index in torch.argsort(q).tolist():
        if not kept or bool((x[kept] - x[index]).norm(dim=1).min() > TOL_UNIQUE):
            kept.append(index)
    return torch.as_tensor(kept, dtype=torch.long)


def engine(problem: Problem, device: str, options: SearchOptions = ENGINE) -> Outcome:
    """``find_fixed_points`` in float64 with ``options`` (by default ``ENGINE``)."""
    start = time.perf_counter()
    found = find_fixed_points(problem.model, problem.starts, problem.inputs, device=device,
                              options=options, progress=False)
    seconds = time.perf_counter() - start
    return _from_points("fhnrnn", seconds, found)


def engine_plain(problem: Problem, device: str) -> Outcome:
    """The engine with ``ENGINE`` but without ``share_jacobians``: every start searched."""
    return engine(problem, device, dataclasses.replace(ENGINE, share_jacobians=False))


def engine_full_set(problem: Problem) -> Outcome:
    """The notebooks' search over all 41 currents with continuation, its points at I = 1.0.

    The search of :func:`fhnrnn.recipes.fhn_rnn_fixed_points` run afresh: the recipe itself
    would load the shipped set.
    """
    currents, _ = fhn_grid(41, (0.4, 1.4))
    start = time.perf_counter()
    found = fixed_points_by_input(problem.run.model, currents, progress=False,
                                  **FIXED_POINT_SEARCH)
    seconds = time.perf_counter() - start
    at_current = found[np.isclose(found.u[:, 0], PAPER_CURRENT, rtol=0, atol=1e-12)]
    outcome = _from_points("fhnrnn, 41 currents", seconds, at_current)
    outcome.note = f"{len(found)} points at {len(np.unique(found.u[:, 0]))} of 41 currents"
    return outcome


def _from_points(method: str, seconds: float, found: FixedPoints) -> Outcome:
    return Outcome(method, seconds, found.xstar, found.q, int(found.is_stable.sum()))


def _outcome(method: str, seconds: float, problem: Problem, points: np.ndarray) -> Outcome:
    """q and stability of a finder's points, evaluated in float64 (outside the timing)."""
    if len(points) == 0:
        return Outcome(method, seconds, points, np.zeros(0), 0)
    inputs = problem.inputs[: len(points)]
    jac, _ = jacobians(problem.model, points, inputs)
    stable = int((np.abs(np.linalg.eigvals(jac)).max(axis=1) < 1).sum())
    cell = _frozen_copy(problem.model, torch.float64, "cpu")
    with torch.no_grad():
        x = torch.as_tensor(points)
        residual = cell.step(x, torch.as_tensor(inputs)) - x
    return Outcome(method, seconds, points, 0.5 * (residual**2).sum(dim=1).numpy(), stable)


def contained(inner: Outcome, outer: Outcome) -> int:
    """Points of ``inner`` with no point of ``outer`` within TOL_UNIQUE."""
    if len(inner.xstar) == 0:
        return 0
    if len(outer.xstar) == 0:
        return len(inner.xstar)
    distance = np.linalg.norm(inner.xstar[:, None] - outer.xstar[None], axis=2)
    return int((distance.min(axis=1) > TOL_UNIQUE).sum())


def fastest(finder: Any, problem: Problem, device: str, repeat: int) -> Outcome:
    """The run with the least wall time of ``repeat`` runs of ``finder`` (same result each)."""
    return min((finder(problem, device) for _ in range(repeat)), key=lambda run: run.seconds)


def report(name: str, baseline: Outcome, ours: Outcome, target: float) -> str:
    def max_q(outcome: Outcome) -> str:
        return f"{outcome.q.max():.1e}" if len(outcome.q) else "-"

    ratio = baseline.seconds / ours.seconds
    missing = contained(baseline, ours)
    accurate = len(ours.q) > 0 and ours.q.max() <= 1e-20
    verdict = "met" if ratio >= target and accurate and missing == 0 else "MISSED"
    return (
        f"| {name} | {baseline.seconds:.2f} s | {len(baseline.q)} ({baseline.n_stable}) | "
        f"{ours.method}: {ours.seconds:.2f} s | {len(ours.q)} ({ours.n_stable}) | "
        f"{max_q(baseline)} / {max_q(ours)} | {ratio:.1f} (target {target:g}: {verdict}) | "
        f"{missing} |" + (f" {ours.note}" if ours.note else "")
    )


def compare_sharing(name: str, baseline: Outcome, plain: Outcome, shared: Outcome) -> str:
    """A row of the engine without and with ``share_jacobians``: time, points, FPF's lacking."""

    def cell(outcome: Outcome) -> str:
        return (f"{outcome.seconds:.2f} s, {len(outcome.q)} points, "
                f"{contained(baseline, outcome)} of FPF's lacking")

    return f"| {name} | {cell(plain)} | {cell(shared)} | {plain.seconds / shared.seconds:.1f} |"


BUILDERS = {"flipflop": (flip_flop_problem, 3.0), "sine": (sine_problem, 10.0),
            "paper": (paper_problem, 10.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(BUILDERS), help="run one network only")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="where both finders run")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each finder on the small networks; the fastest counts")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}")
    # the first torch.func call imports torch._dynamo (seconds): keep it out of the timings
    find_fixed_points(lambda x, u: torch.tanh(x), [[0.5]], None, progress=False)
    rows, sharing = [], []
    for key, (build, target) in BUILDERS.items():
        if args.only and key != args.only:
            continue
        problem = build()
        repeat = 1 if key == "paper" else args.repeat
        baseline = fastest(fpf_baseline, problem, args.device, repeat)
        if key == "paper":
            ours = engine_full_set(problem)
        else:
            ours = fastest(engine, problem, args.device, repeat)
            plain = fastest(engine_plain, problem, args.device, repeat)
            sharing.append(compare_sharing(problem.name, baseline, plain, ours))
        rows.append(report(problem.name, baseline, ours, target))
    print("\n| network | FPF time | FPF unique (stable) | fhnrnn time | fhnrnn unique (stable) | "
          "max q FPF / fhnrnn | time ratio FPF / fhnrnn | FPF points fhnrnn lacks |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if sharing:
        print("\n| network | without share_jacobians | with | time ratio |")
        print("|---|---|---|---|")
        print("\n".join(sharing))


if __name__ == "__main__":
    main()
