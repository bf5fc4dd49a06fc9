"""Bifurcations between two consecutive points of a branch: detection and location.

Three test functions change at a codimension-one bifurcation of a fixed point of a map:

- ``sign det(dF/dx - I)`` flips when a real multiplier crosses +1 (a fold or a branch
  point, told apart as below); on a piecewise-linear map, where multipliers jump, two may
  cross +1 at once at a kink where the branch turns: a sign change of the tangent's
  u-component alone is a fold too;
- ``sign det(dF/dx + I)`` flips when a real multiplier crosses -1 (a flip);
- the number of non-real multipliers outside the unit circle changes by two, together with
  the number of all multipliers outside it, when a complex pair crosses the circle
  (Neimark-Sacker); a collision of two real multipliers outside the circle changes the first
  count but not the second, and is no bifurcation.

A real multiplier crossing +1 is located by Newton on the minimally augmented system (see
:mod:`fhnrnn.fixedpoints._augmented`), so exactly, whatever the step that passed it. It is a
fold when the branch turns back in u there (the inputs at both ends of the step lie on the
same side of it) and a branch point when the branch goes on through it (they lie on either
side): at a branch point another branch crosses, and ``det([DG; t])``, which fixes the
orientation of the tangent, changes sign, so the continuation must turn the tangent round
to go on (see :func:`fhnrnn.fixedpoints.branch.continue_branch`).

Where that Newton fails (on a piecewise-linear map, where no multiplier passes through +1
but jumps across it), and for the other changes, the change is located by bisection: each
trial point is corrected onto the curve on the hyperplane through the middle of the
bracket's chord, orthogonal to it, until the bracket is shorter than ``tol``; the input
moves by at most that much across it. Where the correction fails, or the tangent turns by a
right angle or more, and the straight pieces through the bracket's ends meet exactly on the
curve (a sharp kink of a piecewise-linear map), the kink is located where they meet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fhnrnn.fixedpoints._arclength import Curve, CurvePoint
from fhnrnn.fixedpoints._augmented import locate_singular


@dataclass(frozen=True)
class Crossing:
    """A located bifurcation: its kind and the curve point at it (located by Newton) or just
    past it (by bisection)."""

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
    found = _turning_branch_point(curve, a, b)
    for kind, key in _events(a, b):
        singular = kind == "fold" and a.fold_sign != b.fold_sign
        located = locate_singular(curve, a, b) if singular else None
        if located is not None:
            point = curve.point(located, a.tangent, a.orientation)
        else:
            point = _bisect(curve, a, b, key, tol)[1]
        if kind == "fold" and (a.u - point.u) * (b.u - point.u) < 0.0:
            kind = "branch-point"
        found.append(Crossing(kind, point))
    return found


def _turning_branch_point(curve: Curve, a: CurvePoint, b: CurvePoint) -> list[Crossing]:
    """A branch point where the branch turns back in u, as a pitchfork's side branch does.

    There no multiplier crosses +1 (it touches +1 and goes back), but ``det([DG; t])``
    changes sign: the tangent at b, oriented by it, points back against the tangent at a.
    A sharp kink of a piecewise-linear map turns the tangent too, but there ``dF/dx - I`` is
    nowhere singular, and Newton on the augmented system fails.
    """
    if a.fold_sign != b.fold_sign or float(a.tangent @ b.tangent) >= 0.0:
        return []
    located = locate_singular(curve, a, b)
    if located is None:
        return []
    return [Crossing("branch-point", curve.point(located, a.tangent, a.orientation))]


def _bisect(
    curve: Curve, a: CurvePoint, b: CurvePoint, key: Callable[[CurvePoint], int], tol: float
) -> tuple[CurvePoint, CurvePoint]:
    """Points on either side of the change of ``key`` between ``a`` and ``b``, at most
    ``tol`` apart (or a kink's corner found exactly, or the last bracket where the
    correction fails).

    Each trial point is corrected from the middle of the bracket's chord on the hyperplane
    through it orthogonal to the chord. When the tangent turns by a right angle or more from
    a to b, those hyperplanes need not cross the curve between them (they may meet only the
    two straight pieces of a piecewise-linear map's kink, on either side of it): if the lines
    through a and b along their tangents meet exactly on the curve, that corner is the kink,
    and is returned at once.
    """
    if float(a.tangent @ b.tangent) <= 0.0:  # a turn of a right angle or more
        corner = _corner(curve, a, b)
        if corner is not None:
            return corner
    lo, hi = a, b
    side = key(a)
    while np.linalg.norm(hi.y - lo.y) > tol:
        chord = (hi.y - lo.y) / np.linalg.norm(hi.y - lo.y)
        middle = 0.5 * (lo.y + hi.y)
        corrected = curve.correct(middle, chord, float(chord @ middle))
        if corrected is None:  # past a sharp kink of a piecewise-linear map
            return _corner(curve, lo, hi) or (lo, hi)
        trial = curve.point(corrected[0], a.tangent, a.orientation, corrected[1])
        if key(trial) == side:
            lo = trial
        else:
            hi = trial
    return lo, hi


def _corner(
    curve: Curve, lo: CurvePoint, hi: CurvePoint
) -> tuple[CurvePoint, CurvePoint] | None:
    """``lo`` and ``hi`` moved to the kink between them, if it lies exactly on the curve."""
    vertex = _vertex(lo, hi)
    if not curve.exactly_on(vertex):
        return None
    return lo, dataclasses.replace(hi, y=vertex)


def _vertex(lo: CurvePoint, hi: CurvePoint) -> np.ndarray:
    """Where the lines through ``lo`` and ``hi`` along their tangents meet (least squares).

    On a piecewise-linear map the branch is straight within each region, so this is the kink
    between the two regions, found without correcting onto hyperplanes that may miss it.
    """
    directions = np.stack([lo.tangent, -hi.tangent], axis=1)
    (s, r), *_ = np.linalg.lstsq(directions, hi.y - lo.y, rcond=None)
    return 0.5 * (lo.y + s * lo.tangent + hi.y + r * hi.tangent)
