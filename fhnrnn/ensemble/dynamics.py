"""What a network does at the analysis currents: its free run and which fixed points count.

Shared by the measurement of every run (:mod:`~fhnrnn.ensemble.measure`) and by notebook 07,
which puts the example network of notebooks 03-05 through the same rules.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from fhnrnn.analysis import oscillation_period, rollout_float64
from fhnrnn.ensemble.factors import HELD_OUT_BAND
from fhnrnn.fhn import FHN
from fhnrnn.fixedpoints import FixedPoints
from fhnrnn.models import RNNCell

__all__ = [
    "ANALYSIS_CURRENTS",
    "BAND_CURRENTS",
    "DT",
    "OUTLIER_SCALE",
    "REST_CURRENTS",
    "STUDY_CURRENTS",
    "central_points",
    "current_index",
    "fhn_references",
    "free_run",
    "outliers",
]

STUDY_CURRENTS = np.linspace(0.4, 1.4, 21)
# Where the FHN fixed point is stable: below the lower Hopf point (I ~ 0.33) every 0.05, so
# that five of them lie inside HELD_OUT_BAND (the gap data's missing currents), and above the
# upper one (I ~ 1.42).
REST_CURRENTS = np.array([0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 1.5, 1.6, 1.7])
BAND_CURRENTS = REST_CURRENTS[(REST_CURRENTS > HELD_OUT_BAND[0])
                              & (REST_CURRENTS < HELD_OUT_BAND[1])]
ANALYSIS_CURRENTS = np.sort(np.concatenate([REST_CURRENTS, STUDY_CURRENTS]))
DT = 0.3
TRAINED_STEPS = 334
FREE_RUN_STEPS = 1334
# FixedPointFinder's default outlier_distance_scale.
OUTLIER_SCALE = 10.0


def current_index(u: np.ndarray, currents: np.ndarray) -> np.ndarray:
    """Position in ``currents`` (K,) of each point's current ``u`` (N,), matched to 1e-9."""
    index = np.clip(np.searchsorted(currents, u - 1e-9), 0, len(currents) - 1)
    if len(u) and np.max(np.abs(currents[index] - u)) > 1e-9:
        raise ValueError("u must hold only values of currents (each point at a grid current)")
    return index


def free_run(model: RNNCell, currents: np.ndarray, *, keep_cycles: bool = False) -> dict[str, Any]:
    """The network from the zero state at each current: its trained horizon and its cycle.

    The network runs ``FREE_RUN_STEPS`` steps; the first ``TRAINED_STEPS`` are the trained
    horizon, the rest its free run, measured over whole periods (from the first to the last
    upward crossing of the mid-level). A current where the free run rests, or diverges, has
    NaN cycle entries.

    Parameters
    ----------
    model : RNNCell
        The network (raw current in, raw voltage out).
    currents : ndarray, shape (K,)
        Constant currents.
    keep_cycles : bool
        Also return the cycle's states.

    Returns
    -------
    dict of str to ndarray
        ``period`` (K,) in time units, ``mean`` (K,) voltage, ``centroid`` (K, d) and
        ``radius`` (K,) of the cycle's states; ``horizon_centroid`` (K, d) and
        ``horizon_radius`` (K,) of the trained horizon's states; ``diverged`` (K,) bool.
        With ``keep_cycles``, ``cycles``: a list of K entries, each ``(states, n_periods)``
        (the states over whole periods, shape (T_k, d), and their number of periods) or
        None where the network rests or diverges.
    """
    states, outputs = rollout_float64(model, currents, FREE_RUN_STEPS)
    horizon = states[:, :TRAINED_STEPS]
    horizon_centroid = horizon.mean(axis=1)
    n, d = len(currents), states.shape[-1]
    summary = {
        "period": np.full(n, np.nan), "mean": np.full(n, np.nan),
        "centroid": np.full((n, d), np.nan), "radius": np.full(n, np.nan),
        "horizon_centroid": horizon_centroid,
        "horizon_radius": _rms_radius(horizon, horizon_centroid),
        "diverged": ~np.isfinite(outputs).all(axis=(1, 2)),
    }
    cycles: list[tuple[np.ndarray, int] | None] = [None] * n
    for k in np.flatnonzero(~summary["diverged"]):
        voltage, cycle_states = outputs[k, TRAINED_STEPS:, 0], states[k, TRAINED_STEPS:]
        period = oscillation_period(voltage, DT)[0]
        if not np.isfinite(period):
            continue
        window, n_periods = _whole_periods(voltage)
        cycles[k] = (cycle_states[window], n_periods)
        summary["period"][k] = period
        summary["mean"][k] = voltage[window].mean()
        summary["centroid"][k] = cycle_states[window].mean(axis=0)
        summary["radius"][k] = _rms_radius(cycle_states[None, window],
                                           summary["centroid"][k][None])[0]
    if keep_cycles:
        summary["cycles"] = cycles
    return summary


def _rms_radius(states: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    """sqrt(mean_t ||x_t - c||^2) of states (K, T, d) about centroids (K, d), shape (K,)."""
    return np.sqrt(np.mean(np.sum((states - centroid[:, None]) ** 2, axis=-1), axis=1))


def _whole_periods(signal: np.ndarray) -> tuple[slice, int]:
    """The samples from the first to the last upward mid-level crossing, and their periods."""
    centred = signal - 0.5 * (signal.min() + signal.max())
    up = np.flatnonzero((centred[:-1] < 0) & (centred[1:] >= 0))
    return slice(up[0] + 1, up[-1] + 1), len(up) - 1


def outliers(points: FixedPoints, run: dict[str, np.ndarray], currents: np.ndarray) -> np.ndarray:
    """Points farther than ``OUTLIER_SCALE`` trajectory radii from the trajectory (N,) bool.

    ``run`` is :func:`free_run` at ``currents``; the trajectory is the trained horizon at the
    point's current. A point at a current where the network diverged is an outlier.
    """
    index = current_index(points.u[:, 0], currents)
    distance = np.linalg.norm(points.xstar - run["horizon_centroid"][index], axis=-1)
    with np.errstate(invalid="ignore"):
        near = distance <= OUTLIER_SCALE * run["horizon_radius"][index]
    return ~near


def central_points(
    points: FixedPoints, run: dict[str, np.ndarray], currents: np.ndarray
) -> np.ndarray:
    """At each current, the point nearest the centroid of the network's states (N,) bool.

    The centroid is the cycle's where the network oscillates, else the trained horizon's:
    the point the oscillation winds around, or the one the network settles near.
    """
    index = current_index(points.u[:, 0], currents)
    oscillates = np.isfinite(run["radius"])[:, None]
    centroid = np.where(oscillates, run["centroid"], run["horizon_centroid"])
    distance = np.linalg.norm(points.xstar - centroid[index], axis=-1)
    central = np.zeros(len(points), dtype=bool)
    for k in np.unique(index):
        at_k = np.flatnonzero(index == k)
        central[at_k[np.argmin(distance[at_k])]] = True
    return central


def fhn_references(currents: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The FHN quantities at ``currents`` (default the analysis currents), each shape (K,).

    ``v_star``: the fixed point; ``cycle_mean``: ⟨v⟩ over the ODE's limit cycle from (0, 0);
    ``euler_period``: the period of the forward-Euler map (step ``DT``) the networks learn.
    The last two are NaN where the FHN rests (outside the Hopf points).
    """
    values = ANALYSIS_CURRENTS if currents is None else np.asarray(currents, dtype=np.float64)
    return {name: array.copy() for name, array in _references(tuple(values.tolist())).items()}


@cache
def _references(currents: tuple[float, ...]) -> dict[str, np.ndarray]:
    fhn = FHN()
    values = np.array(currents)
    low, high = fhn.hopf_points()
    cycling = (values > low) & (values < high)
    cycle_mean = np.full(len(values), np.nan)
    euler_period = np.full(len(values), np.nan)
    _, runs = fhn.simulate(values[cycling], t_max=1000.0, dt=DT, method="euler")
    for k, trajectory in zip(np.flatnonzero(cycling), runs, strict=True):
        cycle_mean[k] = fhn.limit_cycle(float(values[k])).v_mean
        euler_period[k] = oscillation_period(trajectory[:, 0], DT, discard=1000)[0]
    return {"v_star": fhn.fixed_point(values)[0], "cycle_mean": cycle_mean,
            "euler_period": euler_period}
