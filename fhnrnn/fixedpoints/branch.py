"""Pseudo-arclength continuation of one fixed-point branch, with bifurcation detection.

:func:`continue_branch` follows the fixed points of ``x -> F(x, u)`` as the scalar input u
moves from ``u_start`` towards ``u_stop``, through folds (where the branch turns back in u),
and reports the folds, branch points, flips and Neimark-Sacker points it passes as
:class:`Bifurcation` records: folds and branch points located by Newton on the minimally
augmented system, the others to ``tol_location`` in arclength (and so in u).

Each step predicts along the unit tangent ``t`` of the curve ``G(x, u) = F(x, u) - x = 0``
in ``(x, u)`` space, ``y_pred = y + ds t``, and corrects by Newton on ``G(y) = 0`` with
``t . (y - y_pred) = 0`` (Keller's pseudo-arclength), so that a fold, where ``dG/dx`` is
singular, is passed like any other point. The step grows by half after an easy correction
and halves after a failed one. Lengths are measured in ``(x / state_scale, u)``, so that the
continuation of a map written at another scale of the state takes the same steps.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fhnrnn._validation import finite_positive, positive_int, real_tensor
from fhnrnn.fixedpoints._arclength import Curve, CurvePoint
from fhnrnn.fixedpoints._detect import Crossing, crossings
from fhnrnn.fixedpoints._inputs import prepare
from fhnrnn.fixedpoints._map import Map
from fhnrnn.fixedpoints.options import SearchOptions
from fhnrnn.fixedpoints.search import find_fixed_points

__all__ = ["Bifurcation", "Branch", "continue_branch"]

KINDS = ("fold", "flip", "neimark-sacker", "branch-point")
_GROW, _SHRINK, _EASY = 1.5, 0.5, 3  # step-size control: easy = at most 3 Newton iterations
_MAX_CORRECTOR = 8
# a corrected point farther than this many steps from its prediction (in the scaled
# coordinates, so relative to the size of the state) has jumped to another part of the
# curve (another branch), and the step is refused
_MAX_DEVIATION = 2.0
# this many reversals of the direction in u on consecutive steps (a genuine S-shaped pair of
# folds makes at most two) mean the continuation bounces at a corner it cannot pass
_MAX_REVERSALS = 4


@dataclass(frozen=True, eq=False)
class Bifurcation:
    """A bifurcation of a fixed-point branch.

    Attributes
    ----------
    kind : str
        ``"fold"`` (a real multiplier crosses +1 and the branch turns), ``"flip"`` (a real
        multiplier crosses -1), ``"neimark-sacker"`` (a complex pair crosses the unit circle)
        or ``"branch-point"`` (a real multiplier crosses +1 without the branch turning).
    u : float
        Input at the bifurcation.
    x : ndarray, shape (d,)
        Fixed point at the bifurcation.
    multipliers : ndarray of complex, shape (d,)
        Eigenvalues of ``dF/dx`` there (just past it), largest modulus first.
    index : int
        The bifurcation lies between branch points ``index - 1`` and ``index``.

    Notes
    -----
    On a smooth map, folds and branch points are the solution of the minimally augmented
    system, where ``dF/dx`` has the multiplier +1 exactly; on a piecewise-linear map, where
    the multipliers jump, a fold is the corner of the kink. Flips and Neimark-Sacker points
    are the first point of the final bisection bracket past the change.
    """

    kind: str
    u: float
    x: np.ndarray
    multipliers: np.ndarray
    index: int

    @property
    def critical(self) -> complex:
        """The multiplier on the unit circle: nearest +1 (fold, branch point), nearest -1
        (flip), or of the crossing pair the one with positive imaginary part nearest the
        circle (Neimark-Sacker)."""
        values = self.multipliers
        if self.kind == "neimark-sacker":
            values = values[values.imag > 0]
            return complex(values[np.argmin(np.abs(np.abs(values) - 1.0))])
        target = -1.0 if self.kind == "flip" else 1.0
        real = values[values.imag == 0]
        return complex(real[np.argmin(np.abs(real - target))])


@dataclass(frozen=True, eq=False)
class Branch:
    """The points of one continued fixed-point branch, in the order followed.

    Attributes
    ----------
    u : ndarray, shape (n,)
        Input at each point.
    xstar : ndarray, shape (n, d)
        Fixed points.
    eigenvalues : ndarray of complex, shape (n, d)
        Multipliers (eigenvalues of ``dF/dx``), largest modulus first.
    arclength : ndarray, shape (n,)
        Pseudo-arclength in ``(x / state_scale, u)`` from the first point.
    bifurcations : tuple of Bifurcation
        In the order passed.
    stop_reason : str
        Why the continuation ended.
    state_scale : float
        The scale of the state in the arclength (see :func:`continue_branch`).
    """

    u: np.ndarray
    xstar: np.ndarray
    eigenvalues: np.ndarray
    arclength: np.ndarray
    bifurcations: tuple[Bifurcation, ...]
    stop_reason: str
    state_scale: float

    def __len__(self) -> int:
        return self.u.shape[0]

    @property
    def n_unstable(self) -> np.ndarray:
        """Number of multipliers outside the unit circle at each point, shape (n,)."""
        return (np.abs(self.eigenvalues) > 1.0).sum(axis=1)

    def of_kind(self, kind: str) -> list[Bifurcation]:
        """The bifurcations of one kind (see :data:`KINDS`)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        return [event for event in self.bifurcations if event.kind == kind]


@dataclass(frozen=True)
class _Steps:
    """Step-size settings of the continuation."""

    initial: float
    largest: float
    smallest: float
    max_steps: int
    tol_location: float

    @classmethod
    def checked(cls, initial: float, largest: float, smallest: float, max_steps: int,
                tol_location: float) -> _Steps:
        steps = cls(
            finite_positive(initial, "step_size"),
            finite_positive(largest, "max_step_size"),
            finite_positive(smallest, "min_step_size"),
            positive_int(max_steps, "max_steps"),
            finite_positive(tol_location, "tol_location"),
        )
        if not steps.smallest <= steps.initial <= steps.largest:
            raise ValueError(
                "step sizes must satisfy min_step_size <= step_size <= max_step_size, got "
                f"{steps.smallest}, {steps.initial}, {steps.largest}"
            )
        return steps


def continue_branch(
    step: Any,
    x0: Any,
    u_start: float,
    u_stop: float,
    *,
    step_size: float = 0.01,
    max_step_size: float = 0.1,
    min_step_size: float = 1e-8,
    max_steps: int = 2000,
    tol_location: float = 1e-9,
    state_scale: float | None = None,
    options: SearchOptions | None = None,
    device: str | torch.device | None = None,
    **settings: Any,
) -> Branch:
    """Follow the fixed-point branch through ``x0`` as the scalar input goes to ``u_stop``.

    The start is the fixed point found from ``x0`` at ``u_start`` (by
    :func:`find_fixed_points`, and where that finds none after its Adam warm-up, by its
    Newton alone). The branch is followed by pseudo-arclength continuation in
    float64, first in the direction of ``u_stop``, through folds, until it leaves the interval
    between ``u_start`` and ``u_stop`` (its last point then lies on the end it crossed), or
    after ``max_steps`` points, or when the step would have to shrink below
    ``min_step_size``, or when it goes back and forth in u on consecutive steps (at a corner
    of a piecewise-linear map where the branch turns too sharply to follow; those points are
    dropped). A corrected point more than two steps from its prediction is refused (Newton
    has jumped to another branch), and the step is halved. Bifurcations between consecutive
    points are detected from the multipliers (see :mod:`fhnrnn.fixedpoints._detect`). A
    real multiplier crossing +1 is located by Newton on the minimally augmented system,
    exactly whatever the step: a fold where the branch turns back in u, a branch point
    (pitchfork, transcritical) where it goes on through, as it then does; the other
    bifurcations are located by bisection.

    Every length (the steps, ``tol_location``, the guard against jumps) is measured in
    ``(x / state_scale, u)``: by default the state is measured in units of the root mean
    square of the first fixed point, so that the same map written for a state ten times
    larger is followed in the same steps.

    Parameters
    ----------
    step : callable or object with a ``.step`` method
        The map ``F(x (B, d), u (B, 1)) -> (B, d)``, as in :func:`find_fixed_points`.
    x0 : array or Tensor of real numbers, shape (d,) or (1, d)
        One state near a fixed point at ``u_start``: one call follows one branch (for
        several starts, call once per start).
    u_start, u_stop : float
        Where the continuation starts, and the input it heads for (either side of u_start).
    step_size, max_step_size, min_step_size : float
        First, largest and smallest pseudo-arclength step (in the units of
        ``(x / state_scale, u)``).
    max_steps : int
        Largest number of branch points.
    tol_location : float
        Arclength bracket to which flips and Neimark-Sacker points are located (an upper
        bound on their error in u).
    state_scale : float, optional
        The unit of the state in the arclength. Default: the root mean square of the first
        fixed point, or 1 where that is 0.
    options : SearchOptions, optional
        Settings of the search for the start; its ``tol_q`` is also the largest
        ``1/2 ||F(x, u) - x||^2 / state_scale^2`` a corrected point may have.
    device : str or torch.device, optional
        As in :func:`find_fixed_points`.
    **settings
        Fields of :class:`SearchOptions`, replacing those of ``options``.

    Returns
    -------
    Branch

    Raises
    ------
    ValueError
        On bad arguments (``x0`` not one finite real state, e.g. several rows, text,
        booleans or complex numbers), when ``u_start == u_stop``, when the map does not take
        a scalar input, or when no fixed point is found from ``x0``.
    """
    search = SearchOptions.resolve(options, settings)
    steps = _Steps.checked(step_size, max_step_size, min_step_size, max_steps, tol_location)
    bounds = _bounds(u_start, u_stop)
    start = _one_state(x0)
    if state_scale is not None:
        state_scale = finite_positive(state_scale, "state_scale")
    u_start = float(u_start)
    curve, first = _start(
        step, start, u_start, np.sign(u_stop - u_start), state_scale, search, device
    )
    return _follow(curve, first, bounds, steps)


def _one_state(x0: Any) -> torch.Tensor:
    """``x0`` as a finite float64 tensor of shape (1, d)."""
    start = real_tensor(x0, "x0", torch.float64, torch.device("cpu"))
    if start.ndim == 2 and start.shape[0] == 1:
        start = start[0]
    if start.ndim != 1 or start.shape[0] < 1:
        raise ValueError(
            "x0 must be one state, of shape (d,) or (1, d) with d >= 1 (continue_branch "
            f"follows one branch; call it once per start), got shape {tuple(start.shape)}"
        )
    if not bool(torch.isfinite(start).all()):
        bad = int((~torch.isfinite(start)).sum())
        raise ValueError(f"x0 must be finite, got {bad} NaN or inf entries")
    return start[None]


def _bounds(u_start: float, u_stop: float) -> tuple[float, float]:
    for name, value in (("u_start", u_start), ("u_stop", u_stop)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(
            value
        ):
            raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if u_start == u_stop:
        raise ValueError(f"u_stop must differ from u_start, both are {u_start!r}")
    return float(min(u_start, u_stop)), float(max(u_start, u_stop))


def _start(
    step: Any,
    start: torch.Tensor,
    u_start: float,
    direction: float,
    state_scale: float | None,
    search: SearchOptions,
    device: str | torch.device | None,
) -> tuple[Curve, CurvePoint]:
    """The curve of the map and its first point, the fixed point found from ``start`` (1, d)."""
    fn, x, u, work_device = prepare(
        step, start, [u_start], device=device, dtype=torch.float64, noise_scale=0.0, seed=0
    )
    problem = Map(fn, torch.float64, work_device, x.shape[1])
    problem.check(x, u)
    found = find_fixed_points(fn, x, u, options=search, progress=False)
    if len(found) == 0 and search.method == "newton" and search.warmup_iters > 0:
        # Adam's first steps have the length lr whatever the size of the state, and may
        # throw a small state far from its fixed point: Newton alone, from x0 itself
        newton_only = dataclasses.replace(search, warmup_iters=0)
        found = find_fixed_points(fn, x, u, options=newton_only, progress=False)
    if len(found) == 0:
        raise ValueError(
            f"no fixed point found from x0 at u_start = {u_start} (lowest q "
            f"{found.failed_q.min():.2e}, tol_q {search.tol_q:.0e})"
        )
    if state_scale is None:
        size = float(np.sqrt(np.mean(found.xstar[0] ** 2)))
        state_scale = size if size > 0.0 else 1.0
    curve = Curve(problem, search.tol_q, _MAX_CORRECTOR, state_scale)
    y = np.append(found.xstar[0] / state_scale, u_start)
    along_u = np.zeros_like(y)
    along_u[-1] = direction
    corrected = curve.correct(y, along_u, direction * u_start)
    return curve, curve.point(y if corrected is None else corrected[0], along_u)


def _follow(
    curve: Curve, first: CurvePoint, bounds: tuple[float, float], steps: _Steps
) -> Branch:
    """Predictor-corrector steps from ``first`` until the branch leaves ``bounds``."""
    points, events = [first], []
    ds, reason = steps.initial, f"max_steps ({steps.max_steps}) reached"
    reversals = 0
    while len(points) < steps.max_steps:
        a = points[-1]
        b = _step(curve, a, ds)
        if b is None:
            ds *= _SHRINK
            if ds < steps.smallest:
                reason = f"step size fell below min_step_size at u = {a.u:.6g}"
                break
            continue
        leaving = not bounds[0] <= b.u <= bounds[1]
        if leaving:
            b = _land(curve, a, b, bounds) or b
        found = crossings(curve, a, b, steps.tol_location)
        if sum(event.kind == "branch-point" for event in found) % 2:
            b = _turned(b)
        events += [(len(points), event) for event in found]
        points.append(b)
        reversals = reversals + 1 if _reverses(points) else 0
        if reversals >= _MAX_REVERSALS:
            del points[-reversals:]
            events = [(index, event) for index, event in events if index < len(points)]
            reason = (
                f"the branch turns back and forth at u = {points[-1].u:.6g}, where the "
                "continuation cannot follow it (as at too sharp a corner of a "
                "piecewise-linear map)"
            )
            break
        if leaving:
            reason = f"left the interval [{bounds[0]:g}, {bounds[1]:g}] at u = {b.u:.6g}"
            break
        if b.iterations <= _EASY:
            ds = min(ds * _GROW, steps.largest)
    return _branch(curve, points, events, reason)


def _turned(point: CurvePoint) -> CurvePoint:
    """``point`` with its tangent turned round.

    Past a branch point ``det([DG; t])`` has changed sign, so the tangent oriented by it
    points back the way the branch came; turned round, it goes on along the same branch.
    """
    return dataclasses.replace(point, tangent=-point.tangent, orientation=-point.orientation)


def _reverses(points: list[CurvePoint]) -> bool:
    """Whether the last step went the other way in u than the one before it."""
    if len(points) < 3:
        return False
    last, before = points[-1].u - points[-2].u, points[-2].u - points[-3].u
    return last * before < 0


def _step(curve: Curve, a: CurvePoint, ds: float) -> CurvePoint | None:
    """The next branch point, ``ds`` along the tangent at ``a``; None when none is found.

    A correction that ends farther than ``_MAX_DEVIATION * ds`` from the prediction counts as
    failed: Newton has left for another part of the curve. When the corrector fails, the
    step may have crossed a kink of a piecewise-linear map (a region boundary, where the
    tangent turns abruptly, by more than a right angle at a fold): the tangent of the region
    at ``y + ds t``, oriented like the branch, is tried once instead.
    """
    tangents = [a.tangent]
    while tangents:
        tangent = tangents.pop()
        predicted = a.y + ds * tangent
        corrected = curve.correct(predicted, tangent, float(tangent @ predicted))
        if corrected is not None and (
            np.linalg.norm(corrected[0] - predicted) <= _MAX_DEVIATION * ds
        ):
            return curve.point(corrected[0], tangent, a.orientation, corrected[1])
        if tangent is a.tangent:
            _, dg, _ = curve.linearise(predicted)
            beyond, _ = curve.tangent(dg, a.tangent, a.orientation)
            if not np.allclose(beyond, a.tangent, rtol=0.0, atol=1e-12):
                tangents.append(beyond)
    return None


def _land(
    curve: Curve, a: CurvePoint, b: CurvePoint, bounds: tuple[float, float]
) -> CurvePoint | None:
    """The branch point on the end of ``bounds`` that the step from a to b crossed."""
    edge = bounds[0] if b.u < bounds[0] else bounds[1]
    fraction = (edge - a.u) / (b.u - a.u)
    along_u = np.zeros_like(a.y)
    along_u[-1] = 1.0
    corrected = curve.correct(a.y + fraction * (b.y - a.y), along_u, edge)
    if corrected is None:
        return None
    return curve.point(corrected[0], a.tangent, a.orientation, corrected[1])


def _branch(
    curve: Curve, points: list[CurvePoint], events: list[tuple[int, Crossing]], reason: str
) -> Branch:
    y = np.stack([point.y for point in points])
    arclength = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(y, axis=0), axis=1))])
    bifurcations = tuple(
        Bifurcation(
            kind=crossing.kind,
            u=crossing.point.u,
            x=curve.state(crossing.point.y),
            multipliers=crossing.point.multipliers,
            index=index,
        )
        for index, crossing in events
    )
    return Branch(
        u=y[:, -1].copy(),
        xstar=y[:, :-1] * curve.scale,
        eigenvalues=np.stack([point.multipliers for point in points]),
        arclength=arclength,
        bifurcations=bifurcations,
        stop_reason=reason,
        state_scale=curve.scale,
    )
