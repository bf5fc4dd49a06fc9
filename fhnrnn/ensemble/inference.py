"""Two-sample comparisons of the ensemble's arms: tests, effect sizes, intervals, Holm.

The identifiability question ("does seeing the neuron at rest in training make a network's
fixed point the neuron's?") compares, cell by cell, runs trained on data that visit a resting
current with runs trained on data that do not, at the same test currents (:data:`CONTRASTS`).
Each comparison (:func:`compare_samples`) reports

- the two-sided Mann-Whitney U test (no direction is assumed in advance);
- Cliff's delta, ``P(a > b) - P(a < b)`` over all pairs, an effect size in [-1, 1];
- the difference of the medians with a percentile bootstrap interval (seeded);

and a family of comparisons is corrected for multiplicity by Holm's step-down method
(:func:`holm`), over every test reported (:func:`arm_comparisons`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["CONTRASTS", "arm_comparisons", "cliffs_delta", "compare_samples", "holm"]

_CONFIDENCE = 0.95


def _finite_sample(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size < 2 or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must hold at least two finite values, got {array.size}: "
                         f"{array[:5]}")
    return array


def cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    """``P(a > b) - P(a < b)`` over all pairs of a (n,) and b (m,) sample."""
    difference = np.subtract.outer(np.asarray(a, float), np.asarray(b, float))
    return float(np.mean(np.sign(difference)))


def compare_samples(
    a: np.ndarray, b: np.ndarray, *, n_boot: int = 10_000, seed: int = 0
) -> dict[str, float]:
    """Two-sided Mann-Whitney test, Cliff's delta and a bootstrap interval of ``a`` vs ``b``.

    Parameters
    ----------
    a, b : ndarray, shapes (n,) and (m,)
        Finite samples, at least two values each.
    n_boot : int
        Bootstrap resamples of the median difference.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``n_a``, ``n_b``, ``median_a``, ``median_b``, ``median_difference`` (a - b) with its
        ``ci_low``, ``ci_high`` (95 % percentile bootstrap), ``cliffs_delta`` and ``p_value``.
    """
    a, b = _finite_sample(a, "a"), _finite_sample(b, "b")
    if not isinstance(n_boot, int) or n_boot < 100:
        raise ValueError(f"n_boot must be an int >= 100, got {n_boot!r}")
    rng = np.random.default_rng(seed)
    boot_a = np.median(rng.choice(a, size=(n_boot, a.size)), axis=1)
    boot_b = np.median(rng.choice(b, size=(n_boot, b.size)), axis=1)
    tail = 100 * (1 - _CONFIDENCE) / 2
    low, high = np.percentile(boot_a - boot_b, [tail, 100 - tail])
    return {
        "n_a": a.size, "n_b": b.size,
        "median_a": float(np.median(a)), "median_b": float(np.median(b)),
        "median_difference": float(np.median(a) - np.median(b)),
        "ci_low": float(low), "ci_high": float(high),
        "cliffs_delta": cliffs_delta(a, b),
        "p_value": float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue),
    }


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (k,), in the given order, capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p_values must be a 1-D array of probabilities, got {p_values!r}")
    order = np.argsort(p, kind="stable")
    scaled = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    out = np.empty_like(p)
    out[order] = adjusted
    return out


# The identifiability experiment: (data a, data b, columns), each column compared a against b.
# The gap data leave out the resting currents of HELD_OUT_BAND, the transient data keep them:
# inside the band (``rmse_vstar_band``) only the transient runs saw the neuron at rest, off it
# (``rmse_vstar_off_band``) both did, a control at the same kind of current in the same range.
# Transient against study: the study's data visit no resting current, and the resting
# currents lie outside their range (``rmse_vstar_rest``); ``rmse_vstar`` is the study's range.
CONTRASTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gap", "transient", ("rmse_vstar_band", "rmse_vstar_off_band")),
    ("transient", "study", ("rmse_vstar_rest", "rmse_vstar")),
)


def arm_comparisons(
    table: pd.DataFrame,
    contrasts: tuple[tuple[str, str, tuple[str, ...]], ...] = CONTRASTS,
    *,
    reached_only: bool = True,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per contrast, cell and column: the runs on data a against those on data b.

    The study's cell is taken with the study's initialisation (rotation 90-200). With
    ``reached_only`` only runs that reach the period criterion take part. A cell and column
    with fewer than two finite values in either arm is left out.

    Parameters
    ----------
    table : DataFrame
        ``runs.csv``: columns ``cell``, ``init``, ``data``, ``reached_criterion`` and those
        named in ``contrasts``.
    contrasts : tuple of (str, str, tuple of str)
        ``(data_a, data_b, columns)``; :data:`CONTRASTS` by default.

    Returns
    -------
    DataFrame
        One row per (contrast, cell, column): ``a``, ``b``, ``cell``, ``column``, the fields
        of :func:`compare_samples` and ``p_holm``, Holm-adjusted over every row.
    """
    runs = table[(table["cell"] != "paper") | (table["init"] == "rot90_200")]
    if reached_only:
        runs = runs[runs["reached_criterion"]]
    rows = []
    for a, b, columns in contrasts:
        for (cell, column), arms in _arms(runs, columns, (a, b)):
            if min(len(arms[a]), len(arms[b])) < 2:
                continue
            rows.append({"a": a, "b": b, "cell": cell, "column": column,
                         **compare_samples(arms[a], arms[b], n_boot=n_boot, seed=seed)})
    result = pd.DataFrame(rows)
    if not result.empty:
        result["p_holm"] = holm(result["p_value"].to_numpy())
    return result


def _arms(runs: pd.DataFrame, columns: tuple[str, ...], data: tuple[str, str]):
    for cell, cell_runs in runs.groupby("cell", sort=True):
        for column in columns:
            values = cell_runs[column].astype(float)
            finite = cell_runs[np.isfinite(values)]
            yield (cell, column), {level: finite.loc[finite["data"] == level, column]
                                   .to_numpy(float) for level in data}
