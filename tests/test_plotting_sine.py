"""Figures of the sine-wave validation: what is drawn, and argument checks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from fhnrnn.plotting import (
    plot_eigenfrequencies,
    plot_pca_trajectories,
    plot_sine_outputs,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_sine_outputs_draws_target_and_output_in_one_panel_per_condition() -> None:
    times = np.arange(20.0)
    targets = np.sin(np.outer([0.1, 0.5], times))
    outputs = 0.9 * targets
    fig = plot_sine_outputs(times, targets, outputs, ["slow", "fast"])
    assert len(fig.axes) == 2
    for ax, target, output, label in zip(fig.axes, targets, outputs, ["slow", "fast"], strict=True):
        drawn = [line.get_ydata() for line in ax.get_lines()]
        np.testing.assert_array_equal(drawn[0], target)
        np.testing.assert_array_equal(drawn[1], output)
        assert ax.get_title(loc="left") == label


def test_pca_trajectories_joins_the_points_in_order_of_their_value() -> None:
    rng = np.random.default_rng(0)
    trajectories = rng.standard_normal((4, 10, 3))
    points = rng.standard_normal((3, 3))
    values = np.array([0.3, 0.1, 0.2])
    fig = plot_pca_trajectories(trajectories, points, np.arange(4.0), values, value_label="u")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 5  # four trajectories and the joining curve
    np.testing.assert_array_equal(lines[0].get_data_3d()[0], trajectories[0, :, 0])
    np.testing.assert_array_equal(lines[-1].get_data_3d()[0], points[[1, 2, 0], 0])
    assert fig.axes[1].get_ylabel() == "u"  # the colour bar


def test_eigenfrequencies_plots_rate_error_in_percent_and_modulus() -> None:
    omega = np.array([0.1, 0.3, 0.6])
    rate = omega * np.array([1.02, 0.99, 1.0])
    modulus = np.array([1.001, 1.002, 1.003])
    fig = plot_eigenfrequencies({"net": (omega, rate, modulus)}, tolerance=0.05)
    ax_rate, ax_error, ax_modulus = fig.axes
    np.testing.assert_allclose(ax_rate.get_lines()[0].get_ydata(), rate)
    np.testing.assert_allclose(ax_error.get_lines()[0].get_ydata(), [2.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(ax_modulus.get_lines()[0].get_ydata(), modulus)
    band = ax_error.patches[0]
    assert (band.get_y(), band.get_height()) == pytest.approx((-5.0, 10.0))


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: plot_sine_outputs(np.arange(3.0), np.zeros((2, 3)), np.zeros((2, 4)), "ab"),
            "targets and outputs",
        ),
        (
            lambda: plot_sine_outputs(np.arange(3.0), np.zeros((2, 3)), np.zeros((2, 3)), ["a"]),
            "labels",
        ),
        (
            lambda: plot_sine_outputs(np.zeros((3, 1)), np.zeros((2, 3)), np.zeros((2, 3)), "ab"),
            "times",
        ),
        (
            lambda: plot_pca_trajectories(
                np.zeros((2, 5, 2)), np.zeros((1, 3)), [0, 1], [0], value_label="u"
            ),
            "3 components",
        ),
        (
            lambda: plot_pca_trajectories(
                np.zeros((2, 5, 3)), np.zeros((1, 3)), [0], [0], value_label="u"
            ),
            "one value per row",
        ),
        (lambda: plot_eigenfrequencies({}), "series"),
        (lambda: plot_eigenfrequencies({"a": ([0.1], [0.1, 0.2], [1.0])}), "equal sizes"),
        (lambda: plot_eigenfrequencies({"a": ([0.1], [0.1], [1.0])}, tolerance=0.0), "tolerance"),
    ],
)
def test_bad_arguments_raise(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
