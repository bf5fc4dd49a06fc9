"""The measurements of one trained run: one row of ``runs.csv`` and the run's arrays.

Everything is measured on the folded float64 network at the *analysis currents*
(:mod:`~fhnrnn.ensemble.dynamics`): the 21 currents ``linspace(0.4, 1.4, 21)`` of the study's
range (every column unless named ``*_rest`` or ``*_band``), plus ten resting currents outside
the two Hopf points (0, 0.05, ..., 0.3 and 1.5, 1.6, 1.7) where the FHN fixed point is stable.
Five of those (0.05-0.25) lie inside the band that the ``gap`` data leave out: ``*_band``
columns are taken there, ``*_off_band`` ones at the other five.

- **Free run.** From the zero state the network runs past its trained horizon; the rest is its
  own cycle: period, mean voltage, state centroid and RMS radius
  (:func:`~fhnrnn.ensemble.dynamics.free_run`).
- **Phase-sensitive criterion.** ``period_error_max`` is the largest ``|P_net / P_FHN - 1|``
  over the study's currents, with ``P_FHN`` the period of the Euler-discretised FHN the
  network was trained on (infinite where the network rests or diverges); ``phase_drift_max``
  the phase error it accumulates over the trained horizon (334 steps), in cycles. A run
  reaches the criterion when ``period_error_max <= PERIOD_TOLERANCE``.
- **Fixed points.** The study's cell (piecewise affine) takes the exact route
  (:func:`fhnrnn.fixedpoints.find_fixed_points_exact`: homotopies from trajectory states and
  the exact continuation of every component met, across the analysis currents), so that a
  current without a point is known to have none on any component met, with the reason
  recorded; the other cells take the smooth search (``FIXED_POINT_SEARCH``). A gated cell has
  fixed points far outside the region its trajectories visit (at saturated gates, where the
  state barely moves): as in FixedPointFinder, points farther from the trajectory's centroid
  than ``OUTLIER_SCALE`` trajectory radii are set aside (kept in the arrays, counted in
  ``n_outliers``). The counts ``n_fixed_points`` and ``n_stable`` cover the other points. The
  comparisons take one point per current, the *central* one, nearest the centroid of the
  network's states there (:func:`~fhnrnn.ensemble.dynamics.central_points`).
- **Against FHN, beside baselines.** The read-out ṽ* of the central points is compared with
  v*(I) and with the FHN cycle mean ⟨v⟩(I), each beside four baselines and as a skill score
  (:func:`~fhnrnn.ensemble.baselines.baseline_errors`), and regressed on both jointly
  (:func:`~fhnrnn.ensemble.baselines.joint_regression`).
- **Oscillator.** The network's cycle, its leading transverse Lyapunov exponent and its
  phase-response curve against the FHN Euler map's (:func:`oscillator_columns`).
- **Geometry.** Whether the central point lies inside the cycle, in the cycle's own plane
  (:func:`~fhnrnn.ensemble.geometry.winding_number`); the frequency ratio and the ReLU pattern
  count are taken on the central points too.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import numpy as np
import torch

from fhnrnn.analysis import (
    exact_search_by_input,
    fixed_points_by_input,
    rotation_rates,
    translate,
)
from fhnrnn.ensemble.baselines import baseline_errors, joint_regression
from fhnrnn.ensemble.dynamics import (
    ANALYSIS_CURRENTS,
    BAND_CURRENTS,
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
from fhnrnn.ensemble.geometry import winding_number
from fhnrnn.ensemble.train import TrainedRun, parameter_count
from fhnrnn.fixedpoints import FixedPoints, PiecewiseAffine
from fhnrnn.models import PaperRNN, RNNCell
from fhnrnn.oscillator import (
    comparison_statistics,
    fhn_euler_system,
    measure_oscillations,
    network_system,
    trivial_baselines,
)
from fhnrnn.recipes.fhn_voltage import voltage_mse

__all__ = [
    "EXACT_SEARCH",
    "FIXED_POINT_SEARCH",
    "MEASURE_VERSION",
    "PERIOD_TOLERANCE",
    "activation_patterns",
    "compare_with_fhn",
    "measure_run",
    "oscillator_baselines",
    "oscillator_columns",
    "search_fixed_points",
]

PERIOD_TOLERANCE = 0.05
# Raise when a change alters the measured numbers: runs.csv refuses to mix versions.
MEASURE_VERSION = 5
FIXED_POINT_SEARCH = {"n_per_input": 8, "n_steps": TRAINED_STEPS, "max_halvings": 3,
                      "tol_unique": 1e-3}
EXACT_SEARCH = {"n_per_input": 8, "n_steps": TRAINED_STEPS, "patience": 8}
_STABLE_MODULUS = 1.0
_INSIDE = 0.5
# The oscillator comparison (fhnrnn.oscillator, notebook 08): five currents across the study's
# range, and a phase-response curve of 12 pulses at each.
OSCILLATOR_CURRENTS = np.array([0.4, 0.65, 0.9, 1.15, 1.4])
OSCILLATOR_OPTIONS = {"n_phases": 12}
_OSCILLATOR_COLUMNS = ("cycle_fraction", "period_error", "amplitude_error", "exponent_error",
                       "prc_distance")


def search_fixed_points(model: RNNCell) -> tuple[FixedPoints, dict[float, str]]:
    """Fixed points at the analysis currents, and why a current has none.

    The exact route for a piecewise-affine cell (``EXACT_SEARCH``), the smooth one otherwise
    (``FIXED_POINT_SEARCH``).

    Returns
    -------
    points : FixedPoints
        Every point found.
    reasons : dict of float to str
        For each analysis current without a point, why.
    """
    if isinstance(model, PiecewiseAffine):
        search = exact_search_by_input(model, ANALYSIS_CURRENTS, **EXACT_SEARCH)
        return search.points, {float(u): why for u, why in search.reasons.items()}
    found = fixed_points_by_input(model, ANALYSIS_CURRENTS, route="smooth", progress=False,
                                  **FIXED_POINT_SEARCH)
    n_starts = FIXED_POINT_SEARCH["n_per_input"]
    missing = sorted(set(ANALYSIS_CURRENTS.tolist()) - set(found.u[:, 0].tolist()))
    return found, {u: f"the smooth search converged from none of its {n_starts} starts"
                   for u in missing}


def measure_run(
    run: TrainedRun,
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[float, str]]:
    """The row of ``runs.csv``, the per-run arrays and the currents without a fixed point.

    Parameters
    ----------
    run : TrainedRun
        A trained (or shipped) run of the ensemble.

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
    reasons : dict of float to str
        For each analysis current without a fixed point, why.
    """
    spec, model = run.spec, run.model
    cycle = free_run(model, ANALYSIS_CURRENTS, keep_cycles=True)
    found, reasons = search_fixed_points(model)
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
        "n_activation_patterns": _pattern_count(model, found[central]),
        **oscillator_columns(model),
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
    return row, arrays, reasons


def oscillator_columns(model: RNNCell) -> dict[str, float]:
    """The network's oscillation against the FHN Euler map's (:mod:`fhnrnn.oscillator`).

    Returns
    -------
    dict
        ``osc_cycle_fraction``, ``osc_period_error``, ``osc_amplitude_error``,
        ``osc_exponent_error`` (1/time) and ``osc_prc_distance`` (cycles) over
        ``OSCILLATOR_CURRENTS`` (see :func:`fhnrnn.oscillator.comparison_statistics`).
    """
    network = measure_oscillations(network_system(model), OSCILLATOR_CURRENTS,
                                   **OSCILLATOR_OPTIONS)
    statistics = comparison_statistics(network, _fhn_oscillations())
    return {f"osc_{name}": float(statistics[name]) for name in _OSCILLATOR_COLUMNS}


def oscillator_baselines() -> dict[str, float]:
    """What trivial oscillators score in the ``osc_*`` columns (the FHN map as reference).

    :func:`fhnrnn.oscillator.trivial_baselines` at ``OSCILLATOR_CURRENTS``: one fixed
    period and amplitude at every current, a neutral cycle, a flat phase-response curve.
    """
    baselines = trivial_baselines(_fhn_oscillations())
    return {f"osc_{name}": value for name, value in baselines.items()}


@cache
def _fhn_oscillations() -> list:
    return measure_oscillations(fhn_euler_system(), OSCILLATOR_CURRENTS, **OSCILLATOR_OPTIONS)


def _on_study_currents(u: np.ndarray) -> np.ndarray:
    return np.isclose(u[:, None], STUDY_CURRENTS[None], rtol=0, atol=1e-9).any(axis=1)


def period_errors(period: np.ndarray) -> np.ndarray:
    """``|P_net / P_FHN - 1|`` at the study's currents (21,), inf where the network rests.

    Parameters
    ----------
    period : ndarray, shape (K,)
        The network's period at the analysis currents (NaN or inf where it does not cycle).
    """
    network, reference = _study_periods(period)
    return np.abs(network / reference - 1)


def _study_periods(period: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's periods (inf where it does not cycle) and FHN's, at the study's currents."""
    study = _on_study_currents(ANALYSIS_CURRENTS)
    network = np.where(np.isfinite(period[study]), period[study], np.inf)
    return network, fhn_references()["euler_period"][study]


def _criterion(cycle: dict[str, np.ndarray]) -> dict[str, Any]:
    """The phase-sensitive criterion over the study's currents (resting or diverged: inf)."""
    study = _on_study_currents(ANALYSIS_CURRENTS)
    period, reference = _study_periods(cycle["period"])
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
    points: FixedPoints, v_tilde: np.ndarray, cycle: dict[str, Any], central: np.ndarray
) -> dict[str, Any]:
    """The fixed-point columns of ``runs.csv``.

    Parameters
    ----------
    points : FixedPoints
        The points found at the analysis currents, outliers left out (N points).
    v_tilde : ndarray, shape (N,)
        Their read-out voltages.
    cycle : dict
        :func:`fhnrnn.ensemble.dynamics.free_run` at the analysis currents (with its cycles).
    central : ndarray of bool, shape (N,)
        The central point of each current.

    Returns
    -------
    dict
        Counts over every point; errors, baselines, the regression, ratios and the geometry
        over the central points.
    """
    references = fhn_references()
    u = points.u[:, 0]
    index = current_index(u, ANALYSIS_CURRENTS)
    study = _on_study_currents(u)
    rest = ~study
    stable = np.abs(points.eigenvalues[:, 0]) < _STABLE_MODULUS
    branch, rest_branch = central & study, central & rest
    at = index[branch]
    targets = {"vstar": references["v_star"][at], "cycle_mean": references["cycle_mean"][at]}
    return {
        "n_currents": len(STUDY_CURRENTS),
        "n_currents_with_fp": len(np.unique(u[study])),
        "n_fixed_points": int(study.sum()),
        "n_stable": int(np.sum(stable & study)),
        "n_stable_central": int(np.sum(stable & branch)),
        **baseline_errors(ANALYSIS_CURRENTS[at], v_tilde[branch], targets, cycle["mean"][at]),
        **joint_regression(v_tilde[branch], targets["vstar"], targets["cycle_mean"]),
        "rmse_net_cycle_mean": _rmse(v_tilde[branch], cycle["mean"][at]),
        "freq_ratio_median": _median(_frequency_ratio(points, cycle["period"][index])[branch]),
        "centroid_distance_median": _median(_centroid_distance(points, cycle, index)[branch]),
        **_inside_cycle(points.xstar[branch], [cycle["cycles"][k] for k in at]),
        "n_rest_currents": len(REST_CURRENTS),
        "n_rest_with_fp": len(np.unique(u[rest])),
        "n_stable_rest": int(np.sum(stable & rest_branch)),
        **_rest_errors(v_tilde[rest_branch], u[rest_branch], references["v_star"][
            index[rest_branch]]),
    }


def _rest_errors(v_tilde: np.ndarray, u: np.ndarray, v_star: np.ndarray) -> dict[str, float]:
    """RMSE of the central points' ṽ* (N,) at currents u (N,) against v* (N,): at every
    resting current, inside the held-out band and outside it."""
    band = np.isclose(u[:, None], BAND_CURRENTS[None], rtol=0, atol=1e-9).any(axis=1)
    return {
        "rmse_vstar_rest": _rmse(v_tilde, v_star),
        "rmse_vstar_band": _rmse(v_tilde[band], v_star[band]),
        "rmse_vstar_off_band": _rmse(v_tilde[~band], v_star[~band]),
    }


def _rmse(estimate: np.ndarray, reference: np.ndarray) -> float:
    """RMSE where the reference is finite; NaN where it is nowhere finite."""
    keep = np.isfinite(reference) & np.isfinite(estimate)
    if not keep.any():
        return float("nan")
    return float(np.sqrt(np.mean((estimate[keep] - reference[keep]) ** 2)))


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def _inside_cycle(xstar: np.ndarray, cycles: list[tuple[np.ndarray, int] | None]) -> dict[str, Any]:
    """Share of the currents (with a cycle) whose central point the cycle winds around."""
    found = [winding_number(states, point, n_periods)
             for point, entry in zip(xstar, cycles, strict=True) if entry is not None
             for states, n_periods in [entry]]
    if not found:
        return {"inside_fraction": float("nan"), "in_plane_offset_median": float("nan"),
                "off_plane_offset_median": float("nan")}
    return {
        "inside_fraction": float(np.mean([g["winding"] > _INSIDE for g in found])),
        "in_plane_offset_median": float(np.median([g["in_plane_offset"] for g in found])),
        "off_plane_offset_median": float(np.median([g["off_plane_offset"] for g in found])),
    }


def _frequency_ratio(points: FixedPoints, net_period: np.ndarray) -> np.ndarray:
    """Rotation rate of each point's leading complex pair over the cycle's 2 pi / P (N,)."""
    return rotation_rates(points.eigenvalues, DT)[0] / (2 * np.pi / net_period)


def _centroid_distance(
    points: FixedPoints, cycle: dict[str, np.ndarray], index: np.ndarray
) -> np.ndarray:
    """||x* - cycle centroid|| / cycle RMS radius in the full state space (N,)."""
    distance = np.linalg.norm(points.xstar - cycle["centroid"][index], axis=-1)
    return distance / cycle["radius"][index]


def _pattern_count(model: RNNCell, points: FixedPoints) -> float:
    """Distinct activation patterns of the study's cell over its central points (else NaN)."""
    study = _on_study_currents(points.u[:, 0])
    if not isinstance(model, PaperRNN) or not study.any():
        return float("nan")
    patterns = activation_patterns(model, points.xstar[study], points.u[study, 0])
    return float(len(np.unique(patterns, axis=0)))


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
