"""The held-out-band Hopf test of the flow network (notebook 06, issue 23).

The flow networks of :data:`fhnrnn.recipes.fhn_flow.FLOW_BAND_RECIPE` never see a current
within the band around either Hopf point of FHN. Inside each band, the gap between the nearest
training currents on either side, the network must place the Hopf point itself. Two baselines
use the training currents alone:

- **interpolation**: the real part of the FHN eigenvalue at the two training currents that
  bound the gap, linearly interpolated to zero;
- **midpoint**: the middle of the gap, all that "rests on one side, oscillates on the other"
  tells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fhnrnn.analysis import fixed_point_branch, stability_changes
from fhnrnn.fhn import FHN
from fhnrnn.recipes.fhn_flow import FlowRun

__all__ = [
    "BandBaseline",
    "band_baselines",
    "band_gaps",
    "linear_zero",
    "network_stability",
    "points_in_gaps",
]


@dataclass(frozen=True)
class BandBaseline:
    """The Hopf point of one held-out band as the training currents alone place it.

    Attributes
    ----------
    hopf : float
        The FHN Hopf point inside the band.
    gap : tuple of float
        The training currents ``(low, high)`` on either side of the band.
    real_parts : tuple of float
        Real part of the FHN eigenvalue at ``low`` and ``high``.
    interpolated : float
        Where the linear interpolation of ``real_parts`` over the gap crosses zero.
    midpoint : float
        The middle of the gap.
    """

    hopf: float
    gap: tuple[float, float]
    real_parts: tuple[float, float]
    interpolated: float
    midpoint: float


def linear_zero(x: tuple[float, float], y: tuple[float, float]) -> float:
    """Zero of the straight line through ``(x[0], y[0])`` and ``(x[1], y[1])``.

    Raises
    ------
    ValueError
        If ``x[0] >= x[1]`` or ``y[0]`` and ``y[1]`` do not have strictly opposite signs (the
        line would not cross zero between them).
    """
    (x0, x1), (y0, y1) = (float(v) for v in x), (float(v) for v in y)
    if not x0 < x1:
        raise ValueError(f"x must be increasing, got {x!r}")
    if not y0 * y1 < 0.0:
        raise ValueError(f"y must change sign between the two points, got {y!r}")
    return x0 + (x1 - x0) * y0 / (y0 - y1)


def band_gaps(train_currents: list[float], centres: tuple[float, ...]) -> list[tuple[float, float]]:
    """For each centre, the nearest training currents below and above it.

    Raises
    ------
    ValueError
        If some centre has no training current on one side.
    """
    currents = np.asarray(train_currents, dtype=float)
    gaps = []
    for centre in centres:
        below, above = currents[currents < centre], currents[currents > centre]
        if not (below.size and above.size):
            raise ValueError(f"centres must lie inside the training range, got {centre!r}")
        gaps.append((float(below.max()), float(above.min())))
    return gaps


def band_baselines(train_currents: list[float], fhn: FHN | None = None) -> list[BandBaseline]:
    """The two baselines at each Hopf point of ``fhn`` (default :class:`FHN`), low to high."""
    model = FHN() if fhn is None else fhn
    baselines = []
    hopfs = model.hopf_points()
    for hopf, gap in zip(hopfs, band_gaps(train_currents, hopfs), strict=True):
        real = tuple(float(model.eigenvalues(current).real.max()) for current in gap)
        baselines.append(
            BandBaseline(hopf, gap, real, linear_zero(gap, real), 0.5 * (gap[0] + gap[1]))
        )
    return baselines


def points_in_gaps(points: np.ndarray, gaps: list[tuple[float, float]]) -> list[np.ndarray]:
    """The entries of ``points`` ``(C,)`` inside each gap ``(low, high)``, one array per gap."""
    values = np.asarray(points, dtype=float)
    return [values[(values > low) & (values < high)] for low, high in gaps]


def network_stability(run: FlowRun, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Growth rate of the network's fixed point along ``grid`` and its Hopf points.

    As notebook 06 finds them: one fixed point per current (:func:`fixed_point_branch`,
    started from the encoded FHN fixed point), and the currents where a complex pair of
    multipliers crosses the unit circle (:func:`stability_changes`).

    Parameters
    ----------
    run : FlowRun
        A trained flow network.
    grid : ndarray, shape (K,)
        Increasing currents.

    Returns
    -------
    rate : ndarray, shape (K,)
        ``log(max |lambda|) / dt``, the real part of the leading continuous-time eigenvalue.
    hopf : ndarray, shape (C,)
        The network's Hopf points on the grid (linearly interpolated).
    """
    v_star, w_star = FHN().fixed_point(grid)
    starts = run.encode(np.column_stack([v_star, w_star]))
    points = fixed_point_branch(run.model, grid, starts, tol_q=1e-20, progress=False)
    crossings, complex_pair = stability_changes(grid, points.eigenvalues)
    rate = np.log(np.abs(points.eigenvalues).max(axis=1)) / run.recipe["dt"]
    return rate, crossings[complex_pair]
