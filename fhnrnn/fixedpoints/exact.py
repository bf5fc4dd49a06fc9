"""Exact fixed points of piecewise-affine cells: the curve over the input, and certificates.

On an activation region a ReLU cell is affine, ``F(x, u) = A x + B u + c``, and its fixed points
there are the straight segment ``x(u) = (I - A)^{-1} (B u + c)``, which ends where the first
pre-activation reaches zero. :func:`trace_fixed_points` follows the curve made of these
segments across the input range, facet by facet (:mod:`~fhnrnn.fixedpoints._pivot`), with exact
endpoints, the activation pattern and the multipliers of each segment. Since the Jacobian is
constant on a segment, the number of unstable multipliers changes only at facets: every change
of stability is a *border collision* of a piecewise-smooth map (di Bernardo et al. 2008;
Nusse & Yorke 1992), and a *fold* is a facet where the curve turns back in u.
:func:`certify` re-derives a point from its pattern by one affine solve.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from fhnrnn._validation import finite_positive, positive_int, real_array
from fhnrnn.fixedpoints._pivot import End, ParameterisedStack, Pivot
from fhnrnn.fixedpoints.relu import PiecewiseAffine, ReLUStack

__all__ = [
    "Certificate",
    "CurveEvent",
    "End",
    "EventKind",
    "PiecewiseCurve",
    "certify",
    "relu_stack_of",
    "trace_fixed_points",
]

_CORNER = 1e-9  # vertices closer than this (relative to the state's scale) form one corner
_FACET = 1e-9  # a point whose smallest |pre-activation| is below this (relative) is on a facet
_LEADING = 6  # multipliers kept per segment and per event side


class EventKind(str, enum.Enum):
    """What happens to the curve at a facet."""

    FOLD = "fold"
    BORDER_COLLISION = "border collision"


def relu_stack_of(cell: Any) -> ReLUStack:
    """The :class:`ReLUStack` of a cell that declares it (or the stack itself).

    Raises
    ------
    ValueError
        When ``cell`` is neither a ReLUStack nor :class:`PiecewiseAffine`, or has more than
        one input (the exact route follows one scalar input).
    """
    if isinstance(cell, ReLUStack):
        stack = cell
    elif isinstance(cell, PiecewiseAffine):
        stack = cell.relu_stack()
    else:
        raise ValueError(
            "cell must be a ReLUStack or declare itself piecewise affine with a relu_stack() "
            f"method (fhnrnn.fixedpoints.PiecewiseAffine), got {type(cell).__name__}"
        )
    if stack.input_size != 1:
        raise ValueError(
            f"the exact route follows one scalar input; cell has {stack.input_size} inputs"
        )
    return stack


@dataclass(frozen=True, eq=False)
class Certificate:
    """A fixed point re-derived from its activation pattern by one affine solve (float64).

    Attributes
    ----------
    x : ndarray, shape (d,)
        ``(I - A) x = B u + c`` on the pattern's region.
    pattern : ndarray of bool, shape (n_1 + ... + n_L,)
    jacobian : ndarray, shape (d, d)
        ``A = dF/dx`` on the region.
    jacobian_input : ndarray, shape (d, m)
        ``B = dF/du`` on the region.
    valid : bool
        The solution lies in the region of its pattern (up to the facet tolerance).
    margin : float
        Smallest ``|z|`` over the units whose pre-activation varies on the region, relative to
        the scale of the pre-activations (inf when none varies).
    on_facet : bool
        ``margin`` below the facet tolerance (1e-9): the point lies on a border.
    residual : float
        ``max |F(x, u) - x|`` evaluated through the stack.
    """

    x: np.ndarray
    pattern: np.ndarray
    jacobian: np.ndarray
    jacobian_input: np.ndarray
    valid: bool
    margin: float
    on_facet: bool
    residual: float


def certify(cell: Any, x: np.ndarray, u: float) -> Certificate:
    """Re-derive the fixed point near ``x`` (d,) at input ``u`` from its activation pattern."""
    stack = relu_stack_of(cell)
    state = _checked_state(x, stack.state_size)
    inputs = real_array(u, "u").reshape(-1)
    if inputs.size != 1:
        raise ValueError(f"u must be one number, got shape {np.shape(u)}")
    pattern = stack.pattern(state, inputs)
    layer_maps = stack.preactivation_maps(pattern)
    a, b, c = stack.affine_piece(pattern, layer_maps)
    solved = np.linalg.solve(np.eye(stack.state_size) - a, b @ inputs + c)
    maps = np.vstack(layer_maps)
    layers = maps @ np.concatenate([solved, inputs, [1.0]])
    scale = 1.0 + np.abs(layers).max()
    # A unit whose pre-activation does not vary on the region (every path to it is off) is
    # constant there: it bounds nothing, even where that constant is zero.
    bounding = np.abs(maps[:, :-1]).max(axis=1) > 0
    signed = np.where(pattern, layers, -layers)[bounding] / scale
    margin = float(np.abs(signed).min()) if signed.size else np.inf
    residual = np.abs(stack.step(solved[None], inputs[None])[0] - solved).max()
    return Certificate(
        x=solved,
        pattern=pattern,
        jacobian=a,
        jacobian_input=b,
        valid=bool(signed.size == 0 or signed.min() > -_FACET),
        margin=margin,
        on_facet=margin < _FACET,
        residual=float(residual),
    )


@dataclass(frozen=True, eq=False)
class CurveEvent:
    """A fold or a border collision at a corner of the curve.

    Attributes
    ----------
    kind : EventKind
    u : float
        Input at the corner.
    vertex : int
        Index of the corner's first vertex in :attr:`PiecewiseCurve.u`.
    units : tuple of (int, int)
        The (layer, unit) pairs that switch there.
    n_unstable : (int, int)
        Unstable multipliers on the segment before and after.
    multipliers : (ndarray, ndarray)
        The leading multipliers (by modulus) before and after, shape (k,) each.
    """

    kind: EventKind
    u: float
    vertex: int
    units: tuple[tuple[int, int], ...]
    n_unstable: tuple[int, int]
    multipliers: tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class PiecewiseCurve:
    """The fixed-point curve of a piecewise-affine cell through one point, both ways.

    Attributes
    ----------
    u : ndarray, shape (V,)
        Input at each vertex, in order along the curve.
    x : ndarray, shape (V, d)
        State at each vertex.
    patterns : ndarray of bool, shape (V - 1, n_units)
        Activation pattern of each segment (segment i joins vertices i and i + 1).
    multipliers : ndarray of complex, shape (V - 1, k)
        Leading eigenvalues of ``dF/dx`` on each segment, by modulus (k = min(d, 6)).
    n_unstable : ndarray of int, shape (V - 1,)
        Multipliers with modulus above 1 on each segment.
    events : tuple of CurveEvent
        Folds and border collisions, in order along the curve.
    ends : (End, End)
        Why the curve stops at its first and at its last vertex.
    n_ties : int
        Corners where several units switched at once (each resolved, or an end says not).
    """

    u: np.ndarray
    x: np.ndarray
    patterns: np.ndarray
    multipliers: np.ndarray
    n_unstable: np.ndarray
    events: tuple[CurveEvent, ...]
    ends: tuple[End, End]
    n_ties: int

    @property
    def n_segments(self) -> int:
        """Number of segments."""
        return len(self.patterns)

    @property
    def folds(self) -> tuple[CurveEvent, ...]:
        """The folds, in order along the curve."""
        return tuple(event for event in self.events if event.kind is EventKind.FOLD)

    @property
    def border_collisions(self) -> tuple[CurveEvent, ...]:
        """The facets where the number of unstable multipliers changes (folds excluded)."""
        return tuple(e for e in self.events if e.kind is EventKind.BORDER_COLLISION)

    def passes(self, x: np.ndarray, u: float, tol: float = 1e-7) -> bool:
        """Whether the state ``x`` (d,) at input ``u`` lies on the curve.

        "On" means within ``tol * (1 + |x|_inf)`` of one of its points at ``u``.
        """
        states, _ = self.points_at(u)
        scale = tol * (1.0 + np.abs(x).max())
        return bool(len(states)) and bool(np.abs(states - x).max(axis=1).min() <= scale)

    def points_at(self, u: float) -> tuple[np.ndarray, np.ndarray]:
        """The curve's points at input ``u``: states (P, d) and their segments (P,).

        A vertex at ``u`` shared by two segments counts once (for the first of them); a segment
        at constant input ``u`` (a continuum of fixed points) gives its first vertex.
        """
        start, stop = self.u[:-1], self.u[1:]
        inside = (np.minimum(start, stop) <= u) & (u <= np.maximum(start, stop))
        inside[1:] &= ~(inside[:-1] & (start[1:] == u))
        segments = np.flatnonzero(inside)
        span = stop[segments] - start[segments]
        weight = np.divide(u - start[segments], span, out=np.zeros(len(segments)), where=span != 0)
        states = self.x[segments] + weight[:, None] * (self.x[segments + 1] - self.x[segments])
        return states, segments


def trace_fixed_points(
    cell: Any,
    x0: Any,
    u0: float,
    u_range: tuple[float, float],
    *,
    bound: float | None = None,
    max_segments: int = 100_000,
) -> PiecewiseCurve:
    """Follow the fixed-point curve of a piecewise-affine cell through ``(x0, u0)``, both ways.

    ``x0`` is first replaced by the exact fixed point of its region (:func:`certify`). The curve
    is followed in both directions until it leaves ``u_range``, leaves the box
    ``|x|_inf <= bound``, closes into a loop, or meets a degenerate corner (each reported in
    :attr:`PiecewiseCurve.ends`).

    Parameters
    ----------
    cell : PiecewiseAffine or ReLUStack
        E.g. :class:`fhnrnn.models.PaperRNN`; one scalar input.
    x0 : array_like, shape (d,)
        A fixed point at ``u0`` (or a state in the same region as one).
    u0 : float
        Its input.
    u_range : (float, float)
        ``(low, high)`` with ``low <= u0 <= high``.
    bound : float, optional
        Box of states; default ``1e3 * (1 + |x0|_inf)``.
    max_segments : int
        Segments per direction.

    Returns
    -------
    PiecewiseCurve
    """
    stack = relu_stack_of(cell)
    low, high = _checked_range(u_range, u0)
    max_segments = positive_int(max_segments, "max_segments")
    start = certify(stack, _checked_state(x0, stack.state_size), u0)
    if not start.valid:
        raise ValueError(
            f"x0 is not in the region of a fixed point at u0 = {u0}: the affine solve of its "
            "region lands outside the region (search for a fixed point first)"
        )
    scale = 1.0 + np.abs(start.x).max()
    bound = 1e3 * scale if bound is None else finite_positive(bound, "bound")
    system = ParameterisedStack.along_input(stack)
    y0 = np.append(start.x, float(u0))
    backward = Pivot(system, y0, -1.0).run(low, high, bound, max_segments)
    forward = Pivot(system, y0, 1.0).run(low, high, bound, max_segments)
    return _joined(stack, backward, forward)


def _checked_range(u_range: tuple[float, float], u0: float) -> tuple[float, float]:
    try:
        low, high = (float(value) for value in u_range)
    except (TypeError, ValueError):
        raise ValueError(f"u_range must be a pair (low, high), got {u_range!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise ValueError(f"u_range must be finite with low <= high, got {u_range!r}")
    if isinstance(u0, bool) or not np.isfinite(u0) or not low <= u0 <= high:
        raise ValueError(f"u0 must be a finite number in u_range {u_range!r}, got {u0!r}")
    return low, high


def _checked_state(x0: Any, d: int) -> np.ndarray:
    state = real_array(x0, "x0")
    if state.size != d:
        raise ValueError(f"x0 must hold {d} numbers (one state), got shape {state.shape}")
    return state.reshape(d)


def _joined(stack: ReLUStack, backward: Any, forward: Any) -> PiecewiseCurve:
    """One curve from the two traces out of the start's region (which both begin in)."""
    if forward.end is End.LOOP:
        vertices, patterns, slopes = forward.vertices, forward.patterns, forward.slopes
        crossings, ends = forward.crossings, (End.LOOP, End.LOOP)
        ties = forward.ties
    else:
        vertices = [*backward.vertices[::-1][:-1], *forward.vertices[1:]]
        patterns = [*backward.patterns[::-1], *forward.patterns[1:]]
        slopes = [*(-s for s in backward.slopes[::-1]), *forward.slopes[1:]]
        crossings = [*backward.crossings[::-1], *forward.crossings]
        ends = (backward.end, forward.end)
        ties = backward.ties + forward.ties
    vertices = np.array(vertices)
    pattern_array = np.array(patterns, dtype=bool)
    full = [region_multipliers(stack, pattern) for pattern in pattern_array]
    spectra = np.array([values[: min(_LEADING, stack.state_size)] for values in full])
    n_unstable = np.array([(np.abs(values) > 1.0).sum() for values in full], dtype=np.int64)
    events = _events(vertices, np.array(slopes), crossings, spectra, n_unstable)
    return PiecewiseCurve(
        u=vertices[:, -1].copy(),
        x=vertices[:, :-1].copy(),
        patterns=pattern_array,
        multipliers=spectra,
        n_unstable=n_unstable,
        events=events,
        ends=ends,
        n_ties=ties,
    )


def _events(
    vertices: np.ndarray,
    slopes: np.ndarray,
    crossings: list,
    spectra: np.ndarray,
    n_unstable: np.ndarray,
) -> tuple[CurveEvent, ...]:
    """Folds and stability changes between corners (runs of vertices closer than _CORNER)."""
    steps = np.abs(np.diff(vertices, axis=0)).max(axis=1)
    tiny = steps <= _CORNER * (1.0 + np.abs(vertices).max())
    events, before = [], 0
    while before < len(slopes) - 1:
        after = before + 1
        while after < len(slopes) - 1 and tiny[after]:
            after += 1
        folded = np.sign(slopes[before]) != np.sign(slopes[after])
        changed = n_unstable[before] != n_unstable[after]
        if folded or changed:
            units = tuple(unit for crossing in crossings[before:after] for unit in crossing)
            events.append(CurveEvent(
                kind=EventKind.FOLD if folded else EventKind.BORDER_COLLISION,
                u=float(vertices[before + 1, -1]),
                vertex=before + 1,
                units=units,
                n_unstable=(int(n_unstable[before]), int(n_unstable[after])),
                multipliers=(spectra[before], spectra[after]),
            ))
        before = after
    return tuple(events)


def cycle_blocks(stack: ReLUStack, pattern: np.ndarray) -> list[np.ndarray]:
    """The blocks whose cyclic product has the non-zero multipliers of a pattern's region.

    ``A = R D_L W_L ... D_1 W_1 P``; its non-zero eigenvalues are those of
    ``B_1 B_L ... B_2`` with ``B_1 = (W_1 P R)[a_1, a_L]`` and ``B_l = W_l[a_l, a_{l-1}]``
    (``a_l``: the units on in layer l), a matrix of the size of one layer's active units;
    it has at most d non-zero eigenvalues, since ``W_1 P R`` has rank at most d.
    """
    active = [np.flatnonzero(part) for part in stack.split(pattern)]
    blocks = [_block(stack.closing, active[0], active[-1])]
    for layer in range(1, len(active)):
        blocks.append(_block(stack.weights[layer], active[layer], active[layer - 1]))
    return blocks


def _block(matrix: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``matrix[rows][:, columns]`` by two takes (faster than one np.ix_ gather)."""
    return matrix.take(rows, axis=0).take(columns, axis=1)


def region_multipliers(stack: ReLUStack, pattern: np.ndarray) -> np.ndarray:
    """All d multipliers of a region, by modulus (largest first), shape (d,)."""
    blocks = cycle_blocks(stack, pattern)
    smallest = int(np.argmin([block.shape[0] for block in blocks]))
    order = [*blocks[smallest + 1 :], *blocks[: smallest + 1]]
    product = np.eye(order[0].shape[1])
    for block in order:
        product = block @ product
    values = np.linalg.eigvals(product) if product.size else np.zeros(0, dtype=complex)
    values = values[np.argsort(-np.abs(values), kind="stable")][: stack.state_size]
    padded = np.zeros(stack.state_size, dtype=np.complex128)
    padded[: values.size] = values
    return padded
