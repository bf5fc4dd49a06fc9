"""Bifurcations between two consecutive points of a branch: detection and location.

Three test functions change at a codimension-one bifurcation of a fixed point of a map:

- ``sign det(dF/dx - I)`` flips when a real multiplier crosses +1 (a fold when the branch
  also turns, i.e. the u-component of the tangent changes sign; a branch point otherwise);
  on a piecewise-linear map, where multipliers jump, two may cross +1 at once at a kink
  where the branch turns: a sign change of the tangent's u-component alone is a fold too;
- ``sign det(dF/dx + I)`` flips when a real multiplier crosses -1 (a flip);
- the number of non-real multipliers outside the unit circle changes by two, together with
  the number of all multipliers outside it, when a complex pair crosses the circle
  (Neimark-Sacker); a collision of two real multipliers outside the circle changes the first
  count but not the second, and is no bifurcation.

Each change is located by bisection on the pseudo-arclength of the step, the point at each
trial being corrected onto the curve, until the bracket is shorter than ``tol``; the input
moves by at most that much across the bracket (the tangent has unit length). Where the
correction fails, or the tangent turns by a right angle or more and the straight pieces
through the bracket's ends meet on the curve (a sharp kink of a piecewise-linear map), the
kink is located where they meet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fhnrnn.fixedpoints._arclength import Curve, CurvePoint


@dataclass(frozen=True)
class Crossing:
    """A located bifurcation: its kind and the curve point just past it."""

    kind: str
    point: CurvePoint


def _events(a: CurvePoint, b: CurvePoint) -> list[tuple[str, Callable[[CurvePoint], int]]]:
    """The test functions that change from ``a`` to ``b``, with a provisional kind each."""
    events: list[tuple[str, Callable[[CurvePoint], int]]] = []
    if a.fold_sign != b.fold_sign:
        events.append(("fold", lambda p: p.fold_sign))
    elif np.sign(a.tangent[-1]) != np.sign(b.tangent[-1]):
        events.append(("fold", lambda p: int(np.sign(p.tangent[-1]))))
    if a.flip_sign != b.flip_sign:
        events.append(("flip", lambda p: p.flip_sign))
    complex_change = b.n_complex_unstable - a.n_complex_unstable
    if complex_change and complex_change == b.n_unstable - a.n_unstable:
        events.append(("neimark-sacker", lambda p: p.n_complex_unstable))
    return events


def crossings(curve: Curve, a: CurvePoint, b: CurvePoint, tol: float) -> list[Crossing]:
    """The bifurcations between consecutive branch points ``a`` and ``b``, located."""
    found = []
    for kind, key in _events(a, b):
        lo, hi = _bisect(curve, a, b, key, tol)
        if kind == "fold" and np.sign(lo.tangent[-1]) == np.sign(hi.tangent[-1]):
            kind = "branch-point"
        found.append(Crossing(kind, hi))
    return found


def _bisect(
    curve: Curve, a: CurvePoint, b: CurvePoint, key: Callable[[CurvePoint], int], tol: float
) -> tuple[CurvePoint, CurvePoint]:
    """Points on either side of the change of ``key`` between ``a`` and ``b``.

    The trial points lie on the hyperplanes ``t_a . (y - y_a) = s`` for s between 0 and
    ``t_a . (y_b - y_a)``, each corrected from the chord between the bracket's ends. When the
    tangent turns by a right angle or more from a to b, those hyperplanes need not cross the
    curve between them (they may meet only the two straight pieces of a piecewise-linear
    map's kink, on either side of it): if the lines through a and b along their tangents meet
    on the curve, that corner is the kink, and is returned at once.
    """
    if float(a.tangent @ b.tangent) <= 0.0:  # a turn of a right angle or more
        vertex = _vertex(a, b)
        if curve.q(vertex) < curve.tol_q:  # on the curve: a kink's corner
            return a, dataclasses.replace(b, y=vertex)
    row, origin = a.tangent, float(a.tangent @ a.y)
    lo, hi = (a, 0.0), (b, float(a.tangent @ (b.y - a.y)))
    side = key(a)
    while hi[1] - lo[1] > tol:
        middle = 0.5 * (lo[1] + hi[1])
        fraction = (middle - lo[1]) / (hi[1] - lo[1])
        guess = lo[0].y + fraction * (hi[0].y - lo[0].y)
        corrected = curve.correct(guess, row, origin + middle)
        if corrected is None:  # past a sharp kink of a piecewise-linear map
            return lo[0], dataclasses.replace(hi[0], y=_vertex(lo[0], hi[0]))
        trial = curve.point(corrected[0], a.tangent, a.orientation, corrected[1])
        if key(trial) == side:
            lo = (trial, middle)
        else:
            hi = (trial, middle)
    return lo[0], hi[0]


def _vertex(lo: CurvePoint, hi: CurvePoint) -> np.ndarray:
    """Where the lines through ``lo`` and ``hi`` along their tangents meet (least squares).

    On a piecewise-linear map the branch is straight within each region, so this is the kink
    between the two regions, found without correcting onto hyperplanes that may miss it.
    """
    directions = np.stack([lo.tangent, -hi.tangent], axis=1)
    (s, r), *_ = np.linalg.lstsq(directions, hi.y - lo.y, rcond=None)
    return 0.5 * (lo.y + s * lo.tangent + hi.y + r * hi.tangent)
