"""What every finder can be told (:class:`SearchOptions`), and what a start's status means.

One frozen, validated object holds the settings of a search, so that
:func:`~fhnrnn.fixedpoints.find_fixed_points`, :func:`~fhnrnn.fixedpoints.find_cycles`,
:func:`~fhnrnn.fixedpoints.find_fixed_points_along` and
:func:`~fhnrnn.fixedpoints.continue_branch` declare them once. Each finder takes
``options=SearchOptions(...)`` and, for convenience, any field as a keyword that overrides it
(``find_fixed_points(step, x0, tol_q=1e-20)``).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, Literal

from fhnrnn._validation import finite_positive, non_negative_int, options_and_overrides

__all__ = ["LinearSolver", "Method", "SearchOptions", "Status"]

Method = Literal["newton", "adam"]
LinearSolver = Literal["auto", "dense", "krylov"]

_DENSE_UP_TO = 128  # "auto": dense Jacobians up to this state dimension, Krylov above
_DEFAULT_ITERATIONS = {"newton": 100, "adam": 10_000}


class Status(enum.IntEnum):
    """Status of one start during a search; held on the device as ``int8`` codes.

    Each member carries a message (``Status.FAILED.message``), in the manner of
    optimistix's ``RESULTS``.
    """

    ACTIVE = 0
    POLISHING = 1
    CONVERGED = 2
    FAILED = 3
    MERGED = 4

    @property
    def message(self) -> str:
        """What the status means, in words."""
        return _MESSAGES[self]


_MESSAGES = {
    Status.ACTIVE: "still searching: q is above tol_q",
    Status.POLISHING: "below tol_q, still lowering q towards its rounding floor",
    Status.CONVERGED: "converged: q is below tol_q (and polished, for Newton)",
    Status.FAILED: "given up: diverged, stalled, or its damping grew past the limit",
    Status.MERGED: "merged into a start within tol_unique with lower q; ends in its state",
}


@dataclass(frozen=True)
class SearchOptions:
    """Settings of a fixed-point search, validated on construction.

    Attributes
    ----------
    tol_q : float
        A start has converged when ``q < tol_q`` (> 0).
    tol_unique : float
        Converged points with the same input closer than this (Euclidean) are merged into the
        one with the lowest q (>= 0).
    max_iters : int or None
        Newton iterations (``method="newton"``, None: 100) or Adam iterations
        (``method="adam"``, None: 10 000).
    method : {"newton", "adam"}
        ``"newton"``: ``warmup_iters`` Adam iterations, then damped Newton /
        Levenberg-Marquardt on ``F(x, u) - x`` with exact derivatives, polishing each
        converged point down to the rounding floor of q; ``"adam"``: Adam on q alone.
    warmup_iters : int
        Adam iterations before Newton (``method="newton"`` only).
    lr : float
        Initial Adam learning rate of every start (adapted per start).
    grad_clip : float
        Largest gradient norm fed to Adam, per start.
    linear_solver : {"auto", "dense", "krylov"}
        How Newton steps solve ``J_r dx = -r``: dense Jacobians with QR, or GMRES on
        Jacobian-vector products; ``"auto"`` takes dense up to d = 128.
    merge_starts : bool
        Newton only: before each iteration, merge working starts that lie within
        ``tol_unique`` of a working start with lower q at the same input; they stop and end in
        that start's final state, so each point is driven and polished once. Saves most of
        the work when many starts reach the same few points; a start merged by mistake
        (two points closer than ``tol_unique``) is lost.
    share_jacobians : bool
        Newton only: search the starts in rounds. Each round runs Newton on a batch of
        scouts (16 starts, then twice as many each round, spread out over the starts);
        every other start then tries to reach the nearest point found so far by chord steps
        with that point's inverted Jacobian (one evaluation of F per step), and ends there
        when the steps contract onto it (residual and distance at least halved at every
        step, ending within ``tol_unique`` and below ``tol_q``). Saves most of the work when
        many starts reach few points, and only costs time when each start has its own point
        (it is then searched in about log2(N / 16) rounds one after the other). Each point
        found costs one dense Jacobian and its inverse (d x d). A distant start may end on
        another point than in the plain search.
    inexact : bool
        Krylov solver only: solve each Newton system to the relative residual
        ``min(0.1, sqrt(||r||))`` instead of 1e-13 (inexact Newton), so that the iterations
        far from a fixed point take a few Jacobian-vector products instead of up to 100.

    Raises
    ------
    ValueError
        When a field is out of range, naming it.
    """

    tol_q: float = 1e-12
    tol_unique: float = 1e-3
    max_iters: int | None = None
    method: Method = "newton"
    warmup_iters: int = 100
    lr: float = 0.01
    grad_clip: float = 1.0
    linear_solver: LinearSolver = "auto"
    merge_starts: bool = False
    share_jacobians: bool = False
    inexact: bool = False

    def __post_init__(self) -> None:
        if self.method not in _DEFAULT_ITERATIONS:
            raise ValueError(f"method must be 'newton' or 'adam', got {self.method!r}")
        if self.linear_solver not in ("auto", "dense", "krylov"):
            raise ValueError(
                f"linear_solver must be 'auto', 'dense' or 'krylov', got {self.linear_solver!r}"
            )
        for name in ("merge_starts", "share_jacobians", "inexact"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.share_jacobians and self.method != "newton":
            raise ValueError("share_jacobians needs method='newton' (its scouts run Newton)")
        checked = {
            "tol_q": finite_positive(self.tol_q, "tol_q"),
            "tol_unique": finite_positive(self.tol_unique, "tol_unique", allow_zero=True),
            "warmup_iters": non_negative_int(self.warmup_iters, "warmup_iters"),
            "lr": finite_positive(self.lr, "lr"),
            "grad_clip": finite_positive(self.grad_clip, "grad_clip"),
        }
        if self.max_iters is not None:
            checked["max_iters"] = non_negative_int(self.max_iters, "max_iters")
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def iterations(self) -> int:
        """``max_iters``, or the method's default when it is None."""
        return _DEFAULT_ITERATIONS[self.method] if self.max_iters is None else self.max_iters

    def solver_for(self, d: int) -> str:
        """The Newton linear solver for state dimension d: ``"dense"`` or ``"krylov"``."""
        if self.linear_solver == "auto":
            return "krylov" if d > _DENSE_UP_TO else "dense"
        return self.linear_solver

    @classmethod
    def resolve(
        cls, options: SearchOptions | None, overrides: dict[str, Any], **defaults: Any
    ) -> SearchOptions:
        """``options`` (or ``cls(**defaults)``) with the fields in ``overrides`` replaced.

        Raises
        ------
        ValueError
            When ``options`` is not a SearchOptions, or an override names no field.
        """
        options_and_overrides(options, overrides, cls, "search")
        base = cls(**defaults) if options is None else options
        return dataclasses.replace(base, **overrides)
