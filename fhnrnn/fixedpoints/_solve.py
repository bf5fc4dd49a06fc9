"""The search of a batch of starts (Adam, then Newton) and the tally of its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from fhnrnn._progress import progress_bar
from fhnrnn.fixedpoints._adam import adam_phase
from fhnrnn.fixedpoints._map import Map, chunks, to_numpy
from fhnrnn.fixedpoints._newton import newton_phase
from fhnrnn.fixedpoints._scouts import scouted_newton
from fhnrnn.fixedpoints.options import SearchOptions


@dataclass
class Outcome:
    """Final states of a batch of starts and how their search went."""

    x: Tensor  # (N, d) final states
    q: Tensor  # (N,) q at the final states
    converged: Tensor  # (N,) bool
    adam_iterations: int
    newton_iterations: int


def run_search(
    problem: Map, x: Tensor, u: Tensor, settings: SearchOptions, progress: bool
) -> Outcome:
    """Search every start ``x`` (N, d) at its input ``u`` (N, m): Adam, then Newton."""
    adam_budget = settings.iterations if settings.method == "adam" else settings.warmup_iters
    newton_budget = settings.iterations if settings.method == "newton" else 0
    with progress_bar(
        total=adam_budget + newton_budget, disable=not progress, desc="fixed points", leave=False
    ) as bar:
        x, status, adam_iterations = adam_phase(problem, x, u, adam_budget, settings, bar)
        newton_iterations = 0
        if newton_budget:
            newton = scouted_newton if settings.share_jacobians else newton_phase
            x, newton_iterations = newton(problem, x, u, status, newton_budget, settings, bar)
    q = torch.cat([problem.q(x[rows], u[rows]) for rows in chunks(x.shape[0], problem.chunk * 16)])
    converged = torch.isfinite(q) & (q < settings.tol_q)
    return Outcome(x, q, converged, adam_iterations, newton_iterations)


class Tally:
    """Searches run (one batch, or every batch of a continuation) and the failed ones."""

    def __init__(self) -> None:
        self.started = 0
        self.converged = 0
        self.newton_iterations = 0
        self.failed: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []

    def add(self, outcome: Outcome, inputs: Tensor) -> None:
        """Count the searches of one batch and keep its failures (state, input, q, index)."""
        lost = ~outcome.converged
        rows = lost.nonzero().squeeze(1)
        self.failed.append((outcome.x[lost], inputs[lost], outcome.q[lost], rows + self.started))
        self.started += outcome.x.shape[0]
        self.converged += int(outcome.converged.sum())
        self.newton_iterations = max(self.newton_iterations, outcome.newton_iterations)

    def fields(self) -> dict[str, Any]:
        """The counts and ``failed_*`` fields of :class:`FixedPoints`."""
        x, u, q, index = (torch.cat(parts) for parts in zip(*self.failed, strict=True))
        return {
            "n_started": self.started,
            "n_converged": self.converged,
            "failed_x": to_numpy(x),
            "failed_u": to_numpy(u),
            "failed_q": to_numpy(q),
            "failed_index": index.cpu().numpy(),
            "newton_iterations": self.newton_iterations,
        }


def search_fields(
    tally: Tally, settings: SearchOptions, problem: Map, adam_iterations: int
) -> dict[str, Any]:
    """The fields of :class:`FixedPoints` that describe the search, not the points."""
    return {
        **tally.fields(),
        "method": settings.method,
        "linear_solver": problem.solver if settings.method == "newton" else "none",
        "tol_q": settings.tol_q,
        "tol_unique": settings.tol_unique,
        "adam_iterations": adam_iterations,
    }


def tally_of(outcome: Outcome, inputs: Tensor) -> Tally:
    """The tally of a single batch of searches."""
    tally = Tally()
    tally.add(outcome, inputs)
    return tally
