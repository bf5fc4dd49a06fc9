"""Where a fixed point lies relative to the cycle: in-plane winding and off-plane distance.

A distance from the cycle's centroid in the full state space is mostly off-plane distance
(the cycle spans a few of the d directions). The question "is the fixed point inside the
cycle?" is asked in the cycle's own best plane instead: the cycle's states are projected on
their two leading principal axes, and the *winding number* of the projected cycle around the
projected point counts how many times the cycle turns around it per period (1: inside;
0: outside; unsigned, since principal axes have no orientation).
"""

from __future__ import annotations

import numpy as np

__all__ = ["cycle_plane", "winding_number"]


def cycle_plane(cycle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (d,) and the two leading principal axes (2, d) of cycle states (T, d)."""
    cycle = np.asarray(cycle, dtype=np.float64)
    if cycle.ndim != 2 or len(cycle) < 3 or cycle.shape[1] < 2:
        raise ValueError(f"cycle must have shape (T, d) with T >= 3 and d >= 2, got {cycle.shape}")
    centroid = cycle.mean(axis=0)
    _, _, axes = np.linalg.svd(cycle - centroid, full_matrices=False)
    return centroid, axes[:2]


def winding_number(cycle: np.ndarray, point: np.ndarray, n_periods: int) -> dict[str, float]:
    """Turns per period of the projected cycle around the projected point, and its offsets.

    Parameters
    ----------
    cycle : ndarray, shape (T, d)
        States over ``n_periods`` whole periods of the cycle, in order.
    point : ndarray, shape (d,)
        The fixed point.
    n_periods : int
        Periods covered by ``cycle`` (>= 1).

    Returns
    -------
    dict
        ``winding``: turns per period, unsigned (about 1 inside, 0 outside);
        ``in_plane_offset``: the point's distance from the centroid in the plane, over the
        cycle's in-plane RMS radius; ``off_plane_offset``: its distance from the plane, over
        the same radius.
    """
    if not isinstance(n_periods, int | np.integer) or n_periods < 1:
        raise ValueError(f"n_periods must be a positive int, got {n_periods!r}")
    centroid, axes = cycle_plane(cycle)
    point = np.asarray(point, dtype=np.float64)
    if point.shape != centroid.shape:
        raise ValueError(f"point must have shape {centroid.shape}, got {point.shape}")
    projected = (np.asarray(cycle) - centroid) @ axes.T
    offset = point - centroid
    centre = axes @ offset
    angles = np.arctan2(*(projected - centre).T[::-1])
    turns = np.diff(np.append(angles, angles[0]))
    turns = (turns + np.pi) % (2 * np.pi) - np.pi
    radius = np.sqrt(np.mean(np.sum(projected**2, axis=1)))
    return {
        "winding": float(abs(turns.sum()) / (2 * np.pi) / n_periods),
        "in_plane_offset": float(np.linalg.norm(centre) / radius),
        "off_plane_offset": float(np.linalg.norm(offset - axes.T @ centre) / radius),
    }
