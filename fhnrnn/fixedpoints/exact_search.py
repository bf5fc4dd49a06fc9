"""A complete search for the fixed points of a piecewise-affine cell at given inputs.

Two exact tools, both pivoting across activation facets (:mod:`~fhnrnn.fixedpoints._pivot`):

- the piecewise-linear *homotopy* ``H(x, s) = F(x, u) - x - (1 - s)(F(x0, u) - x0)`` carries a
  start ``x0`` (s = 0) to a fixed point at s = 1 (the idea of Eaves & Lemke's complementary
  pivoting; SCYFI, Eisenmann et al. 2023), unless its path turns back to s = 0 or leaves the
  box;
- every fixed point it reaches is continued across the whole input range
  (:func:`~fhnrnn.fixedpoints.exact.trace_fixed_points`), so a component of the fixed-point
  curve met at one input is known at every input it reaches.

Inputs the components found do not reach get homotopies from a point found at each of the
four nearest inputs that have one; an input still without a point is reported with the
reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fhnrnn._progress import progress_bar
from fhnrnn._validation import positive_int, real_array
from fhnrnn.fixedpoints._pivot import End, ParameterisedStack, Pivot
from fhnrnn.fixedpoints.exact import PiecewiseCurve, certify, relu_stack_of, trace_fixed_points
from fhnrnn.fixedpoints.relu import ReLUStack
from fhnrnn.fixedpoints.results import FixedPoints

__all__ = ["ExactSearch", "find_fixed_points_exact"]

_SAME = 1e-7  # points closer than this (relative to the state's scale) are one point
_NEAR = 0.1  # a start this close (relative to its scale) to a failed one is deferred
_GAP_TRIES = 4  # an input no component reaches gets homotopies from this many nearest inputs


@dataclass(frozen=True, eq=False)
class ExactSearch:
    """What :func:`find_fixed_points_exact` found and how.

    Attributes
    ----------
    points : FixedPoints
        Every fixed point on the components found, at every input (``method == "exact"``).
        ``n_started`` counts the homotopies run and the points read off the components,
        ``n_failed`` the homotopies that found no fixed point (``failed_x``: where each path
        ended; ``failed_index``: its place in ``homotopy_ends``).
    curves : tuple of PiecewiseCurve
        The components, each traced across the input range.
    patterns : ndarray of bool, shape (K, n_units)
        Activation pattern of each point (its certificate: one affine solve re-derives it).
    margins : ndarray, shape (K,)
        Each point's distance to the nearest facet, relative (see
        :class:`~fhnrnn.fixedpoints.exact.Certificate`).
    on_facet : ndarray of bool, shape (K,)
        Points within the facet tolerance of a border.
    homotopy_ends : tuple of str
        How each homotopy ended: ``"fixed point"``, ``"back to s = 0"`` or an
        :class:`~fhnrnn.fixedpoints.exact.End` message.
    homotopy_starts : ndarray of int, shape (H,)
        For each homotopy (in the order run, as ``homotopy_ends``), the row of ``starts`` it
        started from, or -1 for one started from a point found at another input.
    reasons : dict of float to str
        For each input without a fixed point, why.
    """

    points: FixedPoints
    curves: tuple[PiecewiseCurve, ...]
    patterns: np.ndarray
    margins: np.ndarray
    on_facet: np.ndarray
    homotopy_ends: tuple[str, ...]
    homotopy_starts: np.ndarray
    reasons: dict[float, str]

    def summary(self) -> str:
        """Counts of points, components, homotopies and inputs without a point."""
        ends = {end: self.homotopy_ends.count(end) for end in sorted(set(self.homotopy_ends))}
        lines = [
            f"{len(self.points)} fixed points on {len(self.curves)} component(s); "
            f"{len(self.homotopy_ends)} homotopies: {ends}",
            f"inputs without a fixed point: {len(self.reasons)}",
        ]
        lines.extend(f"  u = {u:.6g}: {reason}" for u, reason in self.reasons.items())
        return "\n".join(lines)


def find_fixed_points_exact(
    cell: Any,
    inputs: Any,
    starts: Any,
    start_index: Any,
    *,
    patience: int | None = 8,
    max_segments: int = 20_000,
    progress: bool = False,
) -> ExactSearch:
    """Fixed points of a piecewise-affine cell at each input, by homotopy and continuation.

    Parameters
    ----------
    cell : PiecewiseAffine or ReLUStack
        E.g. :class:`fhnrnn.models.PaperRNN`; one scalar input.
    inputs : array_like, shape (K,) or (K, 1)
        The inputs, strictly increasing.
    starts : array_like, shape (N, d)
        Homotopy starts (e.g. states along trajectories,
        :func:`fhnrnn.analysis.trajectory_starts`).
    start_index : array_like of int, shape (N,)
        The row of ``inputs`` of each start.
    patience : int or None
        The starts are taken round-robin over the inputs (every input's first start, then
        every input's second, ...), except that a start within 10 % of its scale
        (``0.1 * (1 + |x|_inf)``, max-norm) of a start whose homotopy failed is deferred until
        every other start has been taken: homotopies from nearby states at nearby inputs tend
        to end alike. Once every input has a point, the search stops after ``patience``
        homotopies in a row that reached only components already found (or none); None runs
        every start.
    max_segments : int
        Segments per homotopy path and per direction of a continuation.
    progress : bool
        Show a progress bar over the starts.

    Returns
    -------
    ExactSearch
    """
    stack = relu_stack_of(cell)
    values = _checked_inputs(inputs)
    states, rows = _checked_starts(starts, start_index, stack.state_size, len(values))
    if patience is not None:
        patience = positive_int(patience, "patience")
    search = _Search(stack, values, positive_int(max_segments, "max_segments"))
    queue = _Queue(states, _round_robin(rows))
    quiet = 0
    for _ in progress_bar(range(len(states)), disable=not progress, desc="homotopies"):
        index = queue.pop()
        components = len(search.curves)
        if not search.from_start(states[index], int(rows[index]), index):
            queue.defer_near(states[index])
        quiet = 0 if len(search.curves) > components else quiet + 1
        if patience is not None and quiet >= patience and search.covers_all():
            break
    search.fill_gaps()
    return search.result()


def _round_robin(rows: np.ndarray) -> np.ndarray:
    """Indices of the starts, each input's first start first, then each input's second, ..."""
    rank = np.zeros(len(rows), dtype=np.int64)
    for row in np.unique(rows):
        rank[rows == row] = np.arange((rows == row).sum())
    return np.lexsort((rows, rank))


class _Queue:
    """The starts not yet taken, in order, those near a failed start deferred."""

    def __init__(self, states: np.ndarray, order: np.ndarray):
        self.states, self.order = states, list(order)
        self.deferred = np.zeros(len(states), dtype=bool)
        self.scale = _NEAR * (1.0 + np.abs(states).max(axis=1))

    def pop(self) -> int:
        """The first start in order that is not deferred (the first deferred when all are)."""
        for place, index in enumerate(self.order):
            if not self.deferred[index]:
                return self.order.pop(place)
        return self.order.pop(0)

    def defer_near(self, state: np.ndarray) -> None:
        """Defer the starts within their ``_NEAR`` scale of ``state`` (d,)."""
        self.deferred |= np.abs(self.states - state).max(axis=1) <= self.scale


def _checked_inputs(inputs: Any) -> np.ndarray:
    values = real_array(inputs, "inputs")
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.size < 1:
        raise ValueError(
            f"inputs must be a non-empty array of shape (K,) or (K, 1), got {values.shape}"
        )
    if np.any(np.diff(values) <= 0):
        raise ValueError("inputs must be strictly increasing")
    return values


def _checked_starts(
    starts: Any, start_index: Any, d: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    states = real_array(starts, "starts")
    if states.ndim != 2 or states.shape[1] != d or states.shape[0] < 1:
        raise ValueError(f"starts must have shape (N, {d}) with N >= 1, got {states.shape}")
    rows = np.asarray(start_index)
    if rows.dtype.kind not in "iu" or rows.shape != (len(states),):
        raise ValueError(
            f"start_index must be {len(states)} integers, got {rows.dtype} of shape {rows.shape}"
        )
    if rows.size and (rows.min() < 0 or rows.max() >= k):
        raise ValueError(
            f"start_index must lie in [0, {k}), got values in [{rows.min()}, {rows.max()}]"
        )
    return states, rows


class _Search:
    """The components found so far, the homotopies run, and the points per input."""

    def __init__(self, stack: ReLUStack, inputs: np.ndarray, max_segments: int):
        self.stack, self.inputs, self.max_segments = stack, inputs, max_segments
        self.curves: list[PiecewiseCurve] = []
        self.ends: list[str] = []
        self.failed: list[tuple[np.ndarray, float, int]] = []
        self.starts: list[int] = []
        self.n_started = 0

    def from_start(self, state: np.ndarray, row: int, start: int = -1) -> bool:
        """A homotopy from ``state`` at input ``row``; whether it reached a fixed point.

        A fixed point on no component found so far starts a new one. ``start``: the row of
        the state in the search's starts (-1: a point found at another input).
        """
        self.n_started += 1
        self.starts.append(start)
        u = self.inputs[row]
        system = ParameterisedStack.homotopy(self.stack, state, np.array([u]))
        bound = 1e3 * (1.0 + np.abs(state).max())
        trace = Pivot(system, np.append(state, 0.0), 1.0).run(0.0, 1.0, bound, self.max_segments)
        end = trace.vertices[-1]
        if trace.end is End.PARAMETER and end[-1] > 0.5:
            self.ends.append("fixed point")
            self._add(end[:-1], u)
            return True
        self.ends.append("back to s = 0" if trace.end is End.PARAMETER else trace.end.message)
        self.failed.append((end[:-1], u, len(self.ends) - 1))
        return False

    def _add(self, state: np.ndarray, u: float) -> None:
        if any(curve.passes(state, u, _SAME) for curve in self.curves):
            return
        certificate = certify(self.stack, state, u)
        if certificate.valid:
            span = (float(self.inputs[0]), float(self.inputs[-1]))
            self.curves.append(trace_fixed_points(
                self.stack, certificate.x, u, span, max_segments=self.max_segments
            ))

    def points_at(self, u: float) -> list[tuple[np.ndarray, int, int]]:
        """(state, curve, segment) of every point found at u."""
        found = []
        for index, curve in enumerate(self.curves):
            states, segments = curve.points_at(u)
            found.extend(zip(states, [index] * len(states), segments, strict=True))
        return found

    def covers_all(self) -> bool:
        """Every input has a point on a component found."""
        return all(self.points_at(u) for u in self.inputs)

    def fill_gaps(self) -> None:
        """Homotopies at the inputs no component reaches, from the points of the nearest."""
        covered = [bool(self.points_at(u)) for u in self.inputs]
        for row in np.flatnonzero(~np.array(covered)):
            nearest = np.argsort(np.abs(self.inputs - self.inputs[row]), kind="stable")
            donors = [near for near in nearest if covered[near]][:_GAP_TRIES]
            for near in donors:
                if self.points_at(self.inputs[row]):
                    break
                self.from_start(self.points_at(self.inputs[near])[0][0], int(row))

    def result(self) -> ExactSearch:
        rows = [(state, u, curve, segment) for u in self.inputs
                for state, curve, segment in self.points_at(u)]
        certificates = [certify(self.stack, state, u) for state, u, _, _ in rows]
        patterns = np.array([c.pattern for c in certificates], dtype=bool).reshape(
            -1, sum(self.stack.widths))
        points = _fixed_points(self.stack, certificates, patterns,
                               [u for _, u, _, _ in rows], self.n_started, self.failed)
        return ExactSearch(
            points=points,
            curves=tuple(self.curves),
            patterns=patterns,
            margins=np.array([c.margin for c in certificates], dtype=np.float64),
            on_facet=np.array([c.on_facet for c in certificates], dtype=bool),
            homotopy_ends=tuple(self.ends),
            homotopy_starts=np.array(self.starts, dtype=np.int64),
            reasons={float(u): self._reason(u) for u in self.inputs if not self.points_at(u)},
        )

    def _reason(self, u: float) -> str:
        tried = [self.ends[i] for _, at, i in self.failed if at == u]
        ranges = ", ".join(f"[{c.u.min():.4g}, {c.u.max():.4g}]" for c in self.curves)
        return (
            f"none of the {len(tried)} homotopies from this input's starts and from the points "
            f"found nearby reached a fixed point ({', '.join(sorted(set(tried))) or 'none run'}); "
            f"the {len(self.curves)} component(s) found span {ranges or 'nothing'}"
        )


def _fixed_points(
    stack: ReLUStack,
    certificates: list,
    patterns: np.ndarray,
    inputs: list[float],
    n_started: int,
    failed: list[tuple[np.ndarray, float, int]],
) -> FixedPoints:
    """The found points with their exact Jacobians (the affine pieces) and multipliers."""
    d = stack.state_size
    xstar = np.array([c.x for c in certificates]).reshape(-1, d)
    u = np.array(inputs, dtype=np.float64).reshape(-1, 1)
    jacobian = np.array([c.jacobian for c in certificates]).reshape(-1, d, d)
    values, vectors = _sorted_eig(jacobian, patterns)
    residual = stack.step(xstar, u) - xstar if len(xstar) else np.zeros((0, d))
    failed_x = np.array([state for state, _, _ in failed]).reshape(-1, d)
    failed_u = np.array([at for _, at, _ in failed], dtype=np.float64).reshape(-1, 1)
    failed_r = stack.step(failed_x, failed_u) - failed_x if len(failed) else np.zeros((0, d))
    return FixedPoints(
        xstar=xstar,
        u=u,
        q=0.5 * (residual**2).sum(axis=1),
        jacobian=jacobian,
        jacobian_input=np.array([c.jacobian_input for c in certificates]).reshape(-1, d, 1),
        eigenvalues=values,
        eigenvectors=vectors,
        n_started=n_started + len(xstar),
        n_converged=n_started + len(xstar) - len(failed),
        failed_x=failed_x,
        failed_u=failed_u,
        failed_q=0.5 * (failed_r**2).sum(axis=1),
        failed_index=np.array([index for _, _, index in failed], dtype=np.int64),
        method="exact",
        linear_solver="dense",
        tol_q=0.0,
        tol_unique=_SAME,
        adam_iterations=0,
        newton_iterations=0,
    )


def _sorted_eig(jacobian: np.ndarray, patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (K, d) by decreasing modulus and eigenvectors (K, d, d), once per pattern.

    Points in one activation region (``patterns``, (K, L*H)) share their Jacobian, so each
    distinct region is decomposed once.
    """
    if not len(jacobian):
        d = jacobian.shape[1]
        return np.zeros((0, d), dtype=complex), np.zeros((0, d, d), dtype=complex)
    _, first, region = np.unique(patterns, axis=0, return_index=True, return_inverse=True)
    shared = len(first) < len(jacobian)
    values, vectors = np.linalg.eig(jacobian[first] if shared else jacobian)
    order = np.argsort(-np.abs(values), axis=1, kind="stable")
    for point, columns in enumerate(order):  # in place: no second array of K d x d
        vectors[point] = vectors[point][:, columns]
    values = np.take_along_axis(values, order, axis=1)
    if not shared:
        return values, vectors
    region = region.reshape(-1)
    return values[region], vectors[region]
