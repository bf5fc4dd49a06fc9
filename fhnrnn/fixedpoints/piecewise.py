"""Complete search on piecewise-linear maps (ReLU cells), by activation-region iteration.

A ReLU cell is affine on each activation region: ``F(x) = A x + c`` with A and c fixed by
which units are on. Its fixed point there solves ``(I - A) x = c``. The iteration of SCYFI
(Eisenmann et al., 2023) solves the affine fixed point of the region of the current state;
if the solution lies in that region it is a fixed point of F, else the iteration moves on
to the region the solution lies in. Since ``A = dF/dx`` and ``c = F(x) - A x`` there, one
iteration is one undamped Newton step, and the solution lies in its own region exactly when
``F(x_new) = x_new``, which this search tests as ``q(x_new) < tol_q``. A start that comes back
to a region it already visited cycles and is restarted from a fresh random state, as is one
that diverges. Regions are told apart by a fingerprint of their Jacobian ``A`` (a random
projection rounded to 12 digits: points of one region share A exactly).

Unlike the damped searches, nothing here asks a step to lower q: the iteration crosses
regions where q rises, which is how it reaches fixed points that no trajectory start lies
near.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fhnrnn._validation import finite_positive, non_negative_int, positive_int
from fhnrnn.fixedpoints._dense import Factorisation
from fhnrnn.fixedpoints._inputs import prepare
from fhnrnn.fixedpoints._map import Map, characterise, chunks, to_numpy
from fhnrnn.fixedpoints._solve import Outcome, search_fields, tally_of
from fhnrnn.fixedpoints._unique import input_groups, unique_indices
from fhnrnn.fixedpoints.options import SearchOptions
from fhnrnn.fixedpoints.results import FixedPoints

__all__ = ["RegionSearch", "find_fixed_points_piecewise"]

_FINGERPRINT_DIGITS = 12
_DIVERGED = 1e8  # a state this far out (relative to the starts' scale) has diverged


@dataclass(frozen=True, eq=False)
class RegionSearch:
    """What :func:`find_fixed_points_piecewise` found and how far it looked.

    Attributes
    ----------
    fixed_points : FixedPoints
        The unique fixed points (``n_started`` counts the starts, ``n_converged`` those that
        ended on a fixed point, ``newton_iterations`` the iterations run).
    n_regions : int
        Distinct activation regions visited over all starts and restarts.
    n_restarts : int
        Restarts from a fresh random state (after a cycle or a divergence).
    """

    fixed_points: FixedPoints
    n_regions: int
    n_restarts: int


class _Regions:
    """Fingerprints of the regions visited: all of them, and each start's since its restart."""

    def __init__(self, d: int, seed: int, n: int):
        generator = np.random.default_rng(seed)
        self.left = torch.as_tensor(generator.standard_normal(d))
        self.right = torch.as_tensor(generator.standard_normal(d))
        self.seen: set[float] = set()
        self.own: list[set[float]] = [set() for _ in range(n)]

    def visit(self, rows: Tensor, jacobian: Tensor) -> np.ndarray:
        """Record the regions of ``rows``; True where a start is back in a region of its own."""
        left = self.left.to(jacobian)
        projected = ((jacobian @ self.right.to(jacobian)) @ left).cpu().numpy()
        keys = [float(f"{value:.{_FINGERPRINT_DIGITS}e}") for value in projected]
        self.seen.update(keys)
        repeated = np.zeros(len(keys), dtype=bool)
        for index, (row, key) in enumerate(zip(rows.tolist(), keys, strict=True)):
            repeated[index] = key in self.own[row]
            self.own[row].add(key)
        return repeated

    def forget(self, rows: Tensor) -> None:
        for row in rows.tolist():
            self.own[row] = set()


def find_fixed_points_piecewise(
    step: Any,
    x0: Any,
    u: Any = None,
    *,
    max_iters: int = 200,
    restart_scale: float = 1.0,
    seed: int = 0,
    options: SearchOptions | None = None,
    device: str | torch.device | None = None,
    **settings: Any,
) -> RegionSearch:
    """Fixed points of a piecewise-linear map by activation-region iteration, with restarts.

    Every start iterates ``x <- x + dx`` with ``(dF/dx - I) dx = x - F(x)`` (the fixed point of
    the affine piece at x) until it lands in its own region (``q < tol_q``). A start that
    returns to a region it visited before, or diverges, restarts from a random state: a row
    of ``x0`` drawn at random plus Gaussian noise of standard deviation ``restart_scale``
    times the starts' spread. Each start runs at most ``max_iters`` iterations in all.

    Parameters
    ----------
    step : callable or object with a ``.step`` method
        A piecewise-linear map (e.g. :class:`fhnrnn.models.PaperRNN`), as in
        :func:`~fhnrnn.fixedpoints.find_fixed_points`.
    x0 : array or Tensor, shape (N, d)
        Starts (e.g. states along trajectories).
    u : array or Tensor, shape (N, m) or (m,), float, or None
        Input of each start.
    max_iters : int
        Iterations per start, restarts included.
    restart_scale : float
        Noise of a restart, in units of the starts' standard deviation (>= 0).
    seed : int
        Seed of the restarts and of the region fingerprints.
    options : SearchOptions, optional
        Its ``tol_q`` decides convergence, its ``tol_unique`` the merging of duplicates.
    device : str or torch.device, optional
        As in :func:`~fhnrnn.fixedpoints.find_fixed_points`.
    **settings
        Fields of :class:`SearchOptions`, replacing those of ``options``.

    Returns
    -------
    RegionSearch
        The unique fixed points (with Jacobians and multipliers), and the number of regions
        visited and of restarts.
    """
    search = SearchOptions.resolve(options, settings)
    max_iters = positive_int(max_iters, "max_iters")
    restart_scale = finite_positive(restart_scale, "restart_scale", allow_zero=True)
    seed = non_negative_int(seed, "seed")
    fn, x, inputs, work_device = prepare(
        step, x0, u, device=device, dtype=torch.float64, noise_scale=0.0, seed=0
    )
    problem = Map(fn, torch.float64, work_device, x.shape[1])
    problem.check(x, inputs)
    state = _Iteration(problem, x, inputs, restart_scale, seed)
    for _ in range(max_iters):
        if not state.step(search.tol_q):
            break
    return state.result(search)


class _Iteration:
    """The states of every start, which have landed, and the bookkeeping of regions."""

    def __init__(self, problem: Map, x0: Tensor, u: Tensor, restart_scale: float, seed: int):
        self.problem, self.x0, self.u = problem, x0, u
        self.x = x0.clone()
        self.done = torch.zeros(x0.shape[0], dtype=torch.bool, device=x0.device)
        self.regions = _Regions(x0.shape[1], seed, x0.shape[0])
        self.generator = torch.Generator().manual_seed(seed)
        spread = x0.std(dim=0).mean() if x0.shape[0] > 1 else x0.abs().mean()
        self.noise = restart_scale * float(spread)
        self.bound = _DIVERGED * (1.0 + float(x0.abs().max()))
        self.iterations = self.restarts = 0

    def step(self, tol_q: float) -> bool:
        """One iteration of the starts still searching; False when none is."""
        working = (~self.done).nonzero().squeeze(1)
        if working.numel() == 0:
            return False
        self.iterations += 1
        for part in chunks(working.numel(), self.problem.chunk):
            self._advance(working[part], tol_q)
        return True

    def _advance(self, rows: Tensor, tol_q: float) -> None:
        x, u = self.x[rows], self.u[rows]
        fx, jacobian, _ = self.problem.jacobians(x, u)
        repeated = torch.as_tensor(self.regions.visit(rows, jacobian), device=x.device)
        eye = torch.eye(self.problem.d, dtype=x.dtype, device=x.device)
        new = x + Factorisation(jacobian - eye).newton_step(fx - x)
        q = self.problem.q(new.nan_to_num(0.0), u)
        finite = torch.isfinite(new).all(dim=1) & (new.abs().amax(dim=1) < self.bound)
        landed = finite & torch.isfinite(q) & (q < tol_q)
        restart = ~landed & (repeated | ~finite)
        self.x[rows] = torch.where(landed[:, None] | ~restart[:, None], new, x)
        self.done[rows] = landed
        if bool(restart.any()):
            self._restart(rows[restart])

    def _restart(self, rows: Tensor) -> None:
        picks = torch.randint(self.x0.shape[0], (rows.numel(),), generator=self.generator)
        noise = torch.randn(
            rows.numel(), self.x0.shape[1], generator=self.generator, dtype=torch.float64
        )
        fresh = self.x0[picks.to(self.x0.device)] + self.noise * noise.to(self.x0)
        self.x[rows] = fresh
        self.regions.forget(rows)
        self.restarts += rows.numel()

    def result(self, search: SearchOptions) -> RegionSearch:
        q = self.problem.q(self.x.nan_to_num(0.0), self.u)
        converged = self.done & torch.isfinite(q) & (q < search.tol_q)
        outcome = Outcome(self.x, q, converged, 0, self.iterations)
        x, u, q_kept = self.x[converged], self.u[converged], q[converged]
        keep = unique_indices(x[:, None, :], input_groups(u), q_kept, search.tol_unique)
        fields = search_fields(tally_of(outcome, self.u), search, self.problem, 0)
        points = FixedPoints(
            xstar=to_numpy(x[keep]),
            u=to_numpy(u[keep]),
            q=to_numpy(q_kept[keep]),
            **characterise(self.problem, x[keep], u[keep]),
            **{**fields, "method": "regions", "linear_solver": "dense"},
        )
        return RegionSearch(points, len(self.regions.seen), self.restarts)
