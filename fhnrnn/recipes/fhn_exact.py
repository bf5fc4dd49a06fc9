"""The study network's exact fixed-point curve over 0 <= I <= 1.75 (notebook 05).

The study's cell is piecewise affine, so its fixed points form a piecewise-linear curve in
(I, x), followed facet by facet by :func:`fhnrnn.fixedpoints.trace_fixed_points` in about a
second: every segment with its activation pattern and multipliers, every fold and every
border collision (the only places where the number of unstable multipliers can change).
:func:`fhn_rnn_curves` traces the component through the fixed point at ``start``, then the
component through any fixed point of the shipped set (notebooks 03-05) that no traced
component passes, until every shipped point lies on one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fhnrnn.analysis import translate
from fhnrnn.fixedpoints import CurveEvent, PiecewiseCurve, trace_fixed_points
from fhnrnn.recipes.fhn_fixed_points import SHIPPED_CURRENTS, fhn_rnn_fixed_points
from fhnrnn.recipes.fhn_voltage import FHNRNNRun

__all__ = ["EXACT_CURVES", "CurveSummary", "fhn_rnn_curves"]

EXACT_CURVES = {"u_range": (0.0, 1.75), "start": 1.0}
_ON_CURVE = 1e-7  # a shipped point within this (times 1 + |x|) of a curve lies on it


@dataclass(frozen=True, eq=False)
class CurveSummary:
    """One component of the fixed-point curve, with the read-out voltage of its vertices.

    Attributes
    ----------
    curve : PiecewiseCurve
    vstar : ndarray, shape (V,)
        Read-out voltage at each vertex.
    """

    curve: PiecewiseCurve
    vstar: np.ndarray

    def voltage(self, event: CurveEvent) -> float:
        """Read-out voltage at an event's corner."""
        return float(self.vstar[event.vertex])

    def segment_voltage(self) -> tuple[np.ndarray, np.ndarray]:
        """Current and voltage at the middle of each segment, shapes (S,) and (S,)."""
        u, v = self.curve.u, self.vstar
        return 0.5 * (u[1:] + u[:-1]), 0.5 * (v[1:] + v[:-1])


def fhn_rnn_curves(run: FHNRNNRun) -> tuple[CurveSummary, ...]:
    """The components of ``run``'s fixed-point curve through its shipped fixed points.

    Returns
    -------
    tuple of CurveSummary
        The component through the point at ``EXACT_CURVES["start"]`` first.
    """
    points = fhn_rnn_fixed_points(run, SHIPPED_CURRENTS, progress=False)
    at_start = np.isclose(points.u[:, 0], EXACT_CURVES["start"], rtol=0.0, atol=1e-12)
    order = [*np.flatnonzero(at_start), *np.argsort(points.u[:, 0], kind="stable")]
    curves: list[PiecewiseCurve] = []
    for index in order:
        x, u = points.xstar[index], float(points.u[index, 0])
        if not any(curve.passes(x, u, _ON_CURVE) for curve in curves):
            curves.append(trace_fixed_points(run.model, x, u, EXACT_CURVES["u_range"]))
    return tuple(CurveSummary(curve, translate(run.model, curve.x)[:, 0]) for curve in curves)
