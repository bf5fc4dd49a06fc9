"""Summaries of ``runs.csv`` by factor level: the numbers notebook 07 reports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fhnrnn.ensemble.baselines import BASELINES, TARGETS

__all__ = ["GROUPS", "baseline_summary", "group_summary", "label_groups"]

# (cell, init, data) -> label, in the order the notebook shows them.
GROUPS: dict[tuple[str, str, str], str] = {
    ("paper", "rot90_200", "study"): "PaperRNN, rotation 90-200",
    ("paper", "rot30_60", "study"): "PaperRNN, rotation 30-60",
    ("paper", "rot200_400", "study"): "PaperRNN, rotation 200-400",
    ("paper", "default", "study"): "PaperRNN, default init",
    ("tanh", "default", "study"): "TanhRNN",
    ("gru", "default", "study"): "GRU",
    ("lstm", "default", "study"): "LSTM",
    ("paper", "rot90_200", "transient"): "PaperRNN, transient-rich",
    ("tanh", "default", "transient"): "TanhRNN, transient-rich",
    ("gru", "default", "transient"): "GRU, transient-rich",
    ("lstm", "default", "transient"): "LSTM, transient-rich",
    ("paper", "rot90_200", "gap"): "PaperRNN, gap in rest",
    ("tanh", "default", "gap"): "TanhRNN, gap in rest",
}


def label_groups(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``group`` column (ordered categorical, the order of :data:`GROUPS`)."""
    keys = list(zip(table["cell"], table["init"], table["data"], strict=True))
    unknown = sorted({key for key in keys if key not in GROUPS})
    if unknown:
        raise ValueError(f"table has runs outside the design's groups: {unknown}")
    labels = pd.Categorical([GROUPS[key] for key in keys], categories=list(GROUPS.values()),
                            ordered=True)
    return table.assign(group=labels)


def group_summary(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Runs, runs reaching the criterion, and the median [min, max] of ``columns`` per group.

    Returns
    -------
    DataFrame
        One row per group present; ``runs``, ``reached`` and, per column, a text cell
        ``median [min, max]`` over the runs where the column is defined (not NaN; an
        infinite value, such as the period error of a network that rests, counts).
    """
    grouped = label_groups(table).groupby("group", observed=True)
    summary = pd.DataFrame({"runs": grouped.size(), "reached": grouped["reached_criterion"].sum()})
    for column in columns:
        summary[column] = grouped[column].agg(_spread_text)
    return summary


def _spread_text(values: pd.Series) -> str:
    defined = values.astype(float).dropna()
    if defined.empty:
        return "-"
    return f"{defined.median():.3g} [{defined.min():.3g}, {defined.max():.3g}]"


def baseline_summary(table: pd.DataFrame, target: str) -> pd.DataFrame:
    """Per group: the median RMSE of ṽ* on ``target``, of each baseline, and the skill.

    Parameters
    ----------
    table : DataFrame
        ``runs.csv``: ``rmse_<target>``, ``base_<target>_<baseline>`` for every baseline of
        :data:`~fhnrnn.ensemble.baselines.BASELINES` and ``skill_<target>``.
    target : str
        ``"vstar"`` or ``"cycle_mean"``.

    Returns
    -------
    DataFrame
        One row per group present: ``runs`` (with a skill), the medians of ``network`` and of
        each baseline, ``skill`` as ``median [min, max]``, and ``beats_best`` (runs with a
        positive skill: better than every baseline).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    rated = label_groups(table)
    rated = rated[np.isfinite(rated[f"skill_{target}"].astype(float))]
    grouped = rated.groupby("group", observed=True)
    columns = {"network": f"rmse_{target}",
               **{baseline: f"base_{target}_{baseline}" for baseline in BASELINES}}
    summary = pd.DataFrame({"runs": grouped.size()})
    for name, column in columns.items():
        summary[name] = grouped[column].median()
    summary["skill"] = grouped[f"skill_{target}"].agg(_spread_text)
    summary["beats_best"] = grouped[f"skill_{target}"].agg(lambda skill: int((skill > 0).sum()))
    return summary
