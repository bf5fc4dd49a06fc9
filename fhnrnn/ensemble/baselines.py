"""What a network's ṽ*(I) is worth: trivial predictors beside it, and a joint regression.

A network's fixed-point voltage ṽ*(I) is compared with two FHN targets over the study's
currents: the fixed point v*(I) and the cycle mean ⟨v⟩(I). An error means little alone, so
each target gets four baselines, predictors that need no fixed point at all:

- ``zero``: ṽ ≡ 0;
- ``train_mean``: the mean of the training voltage at the current (the FHN Euler trajectory
  from (0, 0) over the trained horizon, what the data show there);
- ``net_cycle_mean``: the network's own cycle mean (its free run);
- ``line``: the least-squares line through the target itself over the currents compared.

The *skill* of ṽ* on a target is ``1 - RMSE(ṽ*) / RMSE(best baseline)``: positive only
where the network's fixed points predict the target better than every baseline.
"Closer to v* or to ⟨v⟩" is replaced by regressing ṽ* on both jointly
(:func:`joint_regression`), since the two targets are strongly correlated over the range.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy import stats

from fhnrnn.ensemble.dynamics import DT, TRAINED_STEPS
from fhnrnn.tasks import fhn_voltage

__all__ = ["BASELINES", "TARGETS", "baseline_errors", "joint_regression", "train_mean_voltage"]

BASELINES = ("zero", "train_mean", "net_cycle_mean", "line")
TARGETS = ("vstar", "cycle_mean")
_CONFIDENCE = 0.95


def train_mean_voltage(currents: np.ndarray) -> np.ndarray:
    """Mean FHN voltage over the trained horizon from (0, 0) at each current (K,; K may be 0)."""
    values = tuple(np.asarray(currents, dtype=np.float64).ravel().tolist())
    return np.array(_train_means(values)) if values else np.zeros(0)


@cache
def _train_means(currents: tuple[float, ...]) -> tuple[float, ...]:
    task = fhn_voltage(np.array(currents), dt=DT, t_max=(TRAINED_STEPS - 1) * DT)
    return tuple(task.targets.double().mean(dim=1)[:, 0].tolist())


def _rmse(estimate: np.ndarray, reference: np.ndarray) -> float:
    return float(np.sqrt(np.mean((estimate - reference) ** 2))) if len(reference) else np.nan


def baseline_errors(
    currents: np.ndarray, v_tilde: np.ndarray, targets: dict[str, np.ndarray],
    net_cycle_mean: np.ndarray,
) -> dict[str, float]:
    """RMSE of ṽ* and of every baseline on every target, and the skill of ṽ*.

    Parameters
    ----------
    currents : ndarray, shape (K,)
        The currents compared (where the network has its central point).
    v_tilde : ndarray, shape (K,)
        The network's ṽ* there.
    targets : dict of str to ndarray, shape (K,)
        ``"vstar"`` and ``"cycle_mean"``; currents where a target is NaN are left out of it.
    net_cycle_mean : ndarray, shape (K,)
        The network's cycle mean (NaN where it rests: that baseline is then NaN).

    Returns
    -------
    dict
        ``rmse_<target>``, ``base_<target>_<baseline>`` for each baseline, and
        ``skill_<target>`` (NaN without a finite baseline).
    """
    out: dict[str, float] = {}
    for name in TARGETS:
        keep = np.isfinite(targets[name])
        target, u = targets[name][keep], currents[keep]
        predictions = {
            "zero": np.zeros_like(target),
            "train_mean": train_mean_voltage(u),
            "net_cycle_mean": net_cycle_mean[keep],
            "line": np.polyval(np.polyfit(u, target, 1), u) if len(u) > 1 else target * np.nan,
        }
        out[f"rmse_{name}"] = _rmse(v_tilde[keep], target)
        errors = {key: _rmse(value, target) for key, value in predictions.items()}
        out.update({f"base_{name}_{key}": value for key, value in errors.items()})
        finite = [value for value in errors.values() if np.isfinite(value)]
        best = min(finite) if finite else np.nan
        out[f"skill_{name}"] = 1 - out[f"rmse_{name}"] / best if best > 0 else np.nan
    return out


def joint_regression(
    v_tilde: np.ndarray, v_star: np.ndarray, cycle_mean: np.ndarray
) -> dict[str, float]:
    """OLS of ṽ* on v* and ⟨v⟩ jointly, with 95 % confidence intervals.

    ``ṽ*_k = β0 + β_v v*_k + β_c ⟨v⟩_k + ε_k`` over the currents where all three are finite
    (at least 5 of them, else every entry is NaN).

    Returns
    -------
    dict
        ``coef_vstar``, ``coef_vstar_lo``, ``coef_vstar_hi``, the same for ``coef_cycle_mean``,
        and ``regression_r2``.
    """
    keep = np.isfinite(v_tilde) & np.isfinite(v_star) & np.isfinite(cycle_mean)
    names = ("coef_vstar", "coef_cycle_mean")
    empty = {f"{name}{end}": np.nan for name in names for end in ("", "_lo", "_hi")}
    n = int(keep.sum())
    if n < 5:
        return {**empty, "regression_r2": np.nan}
    design = np.column_stack([np.ones(n), v_star[keep], cycle_mean[keep]])
    y = v_tilde[keep]
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ beta
    dof = n - 3
    sigma2 = residual @ residual / dof
    covariance = sigma2 * np.linalg.pinv(design.T @ design)
    half = stats.t.ppf(0.5 + _CONFIDENCE / 2, dof) * np.sqrt(np.diag(covariance))
    total = np.sum((y - y.mean()) ** 2)
    out = {"regression_r2": float(1 - residual @ residual / total) if total > 0 else np.nan}
    for i, name in enumerate(names, start=1):
        out.update({name: float(beta[i]), f"{name}_lo": float(beta[i] - half[i]),
                    f"{name}_hi": float(beta[i] + half[i])})
    return out
