"""Datasets: shapes, dtypes, and values checked against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from fhnrnn.fhn import FHN
from fhnrnn.tasks import fhn_flow, fhn_grid, fhn_voltage, flip_flop, sine_wave


def test_flip_flop_shapes_and_values() -> None:
    task = flip_flop(3, n_trials=8, n_steps=50, p_pulse=0.1, seed=0)
    assert task.inputs.shape == task.targets.shape == (8, 50, 3)
    assert task.inputs.dtype == task.targets.dtype == torch.float32
    assert set(task.inputs.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert set(task.targets.unique().tolist()) <= {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(task.times, np.arange(50.0))
    assert (task.n_bits, task.p_pulse, task.seed) == (3, 0.1, 0)


def test_flip_flop_target_holds_the_last_pulse_sign() -> None:
    task = flip_flop(4, n_trials=10, n_steps=80, p_pulse=0.08, seed=3)
    inputs, targets = task.inputs.numpy(), task.targets.numpy()
    for trial in range(10):
        for bit in range(4):
            memory = 0.0
            for step in range(80):
                if inputs[trial, step, bit] != 0.0:
                    memory = inputs[trial, step, bit]
                assert targets[trial, step, bit] == memory


def test_flip_flop_pulse_statistics() -> None:
    task = flip_flop(3, n_trials=200, n_steps=200, p_pulse=0.05, seed=1)
    pulses = task.inputs.numpy()
    n = pulses.size
    rate = np.count_nonzero(pulses) / n
    assert abs(rate - 0.05) < 5 * math.sqrt(0.05 * 0.95 / n)
    positive = np.count_nonzero(pulses > 0) / np.count_nonzero(pulses)
    assert abs(positive - 0.5) < 5 * math.sqrt(0.25 / np.count_nonzero(pulses))


def test_flip_flop_is_seeded() -> None:
    first = flip_flop(n_trials=4, n_steps=30, seed=5)
    again = flip_flop(n_trials=4, n_steps=30, seed=5)
    other = flip_flop(n_trials=4, n_steps=30, seed=6)
    assert torch.equal(first.inputs, again.inputs) and torch.equal(first.targets, again.targets)
    assert not torch.equal(first.inputs, other.inputs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_bits": 0, "seed": 0}, "n_bits"),
        ({"n_trials": 2.5, "seed": 0}, "n_trials"),
        ({"n_steps": 0, "seed": 0}, "n_steps"),
        ({"p_pulse": 0.0, "seed": 0}, "p_pulse"),
        ({"p_pulse": 1.5, "seed": 0}, "p_pulse"),
        ({"seed": -1}, "seed"),
        ({"seed": None}, "seed"),
    ],
)
def test_flip_flop_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        flip_flop(**kwargs)


def test_sine_wave_defaults_follow_the_original_task() -> None:
    task = sine_wave()
    n_steps = task.times.size
    assert task.inputs.shape == task.targets.shape == (51, n_steps, 1)
    assert task.inputs.dtype == task.targets.dtype == torch.float32
    two_slow_periods = 2 * 2 * math.pi / 0.1
    assert task.times[-1] >= two_slow_periods > task.times[-2]
    assert task.dt == 1.0
    np.testing.assert_allclose(task.times, np.arange(n_steps) * 1.0)
    for j in (0, 17, 50):
        assert task.levels[j] == pytest.approx(j / 51 + 0.25)
        assert task.omegas[j] == pytest.approx(0.1 + 0.5 * j / 50)
        assert torch.all(task.inputs[j] == np.float32(j / 51 + 0.25))
        for k in (0, 1, 63, n_steps - 1):
            expected = math.sin(task.omegas[j] * k)
            assert task.targets[j, k, 0].item() == pytest.approx(expected, abs=1e-7)
    np.testing.assert_allclose(np.diff(task.omegas), 0.01, rtol=1e-12)


def test_sine_wave_custom_grid() -> None:
    task = sine_wave(5, dt=0.5, n_steps=40, omega_range=(0.2, 1.0))
    assert task.inputs.shape == (5, 40, 1)
    np.testing.assert_allclose(task.omegas, [0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(task.levels, np.arange(5) / 5 + 0.25)
    assert task.targets[4, 3, 0].item() == pytest.approx(math.sin(1.0 * 1.5), abs=1e-7)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_conditions": 0}, "n_conditions"),
        ({"dt": 0.0}, "dt"),
        ({"dt": float("nan")}, "dt"),
        ({"n_steps": -3}, "n_steps"),
        ({"omega_range": (0.6, 0.1)}, "omega_range"),
        ({"omega_range": (-0.1, 0.6)}, "omega_range"),
        ({"omega_range": 0.3}, "omega_range"),
    ],
)
def test_sine_wave_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sine_wave(**kwargs)


def euler_voltage(current: float, dt: float, n_samples: int, v: float, w: float) -> list[float]:
    """Forward Euler of the FHN model written out independently of fhnrnn.fhn."""
    trace = []
    for _ in range(n_samples):
        trace.append(v)
        v, w = v + dt * (v - v**3 / 3 - w + current), w + dt * (v + 0.7 - 0.8 * w) / 12.5
    return trace


def test_fhn_voltage_matches_an_independent_euler_loop() -> None:
    currents = [0.5, 0.9, 1.3]
    task = fhn_voltage(currents, scale=0.5)
    assert task.inputs.shape == task.targets.shape == (3, 334, 1)
    assert task.inputs.dtype == task.targets.dtype == torch.float32
    np.testing.assert_allclose(task.times, 0.3 * np.arange(334), rtol=1e-12)
    np.testing.assert_array_equal(task.currents, currents)
    assert (task.scale, task.dt) == (0.5, 0.3)
    for row, current in enumerate(currents):
        assert torch.all(task.inputs[row] == np.float32(0.5 * current))
        expected = 0.5 * np.array(euler_voltage(current, 0.3, 334, 0.0, 0.0))
        np.testing.assert_allclose(task.targets[row, :, 0].numpy(), expected, rtol=1e-6, atol=1e-6)


def test_fhn_voltage_options() -> None:
    task = fhn_voltage(1.0, dt=0.1, t_max=5.0, state0=(1.0, -0.5))
    assert task.inputs.shape == (1, 51, 1)
    expected = np.array(euler_voltage(1.0, 0.1, 51, 1.0, -0.5))
    np.testing.assert_allclose(task.targets[0, :, 0].numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"I_values": []}, "I_values"),
        ({"I_values": [[0.5, 0.7]]}, "I_values"),
        ({"I_values": [0.5, float("nan")]}, "I_values"),
        ({"I_values": [0.5], "scale": 0.0}, "scale"),
        ({"I_values": [0.5], "dt": -0.3}, "dt"),
        ({"I_values": [0.5], "model": "fhn"}, "model"),
    ],
)
def test_fhn_voltage_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fhn_voltage(**kwargs)


def test_fhn_grid_holds_out_midpoints() -> None:
    train, held_out = fhn_grid(6, (0.4, 1.4))
    np.testing.assert_allclose(train, [0.4, 0.6, 0.8, 1.0, 1.2, 1.4], rtol=1e-12)
    np.testing.assert_allclose(held_out, [0.5, 0.7, 0.9, 1.1, 1.3], rtol=1e-12)
    default_train, default_held_out = fhn_grid()
    assert default_train.shape == (11,) and default_held_out.shape == (10,)
    assert np.all((default_held_out > default_train[:-1]) & (default_held_out < default_train[1:]))


@pytest.mark.parametrize(
    "kwargs, message",
    [({"n": 1}, "n must be"), ({"I_range": (1.4, 0.4)}, "I_range"), ({"n": 3.0}, "n must be")],
)
def test_fhn_grid_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fhn_grid(**kwargs)


def test_fhn_flow_starts_and_trajectories() -> None:
    currents = np.array([0.2, 0.9])
    task = fhn_flow(currents, n_random=3, n_near=4, t_max=20.0, dt=0.5, seed=7)
    assert task.trajectories.shape == (16, 41, 2)
    np.testing.assert_array_equal(task.currents, np.repeat(currents, 8))
    np.testing.assert_array_equal(task.trajectories[:, 0], task.starts)
    np.testing.assert_array_equal(task.starts[[0, 8]], np.zeros((2, 2)))
    np.testing.assert_allclose(task.times, 0.5 * np.arange(41))
    uniform = task.starts[1:4]
    assert np.all((uniform[:, 0] >= -2.5) & (uniform[:, 0] <= 2.5))
    assert np.all((uniform[:, 1] >= -1.0) & (uniform[:, 1] <= 2.5))
    v_star, w_star = FHN().fixed_point(0.9)
    radius = np.hypot(task.starts[12:, 0] - v_star, task.starts[12:, 1] - w_star)
    assert np.all((radius >= 1e-3) & (radius <= 0.5))


def test_fhn_flow_matches_an_independent_integration() -> None:
    task = fhn_flow([0.5], n_random=2, n_near=1, t_max=10.0, dt=0.5, seed=0)

    def rhs(_t: float, y: np.ndarray) -> list[float]:
        return [y[0] - y[0] ** 3 / 3 - y[1] + 0.5, (y[0] + 0.7 - 0.8 * y[1]) / 12.5]

    for start, trajectory in zip(task.starts, task.trajectories, strict=True):
        solution = solve_ivp(
            rhs, (0, 10), start, method="DOP853", t_eval=task.times, rtol=1e-11, atol=1e-12
        )
        np.testing.assert_allclose(trajectory, solution.y.T, atol=1e-6)


def test_fhn_flow_is_seeded_and_validates() -> None:
    options = dict(n_random=2, n_near=2, t_max=2.0, dt=0.5)
    first = fhn_flow([0.3], seed=1, **options)
    np.testing.assert_array_equal(first.starts, fhn_flow([0.3], seed=1, **options).starts)
    assert not np.array_equal(first.starts, fhn_flow([0.3], seed=2, **options).starts)
    with pytest.raises(ValueError, match="I_values"):
        fhn_flow([], seed=0, **options)
    with pytest.raises(ValueError, match="n_near"):
        fhn_flow([0.3], seed=0, **{**options, "n_near": -1})
    with pytest.raises(ValueError, match="near_radius"):
        fhn_flow([0.3], seed=0, near_radius=(0.0, 1.0), **options)


@pytest.mark.parametrize("current, dt", [(100.0, 0.3), (10.0, 1.5)])
def test_fhn_voltage_refuses_an_unstable_euler_step(current: float, dt: float) -> None:
    expected = rf"Euler step is unstable .* I = \[{current}\] with dt = {dt}"
    with pytest.raises(ValueError, match=expected):
        fhn_voltage([current], dt=dt)


def test_fhn_voltage_names_the_bad_currents_only() -> None:
    with pytest.raises(ValueError, match=r"I = \[100.0, 200.0\]"):
        fhn_voltage([0.5, 100.0, 200.0])


@pytest.mark.parametrize("currents", ["abc", [1j], [0.5, 1 + 0j], [True], None])
def test_fhn_voltage_rejects_currents_that_are_not_real(currents: object) -> None:
    with pytest.raises(ValueError, match=r"^I_values must be real numbers, got "):
        fhn_voltage(currents)


@pytest.mark.parametrize("currents", ["abc", [1j], [True]])
def test_fhn_flow_rejects_currents_that_are_not_real(currents: object) -> None:
    with pytest.raises(ValueError, match=r"^I_values must be real numbers, got "):
        fhn_flow(currents, n_random=1, n_near=1, t_max=1.0, dt=0.5, seed=0)


@pytest.mark.parametrize(
    "box", [((0, 1),), ((0, 1), (0, 1), (0, 1)), (0, 1), None, "ab", ((0, 1), (1, 0))]
)
def test_fhn_flow_rejects_a_box_that_is_not_two_ranges(box: object) -> None:
    with pytest.raises(ValueError, match=r"^box"):
        fhn_flow([0.3], n_random=1, n_near=1, t_max=1.0, dt=0.5, seed=0, box=box)


@pytest.mark.parametrize("p_pulse", [np.float32(0.1), np.float64(0.25), 1, np.int64(1)])
def test_flip_flop_accepts_numpy_probabilities(p_pulse: object) -> None:
    task = flip_flop(2, n_trials=2, n_steps=5, p_pulse=p_pulse, seed=0)
    assert type(task.p_pulse) is float and task.p_pulse == float(p_pulse)


@pytest.mark.parametrize("p_pulse", [True, False, np.bool_(True), "0.1", None, float("nan")])
def test_flip_flop_rejects_probabilities_that_are_not_numbers(p_pulse: object) -> None:
    with pytest.raises(ValueError, match=r"^p_pulse must "):
        flip_flop(2, n_trials=2, n_steps=5, p_pulse=p_pulse, seed=0)
