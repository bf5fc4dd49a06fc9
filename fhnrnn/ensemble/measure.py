"""The measurements of one trained run: one row of ``runs.csv`` and the run's arrays.

Everything is measured on the folded float64 network at the *analysis currents*
(:mod:`~fhnrnn.ensemble.dynamics`): the 21 currents ``linspace(0.4, 1.4, 21)`` of the study's
range (every column unless named ``*_rest``), plus seven resting currents outside the two
Hopf points (0, 0.1, 0.2, 0.3 and 1.5, 1.6, 1.7) where the FHN fixed point is stable.

- **Free run.** From the zero state the network runs past its trained horizon; the rest is its
  own cycle: period, mean voltage, state centroid and RMS radius
  (:func:`~fhnrnn.ensemble.dynamics.free_run`).
- **Phase-sensitive criterion.** ``period_error_max`` is the largest ``|P_net / P_FHN - 1|``
  over the study's currents, with ``P_FHN`` the period of the Euler-discretised FHN the
  network was trained on (infinite where the network rests or diverges); ``phase_drift_max``
  the phase error it accumulates over the trained horizon (334 steps), in cycles. A run
  reaches the criterion when ``period_error_max <= PERIOD_TOLERANCE``.
- **Fixed points.** :func:`fhnrnn.analysis.fixed_points_by_input` along the analysis currents
  (``FIXED_POINT_SEARCH``). A gated cell has fixed points far outside the region its
  trajectories visit (at saturated gates, where the state barely moves): as in
  FixedPointFinder, points farther from the trajectory's centroid than ``OUTLIER_SCALE``
  trajectory radii are set aside (kept in the arrays, counted in ``n_outliers``). The counts
  ``n_fixed_points`` and ``n_stable`` cover the other points. The comparisons take one point
  per current, the *central* one, nearest the centroid of the network's states there
  (:func:`~fhnrnn.ensemble.dynamics.central_points`). Its ṽ* (the read-out of the point) is
  compared with v*(I) (``rmse_vstar``), with the FHN cycle mean ⟨v⟩(I) (``rmse_cycle_mean``)
  and with the network's own cycle mean (``rmse_net_cycle_mean``); the frequency ratio, the
  centroid distance and the ReLU columns are taken on it too.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from fhnrnn.analysis import error_summary, fixed_points_by_input, rotation_rates, translate
from fhnrnn.ensemble.dynamics import (
    ANALYSIS_CURRENTS,
    DT,
    REST_CURRENTS,
    STUDY_CURRENTS,
    TRAINED_STEPS,
    central_points,
    current_index,
    fhn_references,
    free_run,
    outliers,
)
from fhnrnn.ensemble.train import TrainedRun, parameter_count
from fhnrnn.fixedpoints import FixedPoints
from fhnrnn.models import PaperRNN
from fhnrnn.recipes.fhn_voltage import voltage_mse

__all__ = [
    "FIXED_POINT_SEARCH",
    "MEASURE_VERSION",
    "PERIOD_TOLERANCE",
    "activation_patterns",
    "compare_with_fhn",
    "measure_run",
]

PERIOD_TOLERANCE = 0.05
# Raise when a change alters the measured numbers: runs.csv refuses to mix versions.
MEASURE_VERSION = 3
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
        every fixed point found, outliers included: ``fp_u`` (N,), ``fp_xstar`` (N, d),
        ``fp_q`` (N,), ``fp_vtilde`` (N,), ``fp_n_unstable`` (N,), ``fp_leading`` (N, 4)
        complex (the four multipliers of largest modulus), ``fp_outlier`` (N,) bool and
        ``fp_central`` (N,) bool (the point compared at its current).
    """
    spec, model = run.spec, run.model
    cycle = free_run(model, ANALYSIS_CURRENTS)
    found = fixed_points_by_input(
        model, ANALYSIS_CURRENTS, route="smooth", progress=False, **FIXED_POINT_SEARCH
    )
    v_tilde = translate(model, found.xstar)[:, 0] if len(found) else np.zeros(0)
    outlier = outliers(found, cycle, ANALYSIS_CURRENTS)
    central = np.zeros(len(found), dtype=bool)
    central[~outlier] = central_points(found[~outlier], cycle, ANALYSIS_CURRENTS)
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
        "train_mse": voltage_mse(model, run.train),
        "held_out_mse": voltage_mse(model, run.held_out),
        **_criterion(cycle),
        "n_outliers": int(np.sum(outlier & _on_study_currents(found.u[:, 0]))),
        **compare_with_fhn(found[~outlier], v_tilde[~outlier], cycle, central[~outlier]),
        **_relu_columns(model, found[central], v_tilde[central]),
    }
    arrays = {
        "currents": ANALYSIS_CURRENTS,
        "net_period": cycle["period"],
        "net_cycle_mean": cycle["mean"],
        "fp_u": found.u[:, 0],
        "fp_xstar": found.xstar,
        "fp_q": found.q,
        "fp_vtilde": v_tilde,
        "fp_n_unstable": found.n_unstable,
        "fp_leading": found.eigenvalues[:, :4],
        "fp_outlier": outlier,
        "fp_central": central,
    }
    return row, arrays


def _on_study_currents(u: np.ndarray) -> np.ndarray:
    return np.isclose(u[:, None], STUDY_CURRENTS[None], rtol=0, atol=1e-9).any(axis=1)


def _criterion(cycle: dict[str, np.ndarray]) -> dict[str, Any]:
    """The phase-sensitive criterion over the study's currents (resting or diverged: inf)."""
    study = _on_study_currents(ANALYSIS_CURRENTS)
    reference = fhn_references()["euler_period"][study]
    period = np.where(np.isfinite(cycle["period"][study]), cycle["period"][study], np.inf)
    error = np.abs(period / reference - 1)
    drift = TRAINED_STEPS * DT * np.abs(1 / period - 1 / reference)
    worst = float(error.max())
    return {
        "period_error_max": worst,
        "phase_drift_max": float(np.max(np.where(np.isfinite(period), drift, np.inf))),
        "n_currents_resting": int(np.sum(~np.isfinite(period))),
        "n_currents_diverged": int(np.sum(cycle["diverged"][study])),
        "reached_criterion": bool(worst <= PERIOD_TOLERANCE),
    }


def compare_with_fhn(
    points: FixedPoints, v_tilde: np.ndarray, cycle: dict[str, np.ndarray], central: np.ndarray
) -> dict[str, Any]:
    """The fixed-point columns of ``runs.csv``.

    Parameters
    ----------
    points : FixedPoints
        The points found at the analysis currents, outliers left out (N points).
    v_tilde : ndarray, shape (N,)
        Their read-out voltages.
    cycle : dict
        :func:`fhnrnn.ensemble.dynamics.free_run` at the analysis currents.
    central : ndarray of bool, shape (N,)
        The central point of each current.

    Returns
    -------
    dict
        Counts over every point; errors, ratios and distances over the central points.
    """
    references = fhn_references()
    u = points.u[:, 0]
    index = current_index(u, ANALYSIS_CURRENTS)
    study = _on_study_currents(u)
    rest = ~study
    stable = np.abs(points.eigenvalues[:, 0]) < _STABLE_MODULUS
    v_star = references["v_star"][index]
    branch, rest_branch = central & study, central & rest
    rmse_vstar = _rmse(v_tilde[branch], v_star[branch])
    rmse_cycle = _rmse(v_tilde[branch], references["cycle_mean"][index][branch])
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


def _rmse(estimate: np.ndarray, reference: np.ndarray) -> float:
    """RMSE where the reference is defined; NaN where it is nowhere defined."""
    keep = np.isfinite(reference)
    if not keep.any():
        return float("nan")
    return error_summary(estimate[keep], reference[keep])["rmse"]


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def _closer(rmse_vstar: float, rmse_cycle: float) -> str:
    if not (np.isfinite(rmse_vstar) and np.isfinite(rmse_cycle)):
        return ""
    return "vstar" if rmse_vstar < rmse_cycle else "cycle_mean"


def _frequency_ratio(points: FixedPoints, net_period: np.ndarray) -> np.ndarray:
    """Rotation rate of each point's leading complex pair over the cycle's 2 pi / P (N,)."""
    return rotation_rates(points.eigenvalues, DT)[0] / (2 * np.pi / net_period)


def _centroid_distance(
    points: FixedPoints, cycle: dict[str, np.ndarray], index: np.ndarray
) -> np.ndarray:
    """||x* - cycle centroid|| / cycle RMS radius in the full state space (N,)."""
    distance = np.linalg.norm(points.xstar - cycle["centroid"][index], axis=-1)
    return distance / cycle["radius"][index]


def _relu_columns(model: Any, points: FixedPoints, v_tilde: np.ndarray) -> dict[str, Any]:
    """Distinct activation patterns along the branch, and R² of a line through ṽ*(I)."""
    u = points.u[:, 0]
    study = _on_study_currents(u)
    if not isinstance(model, PaperRNN) or study.sum() < 3:
        return {"n_activation_patterns": float("nan"), "vstar_linear_r2": float("nan")}
    patterns = activation_patterns(model, points.xstar[study], u[study])
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
