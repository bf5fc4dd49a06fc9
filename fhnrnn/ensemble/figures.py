"""The figures of notebook 07, drawn from ``runs.csv`` and the per-run arrays."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator

from fhnrnn.ensemble.dynamics import STUDY_CURRENTS
from fhnrnn.ensemble.measure import PERIOD_TOLERANCE, period_errors
from fhnrnn.ensemble.results import load_arrays
from fhnrnn.ensemble.summary import label_groups
from fhnrnn.fhn import FHN
from fhnrnn.plotting import paper_figsize

__all__ = ["plot_by_group", "plot_comparisons", "plot_geometry", "plot_oscillator",
           "plot_period_errors", "plot_regression", "plot_skill", "plot_vstar_curves"]

# The panels of the v~*(I) figure: title -> groups drawn in it.
_PANELS = {
    "PaperRNN, study's init (rotation 90-200)": ["PaperRNN, rotation 90-200"],
    "PaperRNN, other inits": ["PaperRNN, rotation 30-60", "PaperRNN, rotation 200-400",
                              "PaperRNN, default init"],
    "TanhRNN, GRU, LSTM": ["TanhRNN", "GRU", "LSTM"],
    "transient-rich data, all cells": ["PaperRNN, transient-rich", "TanhRNN, transient-rich",
                                       "GRU, transient-rich", "LSTM, transient-rich",
                                       "PaperRNN, gap in rest", "TanhRNN, gap in rest"],
}

# The panels of the period-error figure: title -> data set-up.
_PERIOD_PANELS = {"study's data": "study", "transient-rich data": "transient",
                  "gap data": "gap"}


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
    fig, axes = plt.subplots(2, 2, figsize=paper_figsize("ensemble_vstar"), sharex=True,
                             sharey=True, layout="constrained")
    limits = (-2.5, 2.5)
    for index, (ax, (title, groups)) in enumerate(zip(axes.flat, _PANELS.items(), strict=True)):
        names = (r"FHN $v^*(I)$", r"FHN $\langle v\rangle(I)$") if index == 0 else (None, None)
        ax.plot(fine, v_star, color="k", lw=1.4, label=names[0], zorder=4)
        ax.plot(cycling, means, color="C1", lw=1.4, label=names[1], zorder=4)
        for colour, group in enumerate(groups):
            _scatter_group(ax, table[table["group"] == group], folder, f"C{colour + 2}", group,
                           limits)
        ax.axvspan(0.4, 1.4, color="0.93", zorder=0)
        ax.set(title=title, ylim=limits)
        crowded = len(groups) > 3  # two columns in the empty upper left
        ax.legend(loc="upper left" if crowded else "lower right", ncols=2 if crowded else 1,
                  handletextpad=0.2, borderaxespad=0.2, labelspacing=0.25, columnspacing=0.8,
                  markerscale=1.5)
    for ax in axes[1]:
        ax.set_xlabel("current $I$")
    for ax in axes[:, 0]:
        ax.set_ylabel("voltage")
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
               label=f"{_panel_label(label)} ({len(runs)} runs)")
    edge = np.clip(v[~inside], limits[0] + 0.06, limits[1] - 0.06)
    ax.scatter(u[~inside], edge, s=12, color=colour, marker="^", alpha=0.6, lw=0)


def plot_by_group(table: pd.DataFrame, columns: dict[str, str], *, log: tuple[str, ...] = (),
                  reference: dict[str, float] | None = None,
                  figure: str = "ensemble_errors") -> Figure:
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
    figure : str
        The name whose printed size the figure takes (:func:`fhnrnn.plotting.paper_figsize`).
    """
    table = label_groups(table)
    groups = [group for group in table["group"].cat.categories if (table["group"] == group).any()]
    fig, axes = plt.subplots(1, len(columns), figsize=paper_figsize(figure), sharey=True,
                             layout="constrained")
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
            _log_axis(ax)
        ax.set_xlabel(label)
    axes[0].set_yticks(range(len(groups)), groups)
    axes[0].invert_yaxis()
    return fig


def plot_skill(table: pd.DataFrame) -> Figure:
    """Each run's RMSE of ṽ* over that of its best baseline, on v* and on ⟨v⟩ (log scale).

    The ratio is ``1 - skill``: below the dashed line at 1 a run's fixed points predict the
    target better than every baseline of :mod:`~fhnrnn.ensemble.baselines`.
    """
    ratios = table.assign(**{f"ratio_{target}": 1 - table[f"skill_{target}"].astype(float)
                             for target in ("vstar", "cycle_mean")})
    return plot_by_group(ratios, {"ratio_vstar": r"RMSE to $v^*$ / best baseline's",
                                  "ratio_cycle_mean": r"RMSE to $\langle v\rangle$ / best "
                                                      "baseline's"},
                         log=("ratio_vstar", "ratio_cycle_mean"),
                         reference={"ratio_vstar": 1.0, "ratio_cycle_mean": 1.0})


def plot_regression(table: pd.DataFrame) -> Figure:
    """Each run's coefficients of ṽ* regressed on v* and ⟨v⟩ jointly (dashed: 0)."""
    return plot_by_group(table, {"coef_vstar": r"coefficient of $v^*$",
                                 "coef_cycle_mean": r"coefficient of $\langle v\rangle$"},
                         reference={"coef_vstar": 0.0, "coef_cycle_mean": 0.0},
                         figure="ensemble_regression")


def plot_geometry(table: pd.DataFrame) -> Figure:
    """Where the central fixed point sits: wound round by the cycle, offsets, rotation rate."""
    return plot_by_group(table, {"inside_fraction": "fraction wound round",
                                 "in_plane_offset_median": "in-plane offset / radius",
                                 "freq_ratio_median": "rotation / cycle frequency"},
                         log=("in_plane_offset_median", "freq_ratio_median"),
                         reference={"inside_fraction": 0.5, "in_plane_offset_median": 1.0,
                                    "freq_ratio_median": 1.0},
                         figure="ensemble_geometry")


def plot_oscillator(table: pd.DataFrame, baselines: dict[str, float]) -> Figure:
    """The oscillator statistics of every run, each beside its trivial baseline (dashed).

    ``baselines``: column -> what a trivial oscillator scores there
    (:func:`~fhnrnn.ensemble.oscillator_baselines`).
    """
    return plot_by_group(table, {"osc_period_error": "period error",
                                 "osc_exponent_error": "exponent error (1/time)",
                                 "osc_prc_distance": "PRC distance (cycles)"},
                         log=("osc_period_error",), reference=baselines,
                         figure="ensemble_oscillator")


def _log_axis(ax: plt.Axes) -> None:
    """A log x axis labelled in plain numbers: 1-2-5 steps, 1-3 steps or decades, by range."""
    ax.set_xscale("log")
    low, high = ax.get_xlim()
    decades = np.log10(high / low)
    subs = (1.0, 2.0, 5.0) if decades <= 1.5 else (1.0, 3.0) if decades <= 3 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(subs=subs))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


def plot_period_errors(table: pd.DataFrame, folder: Path) -> Figure:
    """The period error of each group at each of the study's currents: where runs miss.

    Per group, the median over its runs of ``|P_net / P_FHN - 1|`` at each current (a run
    that rests there counts as infinitely wrong; a median beyond the axis is drawn at its
    edge); one panel per data set-up. The dashed line is the criterion's tolerance.
    """
    table = label_groups(table)
    fig, axes = plt.subplots(1, len(_PERIOD_PANELS), figsize=paper_figsize("ensemble_training"),
                             sharey=True, layout="constrained")
    bottom, top = 1e-5, 1.0
    for ax, (title, data) in zip(axes, _PERIOD_PANELS.items(), strict=True):
        label = _panel_label if data == "study" else (lambda group: group.split(",")[0])
        groups = [group for group in table["group"].cat.categories
                  if (table.loc[table["group"] == group, "data"] == data).any()]
        for colour, group in enumerate(groups):
            runs = table[table["group"] == group]
            errors = [period_errors(load_arrays(folder, run_id)["net_period"])
                      for run_id in runs["run_id"]]
            median = np.median(errors, axis=0)
            ax.plot(STUDY_CURRENTS, np.clip(median, bottom, top), "o-", ms=2.5, lw=1,
                    color=f"C{colour}", label=f"{label(group)} ({len(runs)})")
        ax.axhline(PERIOD_TOLERANCE, color="0.5", ls="--", lw=0.8)
        ax.set(yscale="log", ylim=(bottom, top), title=title, xlabel="current $I$")
        ax.legend(loc="lower center", ncols=2 if len(groups) > 4 else 1, handlelength=1.2,
                  labelspacing=0.2, columnspacing=0.8, borderaxespad=0.2)
    axes[0].set_ylabel("median period error")
    return fig


def plot_comparisons(comparisons: pd.DataFrame, labels: dict[str, str] | None = None) -> Figure:
    """The identifiability tests as a forest plot: each median difference with its interval.

    One row per comparison (contrast, cell, column) of
    :func:`fhnrnn.ensemble.arm_comparisons`: the difference of the medians (data a minus
    data b) with its 95 % bootstrap interval; a filled marker where the Holm-adjusted p-value
    is below 0.05, an open one elsewhere; the runs compared and ``p_holm`` at the right.

    Parameters
    ----------
    comparisons : DataFrame
        The rows of :func:`~fhnrnn.ensemble.arm_comparisons` (at least one).
    labels : dict of str to str, optional
        Column -> its name on the axis (the column's own name by default).
    """
    if comparisons.empty:
        raise ValueError("comparisons must hold at least one row (no arm had two runs?)")
    labels = labels or {}
    contrasts = list(dict.fromkeys(zip(comparisons["a"], comparisons["b"], strict=True)))
    fig, ax = plt.subplots(figsize=paper_figsize("ensemble_identifiability"),
                           layout="constrained")
    for row, test in enumerate(comparisons.itertuples()):
        colour = f"C{contrasts.index((test.a, test.b)) % 10}"  # one colour per contrast
        ax.plot([test.ci_low, test.ci_high], [row, row], color=colour, lw=1.5)
        ax.plot(test.median_difference, row, "o", color=colour, ms=5,
                mfc=colour if test.p_holm < 0.05 else "white")
        ax.annotate(f"{test.n_a} vs {test.n_b},  p = {test.p_holm:.2g}", (1.01, row),
                    xycoords=("axes fraction", "data"), va="center")
    ax.axvline(0.0, color="0.5", ls="--", lw=0.8)
    ax.set_yticks(range(len(comparisons)), [
        f"{test.cell}: {labels.get(test.column, test.column)} ({test.a} - {test.b})"
        for test in comparisons.itertuples()])
    ax.invert_yaxis()
    ax.set_xlabel("difference of the medians, with its 95 % bootstrap interval")
    return fig


def _panel_label(group: str) -> str:
    """A group's name within its panel of the ṽ* figure, whose title says the rest."""
    if group.endswith(", transient-rich"):
        return group.removesuffix(", transient-rich")
    if group.endswith(", gap in rest"):
        return group.replace(", gap in rest", ", gap")
    return group.removeprefix("PaperRNN, ")
