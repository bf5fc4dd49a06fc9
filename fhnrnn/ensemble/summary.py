"""Summaries of ``runs.csv`` by factor level: the numbers notebook 07 reports."""

from __future__ import annotations

import pandas as pd
from scipy import stats

__all__ = ["GROUPS", "data_effect", "group_summary", "label_groups"]

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


def data_effect(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per cell: ``column`` in the study's set-up against the transient-rich one.

    The test is the one-sided Mann-Whitney U test of "smaller with transient-rich data". Runs
    where the column is NaN (a run without fixed points has no error) are left out and
    counted; infinite values take part (they rank last).

    Returns
    -------
    DataFrame
        Index: cell. Columns: ``study_median``, ``transient_median``, ``study_n``,
        ``transient_n`` (runs compared), ``left_out`` (runs without a value), ``p_value``.
    """
    base = table[table["init"].isin(["rot90_200", "default"])]
    base = base[(base["cell"] != "paper") | (base["init"] == "rot90_200")]
    rows = {}
    for cell, runs in base.groupby("cell"):
        values = {data: runs.loc[runs["data"] == data, column].astype(float).dropna()
                  for data in ("study", "transient")}
        if values["study"].empty or values["transient"].empty:
            continue
        test = stats.mannwhitneyu(values["transient"], values["study"], alternative="less")
        rows[cell] = {"study_median": values["study"].median(),
                      "transient_median": values["transient"].median(),
                      "study_n": len(values["study"]), "transient_n": len(values["transient"]),
                      "left_out": len(runs) - len(values["study"]) - len(values["transient"]),
                      "p_value": float(test.pvalue)}
    return pd.DataFrame.from_dict(rows, orient="index")
