"""The figures of notebook 07, drawn from ``runs.csv`` and the per-run arrays."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fhnrnn.ensemble.results import load_arrays
from fhnrnn.ensemble.summary import label_groups
from fhnrnn.fhn import FHN

__all__ = ["plot_by_group", "plot_piecewise", "plot_vstar_curves"]

# The panels of the v~*(I) figure: title -> groups drawn in it.
_PANELS = {
    "PaperRNN, study's init (rotation 90-200)": ["PaperRNN, rotation 90-200"],
    "PaperRNN, other inits": ["PaperRNN, rotation 30-60", "PaperRNN, rotation 200-400",
                              "PaperRNN, default init"],
    "TanhRNN, GRU, LSTM": ["TanhRNN", "GRU", "LSTM"],
    "transient-rich data, all cells": ["PaperRNN, transient-rich", "TanhRNN, transient-rich",
                                       "GRU, transient-rich", "LSTM, transient-rich"],
}


def _fhn_curves(currents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """v*(I) on ``currents``, and the currents and ⟨v⟩ where the cycle exists."""
    fhn = FHN()
    low, high = fhn.hopf_points()
    cycling = currents[(currents > low + 0.01) & (currents < high - 0.01)]
    means = np.array([fhn.limit_cycle(float(value)).v_mean for value in cycling])
    return fhn.fixed_point(currents)[0], cycling, means


def plot_vstar_curves(table: pd.DataFrame, folder: Path) -> Figure:
    """Every run's central fixed points, as ṽ*(I), over v*(I) and ⟨v⟩(I); one panel per set.

    One point per run and current: the one compared in ``runs.csv`` (nearest the centroid of
    the network's states). Points beyond the axes are drawn at the edge as triangles.
    """
    table = label_groups(table)
    fine = np.linspace(0.0, 1.75, 176)
    v_star, cycling, means = _fhn_curves(fine)
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.2), sharex=True, sharey=True)
    limits = (-2.5, 2.5)
    for ax, (title, groups) in zip(axes.flat, _PANELS.items(), strict=True):
        ax.plot(fine, v_star, color="k", lw=1.4, label=r"FHN $v^*(I)$", zorder=4)
        ax.plot(cycling, means, color="C1", lw=1.4, label=r"FHN $\langle v\rangle(I)$", zorder=4)
        for colour, group in enumerate(groups):
            _scatter_group(ax, table[table["group"] == group], folder, f"C{colour + 2}", group,
                           limits)
        ax.axvspan(0.4, 1.4, color="0.93", zorder=0)
        ax.set(title=title, ylim=limits)
        ax.legend(fontsize=7, loc="lower right")
    for ax in axes[1]:
        ax.set_xlabel("current I")
    for ax in axes[:, 0]:
        ax.set_ylabel(r"voltage")
    fig.tight_layout()
    return fig


def _scatter_group(ax: plt.Axes, runs: pd.DataFrame, folder: Path, colour: str, label: str,
                   limits: tuple[float, float]) -> None:
    if runs.empty:
        return
    u, v = [], []
    for run_id in runs["run_id"]:
        arrays = load_arrays(folder, run_id)
        kept = arrays["fp_central"]
        u.append(arrays["fp_u"][kept])
        v.append(arrays["fp_vtilde"][kept])
    u, v = np.concatenate(u), np.concatenate(v)
    inside = (v > limits[0]) & (v < limits[1])
    ax.scatter(u[inside], v[inside], s=9, color=colour, alpha=0.6, lw=0,
               label=rf"{label} $\tilde v^*$ ({len(runs)} runs)")
    edge = np.clip(v[~inside], limits[0] + 0.06, limits[1] - 0.06)
    ax.scatter(u[~inside], edge, s=12, color=colour, marker="^", alpha=0.6, lw=0)


def plot_by_group(table: pd.DataFrame, columns: dict[str, str], *, log: tuple[str, ...] = (),
                  reference: dict[str, float] | None = None) -> Figure:
    """One strip chart per column: each run a dot, grouped by factor levels.

    Parameters
    ----------
    table : DataFrame
        ``runs.csv``.
    columns : dict of str to str
        Column -> axis label.
    log : tuple of str
        Columns drawn on a log scale.
    reference : dict of str to float, optional
        Column -> value drawn as a dashed line (e.g. a ratio of 1).
    """
    table = label_groups(table)
    groups = [group for group in table["group"].cat.categories if (table["group"] == group).any()]
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 4.6), sharey=True)
    axes = np.atleast_1d(axes)
    jitter = np.random.default_rng(0)
    for ax, (column, label) in zip(axes, columns.items(), strict=True):
        for row, group in enumerate(groups):
            values = table.loc[table["group"] == group, column].astype(float).to_numpy()
            values = values[np.isfinite(values)]
            offsets = row + jitter.uniform(-0.18, 0.18, values.size)
            ax.scatter(values, offsets, s=16, color=f"C{row % 10}", alpha=0.75, lw=0)
            if values.size:
                ax.plot([np.median(values)] * 2, [row - 0.3, row + 0.3], color="k", lw=1.5)
        if reference and column in reference:
            ax.axvline(reference[column], color="0.5", ls="--", lw=0.8)
        if column in log:
            ax.set_xscale("log")
        ax.set(xlabel=label)
    axes[0].set_yticks(range(len(groups)), groups, fontsize=8)
    axes[0].invert_yaxis()
    fig.tight_layout()
    return fig


def plot_piecewise(table: pd.DataFrame) -> Figure:
    """For the ReLU cell: activation regions along the branch against the R² of a line."""
    runs = label_groups(table[table["cell"] == "paper"])
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for colour, (group, rows) in enumerate(runs.groupby("group", observed=True)):
        ax.scatter(rows["n_activation_patterns"], rows["vstar_linear_r2"], s=22,
                   color=f"C{colour}", label=group, alpha=0.8)
    ax.set(xlabel="distinct activation patterns among the fixed points (21 currents)",
           ylabel=r"$R^2$ of a straight line through $\tilde v^*(I)$", xscale="log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
