"""The point of the curve where a multiplier equals +1, by Newton on the augmented system.

A fold or a branch point of the fixed points of ``F(x, u)`` is a point of the curve
``G(y) = F(x, u) - x = 0`` where ``A = dF/dx - I`` is singular. It is the solution of the
minimally augmented system (Govaerts, *Numerical Methods for Bifurcations of Dynamical
Equilibria*, 2000; as in MatCont)::

    G(y) = 0,    g(y) = 0,    where    [[A, p], [q^T, 0]] [v; g] = [0; 1],

d + 1 equations in the d + 1 unknowns ``y = (x, u)``, with borders ``p``, ``q`` (the left
and right singular vectors of A of its smallest singular value at the start) that keep the
bordered matrix regular. ``g`` vanishes exactly where A is singular, and its gradient is
``-w^T (dA/dy) v`` with ``[w; h]`` the solution of the transposed bordered system. The
second derivatives in it, ``w^T (d/dy dF/dx) v``, are the central difference of the row
``w^T DG`` along ``(v, 0)``, so the map needs only first derivatives; the error of that
difference slows Newton but does not move the solution, which is where ``g`` itself is zero.

At a fold the system is regular and Newton converges quadratically; at a branch point (where
DG loses rank) it is singular there and Newton converges linearly. On a piecewise-linear
map A is constant within each region and never singular, and Newton fails, as it should.
"""

from __future__ import annotations

import numpy as np

from fhnrnn.fixedpoints._arclength import Curve, CurvePoint

_MAX_ITERATIONS = 60
_STEP_TOL = 1e-13  # relative to 1 + ||y||
_DIFFERENCE = 1e-6  # step of the central difference, relative to 1 + ||y||
# Newton fails after this many steps in a row that do not bring the residual below
# _PROGRESS times the smallest so far (as on a piecewise-linear map, where g never vanishes)
_STALLS, _PROGRESS = 3, 0.9
# a point of the smallest residual solves g = 0 when |g| <= _SINGULAR * (1 + ||A||): then
# the smallest singular value of A (which |g| measures, with these borders) is that small
_SINGULAR = 1e-8
# a located point may lie this many times the length of the step from either end of it
_REACH = 1.5


def _bordered(a: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    d = a.shape[0]
    border = np.zeros((d + 1, d + 1))
    border[:d, :d], border[:d, d], border[d, :d] = a, p, q
    return border


def _test_function(
    dg: np.ndarray, p: np.ndarray, q: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """``g``, the right null vector ``v`` (d,) and the left one ``w`` (d,) of the bordered A."""
    d = p.shape[0]
    border = _bordered(dg[:, :d], p, q)
    rhs = np.zeros(d + 1)
    rhs[-1] = 1.0
    right = np.linalg.solve(border, rhs)
    left = np.linalg.solve(border.T, rhs)
    return float(right[-1]), right[:d], left[:d]


def _borders(dg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right singular vectors of ``A = dg[:, :d]`` of its smallest singular value."""
    u, _, vt = np.linalg.svd(dg[:, : dg.shape[0]])
    return u[:, -1], vt[-1]


def _newton(curve: Curve, y: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray | None:
    """Newton on ``G = 0, g = 0`` from ``y``; the solution (d+1,) or None.

    The steps are least-squares solutions, since the system is singular at a branch point.
    There Newton converges only linearly, and its residual reaches rounding level before the
    steps become small: Newton stops after a step shorter than ``_STEP_TOL`` or after
    ``_STALLS`` steps in a row that do not bring the residual below ``_PROGRESS`` times its
    smallest value. The point of the smallest residual is then the solution if ``G``
    vanishes there (``q < tol_q``) and ``dF/dx - I`` is singular to ``_SINGULAR`` relative
    to its norm; otherwise Newton has failed (as on a piecewise-linear map, where g does not
    vanish).
    """
    best, best_y, best_singular, stalls, small_step = np.inf, y, False, 0, False
    for _ in range(_MAX_ITERATIONS):
        g, dg, _ = curve.linearise(y)
        value, v, w = _test_function(dg, p, q)
        residual = np.append(g, value)
        size = float(np.linalg.norm(residual))
        stalls = 0 if size < _PROGRESS * best else stalls + 1
        if size < best:
            best, best_y = size, y
            best_singular = abs(value) <= _SINGULAR * (1.0 + np.linalg.norm(dg[:, : curve.d], 2))
        if small_step or stalls >= _STALLS:
            break
        shift = _DIFFERENCE * (1.0 + np.linalg.norm(y)) / np.linalg.norm(v)
        direction = np.append(v, 0.0)
        ends = np.stack([y + shift * direction, y - shift * direction])
        _, shifted, _ = curve.linearise_many(ends)
        gradient = -(w @ shifted[0] - w @ shifted[1]) / (2.0 * shift)
        dy = np.linalg.lstsq(np.vstack([dg, gradient]), -residual, rcond=None)[0]
        if not np.isfinite(dy).all():
            return None
        y = y + dy
        small_step = bool(np.linalg.norm(dy) <= _STEP_TOL * (1.0 + np.linalg.norm(y)))
    return best_y if best_singular and curve.q(best_y) < curve.tol_q else None


def locate_singular(curve: Curve, a: CurvePoint, b: CurvePoint) -> np.ndarray | None:
    """The point (d+1,) of the curve between ``a`` and ``b`` where ``dF/dx - I`` is singular.

    Newton starts on the chord where the test function, linear between its values at a and
    b, vanishes. None when Newton fails or ends farther than ``1.5 |b - a|`` from either end
    (it has found another such point of the curve).
    """
    _, dg_a, _ = curve.linearise(a.y)
    _, dg_b, _ = curve.linearise(b.y)
    nearer = dg_a if _smallest(dg_a) <= _smallest(dg_b) else dg_b
    p, q = _borders(nearer)
    try:
        g_a, g_b = _test_function(dg_a, p, q)[0], _test_function(dg_b, p, q)[0]
        return _within(_newton(curve, _secant(a.y, b.y, g_a, g_b), p, q), a, b)
    except np.linalg.LinAlgError:  # a bordered matrix is singular
        return None


def _secant(y_a: np.ndarray, y_b: np.ndarray, g_a: float, g_b: float) -> np.ndarray:
    """The point of the chord where ``g``, linear between ``g_a`` and ``g_b``, vanishes (the
    middle of the chord where they have the same sign)."""
    fraction = g_a / (g_a - g_b) if g_a * g_b < 0.0 else 0.5
    return y_a + fraction * (y_b - y_a)


def _within(located: np.ndarray | None, a: CurvePoint, b: CurvePoint) -> np.ndarray | None:
    """``located``, or None when it is None or lies too far from a or b."""
    if located is None:
        return None
    reach = _REACH * np.linalg.norm(b.y - a.y)
    if max(np.linalg.norm(located - a.y), np.linalg.norm(located - b.y)) > reach:
        return None
    return located


def _smallest(dg: np.ndarray) -> float:
    """The smallest singular value of ``A = dg[:, :d]``."""
    return float(np.linalg.svd(dg[:, : dg.shape[0]], compute_uv=False)[-1])
