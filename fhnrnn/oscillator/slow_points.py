"""Slow points along a cycle: where the map's speed has a local minimum near the cycle.

Sussillo & Barak (2013) minimise ``q(x) = 1/2 ||F(x, I) - x||^2`` from states the network
visits; minima with ``q = 0`` are fixed points, and the places where the minimisation ends
with small non-zero ``q`` are slow points, where the state creeps. Here the starts are states
of one period of a measured cycle, the minimiser is the fixed-point engine's Adam
(:func:`fhnrnn.fixedpoints.find_fixed_points` with ``method="adam"``), and the end points are
read through the system's voltage, so that a network's slow points can be set beside the FHN
model's slow manifold, the branches of the v-nullcline ``w = v - v**3/3 + I``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fhnrnn._validation import finite_positive, positive_int
from fhnrnn.fixedpoints import find_fixed_points
from fhnrnn.oscillator.cycle import Cycle
from fhnrnn.oscillator.systems import MapSystem

__all__ = ["SlowPoints", "slow_points"]


@dataclass(frozen=True, eq=False)
class SlowPoints:
    """End points of the minimisation of q started on a cycle.

    Attributes
    ----------
    states : ndarray, shape (n, d)
        The end points: the fixed points found (merged when equal) and the slow points.
    voltage : ndarray, shape (n,)
        Their voltages through the system's readout.
    speed : ndarray, shape (n,)
        ``||F(x) - x|| / dt = sqrt(2 q) / dt``, state change per unit time.
    fixed : ndarray of bool, shape (n,)
        Whether q fell below the search's ``tol_q`` (a fixed point).
    cycle_speed : float
        Median speed over the cycle's states, the scale against which a point is slow.
    iterations : int
        Adam iterations run.
    """

    states: np.ndarray
    voltage: np.ndarray
    speed: np.ndarray
    fixed: np.ndarray
    cycle_speed: float
    iterations: int


def slow_points(
    system: MapSystem,
    cycle: Cycle,
    *,
    n_starts: int = 24,
    iterations: int = 2000,
    tol_q: float = 1e-20,
    lr: float = 1e-2,
) -> SlowPoints:
    """Minimise q from ``n_starts`` states spread over one period of ``cycle``.

    Parameters
    ----------
    system : MapSystem
        The map the cycle was measured on.
    cycle : Cycle
        A converged cycle.
    n_starts : int
        Starts, evenly spread over one period (at most one per step).
    iterations : int
        Adam iterations.
    tol_q : float
        q below which an end point counts as a fixed point.
    lr : float
        Adam's initial learning rate.

    Returns
    -------
    SlowPoints
    """
    if not isinstance(cycle, Cycle) or not cycle.oscillates:
        raise ValueError("cycle must be a Cycle that converged to an oscillation")
    period = int(np.floor(cycle.period_steps))
    n = min(positive_int(n_starts, "n_starts"), period)
    starts = cycle.orbit[np.unique(np.floor(np.arange(n) * period / n).astype(int))]
    found = find_fixed_points(
        system.step, starts, np.array([cycle.I]), method="adam",
        max_iters=positive_int(iterations, "iterations"), tol_q=finite_positive(tol_q, "tol_q"),
        lr=finite_positive(lr, "lr"), progress=False,
    )
    states = np.concatenate([found.xstar, found.failed_x])
    q = np.concatenate([found.q, found.failed_q])
    one_period = cycle.orbit[:period]
    moves = system.advance(one_period, np.full(period, cycle.I)) - one_period
    return SlowPoints(
        states=states,
        voltage=system.voltages(states),
        speed=np.sqrt(2.0 * q) / system.dt,
        fixed=np.arange(len(states)) < len(found.xstar),
        cycle_speed=float(np.median(np.linalg.norm(moves, axis=1))) / system.dt,
        iterations=found.adam_iterations,
    )
