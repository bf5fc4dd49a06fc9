"""The measurements of one trained run: one row of ``runs.csv`` and the run's arrays.

Everything is measured on the folded float64 network at the *analysis currents*: the 21
currents ``linspace(0.4, 1.4, 21)`` of the study's range (every column unless named
``*_rest``), plus seven resting currents outside the two Hopf points (0, 0.1, 0.2, 0.3 and
1.5, 1.6, 1.7) where the FHN fixed point is stable.

- **Free run.** From the zero state the network runs ``FREE_RUN_STEPS`` steps at each
  current; the last ``FREE_RUN_STEPS - TRAINED_STEPS`` steps are its own cycle: its period
  (upward crossings of the mid-level, :func:`fhnrnn.analysis.oscillation_period`), its mean
  voltage and its state centroid and RMS radius over whole periods.
- **Phase-sensitive criterion.** ``period_error_max`` is the largest ``|P_net / P_FHN - 1|``
  over the study's currents, with ``P_FHN`` the period of the Euler-discretised FHN the
  network was trained on (infinite where the network rests); ``phase_drift_max`` the phase
  error it accumulates over the trained horizon (334 steps), in cycles. A run reaches the
  criterion when ``period_error_max <= PERIOD_TOLERANCE``.
- **Fixed points.** :func:`fhnrnn.analysis.fixed_points_by_input` along the analysis currents
  (``FIXED_POINT_SEARCH``), translated to voltages ṽ* by the read-out. The counts
  (``n_fixed_points``, ``n_stable``) cover every point found. The comparisons take one point
  per current, the *central* one: the point nearest the centroid of the network's states
  there (its cycle's where it oscillates, else its trained horizon's), the point the
  oscillation winds around. Its ṽ* is compared with v*(I) (``rmse_vstar``), with the FHN cycle
  mean ⟨v⟩(I) (``rmse_cycle_mean``) and with the network's own cycle mean
  (``rmse_net_cycle_mean``); the frequency ratio, the centroid distance and the ReLU columns
  are taken on it too.
- **Outliers.** A gated cell has fixed points far outside the region its trajectories visit
  (at saturated gates, where the state barely moves). As in FixedPointFinder, a point
  farther from the centroid of the trajectory at its current (the trained horizon, from the
  zero state) than ``OUTLIER_SCALE`` times that trajectory's RMS radius is set aside: it is
  kept in the run's arrays (``fp_outlier``) and counted (``n_outliers``), never compared.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import numpy as np
import torch

from fhnrnn.analysis import (
    fixed_points_by_input,
    leading_complex,
    oscillation_period,
    rollout_float64,
    translate,
)
from fhnrnn.ensemble.train import TrainedRun, parameter_count
from fhnrnn.fhn import FHN
from fhnrnn.fixedpoints import FixedPoints
from fhnrnn.models import PaperRNN
from fhnrnn.training import evaluate

__all__ = [
    "FIXED_POINT_SEARCH",
    "MEASURE_VERSION",
    "OUTLIER_SCALE",
    "PERIOD_TOLERANCE",
    "REST_CURRENTS",
    "STUDY_CURRENTS",
    "measure_run",
]

STUDY_CURRENTS = np.linspace(0.4, 1.4, 21)
REST_CURRENTS = np.array([0.0, 0.1, 0.2, 0.3, 1.5, 1.6, 1.7])
ANALYSIS_CURRENTS = np.sort(np.concatenate([REST_CURRENTS, STUDY_CURRENTS]))
TRAINED_STEPS = 334
FREE_RUN_STEPS = 1334
DT = 0.3
PERIOD_TOLERANCE = 0.05
# FixedPointFinder's default outlier_distance_scale.
OUTLIER_SCALE = 10.0
# Raise when a change alters the measured numbers: runs.csv refuses to mix versions.
MEASURE_VERSION = 2
FIXED_POINT_SEARCH = {"n_per_input": 8, "n_steps": TRAINED_STEPS, "max_halvings": 3,
                      "tol_unique": 1e-3}
_STABLE_MODULUS = 1.0


def measure_run(run: TrainedRun) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The row of ``runs.csv`` and the per-run arrays of a trained run.

    Parameters
    ----------
    run : TrainedRun
        Output of :func:`fhnrnn.ensemble.train_run`.

    Returns
    -------
    row : dict
        The columns of ``runs.csv`` (see :data:`fhnrnn.ensemble.COLUMNS`).
    arrays : dict of str to ndarray
        ``currents`` (K,), the analysis currents; ``net_period``, ``net_cycle_mean`` (K,);
        the fixed points ``fp_u`` (N,), ``fp_xstar`` (N, d), ``fp_q`` (N,), ``fp_vtilde``
        (N,), ``fp_n_unstable`` (N,), ``fp_leading`` (N, 4) complex (the four multipliers of
        largest modulus).
    """
    spec, model = run.spec, run.model
    cycle = _free_run(run)
    found = fixed_points_by_input(model, ANALYSIS_CURRENTS, progress=False, **FIXED_POINT_SEARCH)
    outlier = _outliers(found, cycle)
    points = found[~outlier]
    central = _central(points, cycle)
    v_tilde = translate(model, points.xstar)[:, 0] if len(points) else np.zeros(0)
    row = {
        "run_id": spec.run_id,
        "cell": spec.cell,
        "seed": spec.seed,
        "init": spec.init,
        "data": spec.data,
        "hidden_size": spec.recipe()["hidden_size"],
        "state_size": model.state_size,
        "n_params": parameter_count(model),
        "updates": run.fit.epochs,
        "train_seconds": round(run.fit.seconds, 1),
        "train_mse": _mse(run, run.train),
        "held_out_mse": _mse(run, run.held_out),
        **_criterion(cycle["period"]),
        "n_outliers": int(np.sum(outlier & _on_study_currents(found.u[:, 0]))),
        **_fixed_point_columns(points, v_tilde, cycle, central),
        **_relu_columns(run, points[central], v_tilde[central]),
    }
    arrays = {
        "currents": ANALYSIS_CURRENTS,
        "net_period": cycle["period"],
        "net_cycle_mean": cycle["mean"],
        "fp_u": found.u[:, 0],
        "fp_xstar": found.xstar,
        "fp_q": found.q,
        "fp_vtilde": translate(model, found.xstar)[:, 0] if len(found) else np.zeros(0),
        "fp_n_unstable": found.n_unstable,
        "fp_leading": found.eigenvalues[:, :4],
        "fp_outlier": outlier,
        "fp_central": _scatter_mask(central, ~outlier),
    }
    return row, arrays


def _scatter_mask(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``values`` (M,) bool placed at the True entries of ``where`` (N,); False elsewhere."""
    full = np.zeros(len(where), dtype=bool)
    full[where] = values
    return full


def _mse(run: TrainedRun, task: Any) -> float:
    return float(np.mean(evaluate(run.model, task.inputs, task.targets)))


def _free_run(run: TrainedRun) -> dict[str, np.ndarray]:
    """Period, cycle mean, state centroid and RMS radius at every analysis current.

    The cycle's are taken over whole periods of the free run after the trained horizon (NaN
    where the network rests); ``horizon_centroid`` and ``horizon_radius`` over the trained
    horizon itself.
    """
    states, outputs = rollout_float64(run.model, ANALYSIS_CURRENTS, FREE_RUN_STEPS)
    horizon = states[:, :TRAINED_STEPS]
    horizon_centroid = horizon.mean(axis=1)
    states, voltage = states[:, TRAINED_STEPS:], outputs[:, TRAINED_STEPS:, 0]
    n = len(ANALYSIS_CURRENTS)
    summary = {"period": np.full(n, np.nan), "mean": np.full(n, np.nan),
               "centroid": np.full((n, states.shape[-1]), np.nan), "radius": np.full(n, np.nan),
               "horizon_centroid": horizon_centroid,
               "horizon_radius": np.sqrt(np.mean(np.sum(
                   (horizon - horizon_centroid[:, None]) ** 2, -1), axis=1))}
    for k in range(n):
        window = _whole_periods(voltage[k])
        if window is None:
            continue
        summary["period"][k] = oscillation_period(voltage[k], DT)[0]
        summary["mean"][k] = voltage[k, window].mean()
        centroid = states[k, window].mean(axis=0)
        summary["centroid"][k] = centroid
        summary["radius"][k] = np.sqrt(np.mean(np.sum((states[k, window] - centroid) ** 2, -1)))
    return summary


def _whole_periods(signal: np.ndarray) -> slice | None:
    """The samples from the first to the last upward mid-level crossing; None at rest."""
    if not np.isfinite(oscillation_period(signal, DT)[0]):
        return None
    centred = signal - 0.5 * (signal.min() + signal.max())
    up = np.flatnonzero((centred[:-1] < 0) & (centred[1:] >= 0))
    return slice(up[0] + 1, up[-1] + 1)


@cache
def fhn_references() -> dict[str, np.ndarray]:
    """The FHN quantities at the analysis currents: v*, ⟨v⟩ and the Euler map's period.

    ``cycle_mean`` and ``euler_period`` are NaN at the resting currents.
    """
    fhn = FHN()
    v_star = fhn.fixed_point(ANALYSIS_CURRENTS)[0]
    cycle_mean = np.full(len(ANALYSIS_CURRENTS), np.nan)
    euler_period = np.full(len(ANALYSIS_CURRENTS), np.nan)
    _, runs = fhn.simulate(STUDY_CURRENTS, t_max=1000.0, dt=DT, method="euler")
    for current, trajectory in zip(STUDY_CURRENTS, runs, strict=True):
        k = int(np.argmin(np.abs(ANALYSIS_CURRENTS - current)))
        cycle_mean[k] = fhn.limit_cycle(float(current)).v_mean
        euler_period[k] = oscillation_period(trajectory[:, 0], DT, discard=1000)[0]
    return {"v_star": v_star, "cycle_mean": cycle_mean, "euler_period": euler_period}


def _study_mask() -> np.ndarray:
    return np.isin(ANALYSIS_CURRENTS, STUDY_CURRENTS)


def _on_study_currents(u: np.ndarray) -> np.ndarray:
    return np.isin(np.round(u, 9), np.round(STUDY_CURRENTS, 9))


def _outliers(points: FixedPoints, cycle: dict[str, np.ndarray]) -> np.ndarray:
    """Points farther than OUTLIER_SCALE trajectory radii from the trajectory (N,) bool."""
    index = np.searchsorted(ANALYSIS_CURRENTS, points.u[:, 0] - 1e-9)
    distance = np.linalg.norm(points.xstar - cycle["horizon_centroid"][index], axis=-1)
    return distance > OUTLIER_SCALE * cycle["horizon_radius"][index]


def _criterion(net_period: np.ndarray) -> dict[str, Any]:
    """The phase-sensitive criterion over the study's currents (a resting network: inf)."""
    study = _study_mask()
    reference = fhn_references()["euler_period"][study]
    period = np.where(np.isfinite(net_period[study]), net_period[study], np.inf)
    error = np.abs(period / reference - 1)
    drift = TRAINED_STEPS * DT * np.abs(1 / period - 1 / reference)
    worst = float(error.max())
    return {
        "period_error_max": worst,
        "phase_drift_max": float(np.max(np.where(np.isfinite(period), drift, np.inf))),
        "n_currents_resting": int(np.sum(~np.isfinite(period))),
        "reached_criterion": bool(worst <= PERIOD_TOLERANCE),
    }


def _rmse(estimate: np.ndarray, reference: np.ndarray) -> float:
    keep = np.isfinite(reference)
    if not keep.any():
        return float("nan")
    return float(np.sqrt(np.mean((estimate[keep] - reference[keep]) ** 2)))


def _at_points(values: np.ndarray, points_u: np.ndarray) -> np.ndarray:
    """The per-current ``values`` (K,) at each point's current (N,)."""
    return values[np.searchsorted(ANALYSIS_CURRENTS, points_u - 1e-9)]


def _central(points: FixedPoints, cycle: dict[str, np.ndarray]) -> np.ndarray:
    """At each current, the point nearest the centroid of the network's states (N,) bool.

    The centroid is the cycle's where the network oscillates, else the trained horizon's.
    """
    index = np.searchsorted(ANALYSIS_CURRENTS, points.u[:, 0] - 1e-9)
    centroid = np.where(np.isfinite(cycle["radius"])[:, None], cycle["centroid"],
                        cycle["horizon_centroid"])
    distance = np.linalg.norm(points.xstar - centroid[index], axis=-1)
    central = np.zeros(len(points), dtype=bool)
    for k in np.unique(index):
        at_k = np.flatnonzero(index == k)
        central[at_k[np.argmin(distance[at_k])]] = True
    return central


def _fixed_point_columns(
    points: FixedPoints, v_tilde: np.ndarray, cycle: dict[str, np.ndarray], central: np.ndarray
) -> dict[str, Any]:
    """Counts over every (non-outlier) point; comparisons over the central point per current."""
    references = fhn_references()
    u = points.u[:, 0]
    study = _on_study_currents(u)
    rest = ~study
    stable = np.abs(points.eigenvalues[:, 0]) < _STABLE_MODULUS
    v_star = _at_points(references["v_star"], u)
    branch, rest_branch = central & study, central & rest
    rmse_vstar = _rmse(v_tilde[branch], v_star[branch])
    rmse_cycle = _rmse(v_tilde[branch], _at_points(references["cycle_mean"], u)[branch])
    index = np.searchsorted(ANALYSIS_CURRENTS, u - 1e-9)
    return {
        "n_currents": len(STUDY_CURRENTS),
        "n_currents_with_fp": len(np.unique(u[study])),
        "n_fixed_points": int(study.sum()),
        "n_stable": int(np.sum(stable & study)),
        "n_stable_central": int(np.sum(stable & branch)),
        "rmse_vstar": rmse_vstar,
        "rmse_cycle_mean": rmse_cycle,
        "rmse_net_cycle_mean": _rmse(v_tilde[branch], cycle["mean"][index][branch]),
        "freq_ratio_median": _median(_frequency_ratio(points, cycle["period"][index])[branch]),
        "centroid_distance_median": _median(_centroid_distance(points, cycle, index)[branch]),
        "closer_to": _closer(rmse_vstar, rmse_cycle),
        "n_rest_currents": len(REST_CURRENTS),
        "n_rest_with_fp": len(np.unique(u[rest])),
        "n_stable_rest": int(np.sum(stable & rest_branch)),
        "rmse_vstar_rest": _rmse(v_tilde[rest_branch], v_star[rest_branch]),
    }


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def _closer(rmse_vstar: float, rmse_cycle: float) -> str:
    if not (np.isfinite(rmse_vstar) and np.isfinite(rmse_cycle)):
        return ""
    return "vstar" if rmse_vstar < rmse_cycle else "cycle_mean"


def _frequency_ratio(points: FixedPoints, net_period: np.ndarray) -> np.ndarray:
    """Rotation rate of each point's leading complex pair over the cycle's 2 pi / P (N,)."""
    lead = leading_complex(points.eigenvalues)
    return np.abs(np.angle(lead)) / DT / (2 * np.pi / net_period)


def _centroid_distance(
    points: FixedPoints, cycle: dict[str, np.ndarray], index: np.ndarray
) -> np.ndarray:
    """||x* - cycle centroid|| / cycle RMS radius in the full state space (N,)."""
    distance = np.linalg.norm(points.xstar - cycle["centroid"][index], axis=-1)
    return distance / cycle["radius"][index]


def _relu_columns(run: TrainedRun, points: FixedPoints, v_tilde: np.ndarray) -> dict[str, Any]:
    """Distinct activation patterns along the branch, and R² of a line through ṽ*(I)."""
    u = points.u[:, 0]
    study = _on_study_currents(u)
    if not isinstance(run.model, PaperRNN) or study.sum() < 3:
        return {"n_activation_patterns": float("nan"), "vstar_linear_r2": float("nan")}
    patterns = activation_patterns(run.model, points.xstar[study], u[study])
    slope, intercept = np.polyfit(u[study], v_tilde[study], 1)
    residual = v_tilde[study] - (slope * u[study] + intercept)
    total = np.sum((v_tilde[study] - v_tilde[study].mean()) ** 2)
    return {
        "n_activation_patterns": len(np.unique(patterns, axis=0)),
        "vstar_linear_r2": float(1 - np.sum(residual**2) / total) if total > 0 else float("nan"),
    }


def activation_patterns(model: PaperRNN, x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Which ReLUs of the deep cell are active at states ``x`` (N, d) and currents ``u`` (N,).

    Returns
    -------
    ndarray of bool, shape (N, L * H)
        The signs of every layer's pre-activation; the map is affine wherever they are fixed.
    """
    with torch.no_grad():
        cell = copy.deepcopy(model).double()
        h = torch.as_tensor(x, dtype=torch.float64) + cell.input_layer(
            torch.as_tensor(u, dtype=torch.float64)[:, None]
        )
        signs = []
        for layer in cell.hidden_layers:
            pre = layer(h)
            signs.append(pre > 0)
            h = torch.relu(pre)
    return torch.cat(signs, dim=-1).numpy()
