"""The ensemble's baselines, joint regression and in-plane winding, on known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fhnrnn.ensemble.baselines import (
    BASELINES,
    baseline_errors,
    joint_regression,
    train_mean_voltage,
)
from fhnrnn.ensemble.dynamics import STUDY_CURRENTS, fhn_references
from fhnrnn.ensemble.geometry import winding_number

REFERENCES = fhn_references(STUDY_CURRENTS)
TARGETS = {"vstar": REFERENCES["v_star"], "cycle_mean": REFERENCES["cycle_mean"]}


def test_the_baselines_of_the_study_range_are_those_the_issue_measured() -> None:
    # Issue 22: a zero read-out scores 0.659 against v* and 0.290 against <v>; the mean of
    # the training voltage 0.375 and 0.171.
    errors = baseline_errors(STUDY_CURRENTS, np.zeros(21), TARGETS, np.full(21, np.nan))
    assert errors["base_vstar_zero"] == pytest.approx(0.659, abs=5e-4)
    assert errors["base_cycle_mean_zero"] == pytest.approx(0.290, abs=5e-4)
    assert errors["base_vstar_train_mean"] == pytest.approx(0.375, abs=5e-4)
    assert errors["base_cycle_mean_train_mean"] == pytest.approx(0.171, abs=5e-4)
    assert np.isnan(errors["base_vstar_net_cycle_mean"])
    # the zero read-out is its own baseline; the line through v* beats it
    assert errors["rmse_vstar"] == errors["base_vstar_zero"]
    best = min(errors[f"base_vstar_{name}"] for name in ("zero", "train_mean", "line"))
    assert errors["skill_vstar"] == pytest.approx(1 - errors["rmse_vstar"] / best)
    assert errors["skill_vstar"] < 0


def test_a_read_out_equal_to_the_best_baseline_has_zero_skill() -> None:
    line = np.polyval(np.polyfit(STUDY_CURRENTS, TARGETS["vstar"], 1), STUDY_CURRENTS)
    errors = baseline_errors(STUDY_CURRENTS, line, TARGETS, np.full(21, np.nan))
    assert errors["skill_vstar"] == pytest.approx(0.0, abs=1e-12)
    exact = baseline_errors(STUDY_CURRENTS, TARGETS["vstar"], TARGETS, np.full(21, np.nan))
    assert exact["skill_vstar"] == pytest.approx(1.0)


def test_a_run_without_a_point_on_the_study_currents_has_no_errors_and_no_skill() -> None:
    """A network whose every central point lies off the study's currents (found in the
    ensemble: tanh-default-transient-s0) gets NaN, not an error deep inside the task."""
    empty = np.zeros(0)
    errors = baseline_errors(empty, empty, {"vstar": empty, "cycle_mean": empty}, empty)
    assert set(errors) == {f"{kind}_{target}" for target in TARGETS
                           for kind in ("rmse", "skill")} | {
        f"base_{target}_{name}" for target in TARGETS for name in BASELINES}
    assert len(errors) == 2 * (2 + len(BASELINES))
    assert all(np.isnan(value) for value in errors.values())


def test_the_training_mean_is_the_mean_of_the_task_voltage() -> None:
    from fhnrnn.tasks import fhn_voltage

    task = fhn_voltage([0.5, 1.0])
    np.testing.assert_allclose(train_mean_voltage(np.array([0.5, 1.0])),
                               task.targets.double().mean(dim=1)[:, 0].numpy())


def test_the_joint_regression_recovers_known_coefficients_within_its_intervals() -> None:
    rng = np.random.default_rng(0)
    v_star = rng.normal(size=40)
    cycle_mean = rng.normal(size=40)
    v_tilde = 0.2 + 0.7 * v_star - 0.4 * cycle_mean + 0.01 * rng.normal(size=40)
    fit = joint_regression(v_tilde, v_star, cycle_mean)
    assert fit["coef_vstar_lo"] < 0.7 < fit["coef_vstar_hi"]
    assert fit["coef_cycle_mean_lo"] < -0.4 < fit["coef_cycle_mean_hi"]
    assert fit["coef_vstar_hi"] - fit["coef_vstar_lo"] < 0.02
    assert fit["regression_r2"] > 0.999
    too_few = joint_regression(v_tilde[:4], v_star[:4], cycle_mean[:4])
    assert all(np.isnan(value) for value in too_few.values())


def _circle(turns: int, n: int = 400) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi * turns, n * turns, endpoint=False)
    return np.stack([np.cos(t), np.sin(t), 0.1 * np.cos(2 * t)], axis=1)


def test_the_winding_number_counts_turns_per_period_in_the_cycles_plane() -> None:
    inside = winding_number(_circle(3), np.array([0.2, 0.1, 2.0]), 3)
    assert inside["winding"] == pytest.approx(1.0)
    assert inside["in_plane_offset"] == pytest.approx(np.hypot(0.2, 0.1), rel=1e-3)
    assert inside["off_plane_offset"] == pytest.approx(2.0, rel=1e-2)
    assert winding_number(_circle(2)[::-1], np.zeros(3), 2)["winding"] == pytest.approx(1.0)
    assert winding_number(_circle(1), np.array([1.5, 0.0, 0.0]), 1)["winding"] == pytest.approx(
        0.0, abs=1e-9)


def test_the_winding_number_refuses_bad_input_by_name() -> None:
    with pytest.raises(ValueError, match="n_periods must be a positive int"):
        winding_number(_circle(1), np.zeros(3), 0)
    with pytest.raises(ValueError, match="point must have shape"):
        winding_number(_circle(1), np.zeros(2), 1)
    with pytest.raises(ValueError, match="cycle must have shape"):
        winding_number(np.zeros((2, 3)), np.zeros(3), 1)


@given(
    st.floats(0.2, 5.0), st.floats(0.2, 5.0), st.floats(-np.pi, np.pi),
    st.floats(0.0, 0.9), st.floats(-np.pi, np.pi),
)
def test_an_ellipse_winds_once_around_a_point_inside_and_never_around_one_outside(
    a: float, b: float, tilt: float, depth: float, angle: float
) -> None:
    t = np.linspace(0, 2 * np.pi, 500, endpoint=False)
    rotation = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
    ellipse = np.stack([a * np.cos(t), b * np.sin(t)], axis=1) @ rotation.T
    direction = np.array([a * np.cos(angle), b * np.sin(angle)]) @ rotation.T
    assert winding_number(ellipse, depth * direction, 1)["winding"] == pytest.approx(1.0)
    assert winding_number(ellipse, 1.5 * direction, 1)["winding"] == pytest.approx(0.0, abs=1e-9)


def test_holm_adjusts_step_down_and_keeps_the_order() -> None:
    from fhnrnn.ensemble.inference import holm

    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03, 0.005])),
                               [0.03, 0.06, 0.06, 0.02])
    assert holm(np.array([0.6, 0.9]))[1] == 1.0
    with pytest.raises(ValueError, match="p_values must be"):
        holm(np.array([0.5, 1.5]))


def test_compare_samples_finds_a_shift_and_its_interval() -> None:
    from fhnrnn.ensemble.inference import cliffs_delta, compare_samples

    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 0.2, 12), rng.normal(0.0, 0.2, 12)
    result = compare_samples(a, b, n_boot=2000, seed=0)
    assert result["p_value"] < 1e-3 and result["cliffs_delta"] == 1.0
    assert result["ci_low"] < result["median_difference"] < result["ci_high"]
    assert 0.6 < result["ci_low"] and result["ci_high"] < 1.4
    assert compare_samples(a, b, n_boot=2000, seed=0) == result  # seeded
    assert cliffs_delta(np.array([1.0, 2.0]), np.array([1.0, 3.0])) == pytest.approx(-0.25)
    with pytest.raises(ValueError, match="a must hold at least two finite values"):
        compare_samples(np.array([1.0, np.inf]), b)


def test_arm_comparisons_test_each_contrast_per_cell_with_holm_over_all() -> None:
    from fhnrnn.ensemble.inference import arm_comparisons, holm

    rng = np.random.default_rng(2)
    level = {"study": 0.5, "transient": 0.2, "gap": 0.2}
    rows = [{"cell": cell, "init": "rot90_200" if cell == "paper" else "default", "data": data,
             "reached_criterion": True, "error": rng.normal(level[data], 0.05),
             "band": rng.normal(0.5 if data == "gap" else 0.2, 0.05)}
            for cell in ("paper", "gru") for data in level for _ in range(6)]
    rows.append({"cell": "paper", "init": "default", "data": "study", "reached_criterion": True,
                 "error": 9.0, "band": 9.0})  # another initialisation: left out
    rows.append({"cell": "gru", "init": "default", "data": "gap", "reached_criterion": False,
                 "error": 9.0, "band": -9.0})  # misses the criterion: left out
    contrasts = (("gap", "transient", ("band", "error")), ("transient", "study", ("error",)))
    result = arm_comparisons(pd.DataFrame(rows), contrasts, n_boot=500)
    assert list(zip(result["a"], result["cell"], result["column"], strict=True)) == [
        ("gap", "gru", "band"), ("gap", "gru", "error"), ("gap", "paper", "band"),
        ("gap", "paper", "error"), ("transient", "gru", "error"),
        ("transient", "paper", "error")]
    assert (result["n_a"] == 6).all() and (result["n_b"] == 6).all()
    shifted = result["column"].eq("band") | result["a"].eq("transient")
    assert (result.loc[shifted, "median_difference"].abs() > 0.2).all()
    assert (result.loc[shifted, "p_holm"] < 0.05).all()
    assert (result.loc[~shifted, "p_holm"] > 0.05).all()  # gap and transient alike off the band
    np.testing.assert_array_equal(result["p_holm"], holm(result["p_value"].to_numpy()))
    assert (result["p_holm"] >= result["p_value"]).all()


def test_the_forest_plot_draws_one_interval_per_comparison_and_fills_the_significant() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from fhnrnn.ensemble import plot_comparisons

    comparisons = pd.DataFrame({
        "a": ["gap", "transient"], "b": ["transient", "study"], "cell": ["paper", "tanh"],
        "column": ["rmse_vstar_band", "rmse_vstar_rest"], "n_a": [8, 9], "n_b": [7, 10],
        "median_difference": [0.3, -0.1], "ci_low": [0.1, -0.4], "ci_high": [0.5, 0.2],
        "p_value": [0.001, 0.4], "p_holm": [0.002, 0.4]})
    fig = plot_comparisons(comparisons, {"rmse_vstar_band": "RMSE in the band"})
    ax = fig.axes[0]
    intervals = [line.get_xdata() for line in ax.lines if len(line.get_xdata()) == 2
                 and line.get_linestyle() == "-"]
    assert [list(x) for x in intervals] == [[0.1, 0.5], [-0.4, 0.2]]
    markers = [line for line in ax.lines if line.get_marker() == "o"]
    assert [marker.get_markerfacecolor() != "white" for marker in markers] == [True, False]
    assert [tick.get_text() for tick in ax.get_yticklabels()] == [
        "paper: RMSE in the band (gap - transient)", "tanh: rmse_vstar_rest (transient - study)"]
    with pytest.raises(ValueError, match="at least one row"):
        plot_comparisons(comparisons.iloc[:0])
