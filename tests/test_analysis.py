"""Analysis helpers: fixed points by input, translation, departure times, comparisons, PCA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fhnrnn.analysis import (
    continuous_time_eigenvalues,
    departure_time,
    error_summary,
    euler_map_rates,
    fixed_point_branch,
    fixed_point_labels,
    fixed_points_by_input,
    leading_complex,
    oscillation_period,
    pca_projection,
    predicted_departure_time,
    rollout_float64,
    rotation_rates,
    stability_changes,
    trajectory_starts,
    translate,
)
from fhnrnn.fhn import FHN
from fhnrnn.fixedpoints import certify
from fhnrnn.models import PaperRNN, RNNCell, TanhRNN


def contracting_cell() -> TanhRNN:
    return TanhRNN(1, 2, 6, spectral_radius=0.5, seed=3)


def test_rollout_float64_matches_the_double_model_and_leaves_the_model_alone() -> None:
    cell = contracting_cell()
    before = {name: value.clone() for name, value in cell.state_dict().items()}
    states, outputs = rollout_float64(cell, [0.2, -0.4], 9)
    u = torch.tensor([0.2, -0.4], dtype=torch.float64)[:, None, None].expand(-1, 9, 1)
    expected_states, expected_outputs = cell.double().rollout(u)
    np.testing.assert_allclose(states, expected_states.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(outputs, expected_outputs.detach().numpy(), rtol=1e-12)
    assert all(torch.equal(before[k].double(), v) for k, v in cell.state_dict().items())


def test_fixed_points_by_input_finds_the_unique_point_of_a_contraction() -> None:
    cell = contracting_cell()
    inputs = np.array([-0.5, 0.0, 0.7])
    points = fixed_points_by_input(cell, inputs, n_steps=20, n_per_input=4)
    assert sorted(points.u[:, 0]) == sorted(inputs)
    # independent answer: iterate the contraction to convergence
    double = TanhRNN(1, 2, 6, spectral_radius=0.5, seed=3).double()
    x = torch.zeros(3, 6, dtype=torch.float64)
    u = torch.tensor(inputs, dtype=torch.float64)[:, None]
    with torch.no_grad():
        for _ in range(200):
            x = double.step(x, u)
    order = np.argsort(points.u[:, 0])
    np.testing.assert_allclose(points.xstar[order], x.numpy(), atol=1e-10)
    assert (points.n_unstable == 0).all()
    np.testing.assert_allclose(
        translate(cell, points.xstar[order]), double.readout(x).detach().numpy(), atol=1e-10
    )


def test_trajectory_starts_are_evenly_spaced_states_of_each_input() -> None:
    cell = contracting_cell()
    inputs = [0.2, -0.4, 0.9]
    starts, index = trajectory_starts(cell, inputs, n_steps=10, n_per_input=4)
    states, _ = rollout_float64(cell, inputs, 10)
    assert starts.shape == (12, 6) and index.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    np.testing.assert_array_equal(starts[4:8], states[1, [0, 3, 6, 9]])
    with pytest.raises(ValueError, match="n_per_input"):
        trajectory_starts(cell, inputs, n_per_input=0)


def test_fixed_points_by_input_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="inputs"):
        fixed_points_by_input(contracting_cell(), np.ones((2, 3)))
    with pytest.raises(ValueError, match="n_per_input"):
        fixed_points_by_input(contracting_cell(), [0.1], n_per_input=0)
    with pytest.raises(ValueError, match="states"):
        translate(contracting_cell(), np.ones((2, 5)))


def test_departure_time_of_a_geometric_growth_matches_the_closed_form() -> None:
    epsilon, modulus, tol, steps = 1e-6, 1.05, 0.1, 400
    t = np.arange(steps)
    growth = epsilon * modulus**t
    path = np.stack([growth * np.cos(0.3 * t), growth * np.sin(0.3 * t)], axis=-1)
    first = int(np.ceil(np.log(tol / epsilon) / np.log(modulus)))
    assert departure_time(path, np.zeros(2), tol) == first
    np.testing.assert_allclose(
        predicted_departure_time(epsilon, modulus, tol), np.log(tol / epsilon) / np.log(modulus)
    )
    assert departure_time(path[:first], np.zeros(2), tol) == first  # never left: T
    batch = departure_time(np.stack([path, 2 * path]), np.zeros((2, 2)), tol)
    assert batch[1] < batch[0] == first


def test_departure_helpers_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="tol"):
        departure_time(np.zeros((5, 2)), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="agree"):
        departure_time(np.zeros((5, 2)), np.zeros(3), 0.1)
    with pytest.raises(ValueError, match="eigenvalue_modulus"):
        predicted_departure_time(1e-3, 0.9, 0.1)


def test_continuous_time_eigenvalues_invert_the_exponential() -> None:
    mu = np.array([0.1 + 0.25j, -0.3, 0.02 - 1.0j])
    dt = 0.3
    np.testing.assert_allclose(continuous_time_eigenvalues(np.exp(mu * dt), dt), mu)
    with pytest.raises(ValueError, match="non-zero"):
        continuous_time_eigenvalues([0.0], dt)
    with pytest.raises(ValueError, match="dt"):
        continuous_time_eigenvalues([1.0], -1.0)


def test_error_summary() -> None:
    summary = error_summary([1.0, 2.0, 3.0], [1.0, 0.0, 4.0])
    assert summary == pytest.approx({"mse": 5 / 3, "rmse": np.sqrt(5 / 3), "max_abs": 2.0})
    with pytest.raises(ValueError, match="shape"):
        error_summary([1.0], [1.0, 2.0])


def test_pca_projection_recovers_a_plane_and_projects_points_consistently() -> None:
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((5, 2)))[0]
    coefficients = rng.standard_normal((3, 40, 2)) * [3.0, 1.0]
    states = coefficients @ basis.T + 2.0
    projected, points, explained = pca_projection(states, states[1, :4], n_components=2)
    assert explained.sum() == pytest.approx(1.0)
    assert explained[0] > explained[1]
    np.testing.assert_allclose(points, projected[1, :4], atol=1e-10)
    distances = np.linalg.norm(states[0, :1] - states[0], axis=-1)
    np.testing.assert_allclose(
        np.linalg.norm(projected[0, :1] - projected[0], axis=-1), distances, atol=1e-10
    )
    with pytest.raises(ValueError, match="trajectories"):
        pca_projection(states[0])


class EulerFHN(RNNCell):
    """The FHN model's forward-Euler map as a cell (state = output = (v, w))."""

    state_size, input_size, output_size = 2, 1, 2

    def __init__(self, dt: float) -> None:
        super().__init__()
        self.dt = dt
        self.constants = torch.nn.Parameter(torch.tensor([0.7, 0.8, 12.5], dtype=torch.float64))

    def config(self) -> dict:
        return {"dt": self.dt}

    def _step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        a, b, tau = self.constants
        v, w = x[:, :1], x[:, 1:]
        rate = torch.cat([v - v**3 / 3 - w + u, (v + a - b * w) / tau], dim=1)
        return x + self.dt * rate

    def _readout(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_branch_labels_and_stability_changes_of_the_euler_fhn_map() -> None:
    dt, model = 0.1, FHN()
    currents = np.linspace(0.0, 1.75, 71)
    v_star, w_star = model.fixed_point(currents)
    starts = np.column_stack([v_star, w_star]) + 0.05
    points = fixed_point_branch(EulerFHN(dt), currents, starts, progress=False)
    np.testing.assert_allclose(points.u[:, 0], currents)
    np.testing.assert_allclose(points.xstar, np.column_stack([v_star, w_star]), atol=1e-8)
    euler_eigenvalues = 1 + dt * model.eigenvalues(currents)
    labels = fixed_point_labels(points.eigenvalues)
    np.testing.assert_array_equal(labels, fixed_point_labels(euler_eigenvalues))
    crossings, rotating = stability_changes(currents, points.eigenvalues)
    np.testing.assert_allclose(crossings, model.euler_hopf_points(dt), atol=2e-3)
    assert rotating.all()


@pytest.mark.parametrize(
    ("dtype", "held"), [(torch.float32, np.float32), (torch.float64, np.float64)]
)
def test_branch_searched_in_float32_keeps_every_input(dtype: torch.dtype, held: type) -> None:
    """Inputs that float32 cannot hold (0.1, 0.7, 1.3) are matched as the search rounds them."""
    dt, model = 0.1, FHN()
    currents = np.array([0.1, 0.7, 1.3])
    v_star, w_star = model.fixed_point(currents)
    starts = np.column_stack([v_star, w_star]) + 0.05
    points = fixed_point_branch(EulerFHN(dt), currents, starts, dtype=dtype, progress=False)
    np.testing.assert_array_equal(points.u[:, 0], currents.astype(held).astype(np.float64))
    np.testing.assert_allclose(points.xstar, np.column_stack([v_star, w_star]), atol=1e-4)


def test_fixed_point_labels_by_hand() -> None:
    eigenvalues = np.array([[0.5, 0.2], [1.2, 0.3], [0.6 + 0.3j, 0.6 - 0.3j], [-1.1 + 0.5j, 0.1]])
    labels = fixed_point_labels(eigenvalues)
    assert labels.tolist() == ["stable node", "unstable node", "stable focus", "unstable focus"]
    with pytest.raises(ValueError, match="eigenvalues"):
        fixed_point_labels(np.ones(3))


def test_stability_changes_interpolate_a_linear_modulus() -> None:
    currents = np.linspace(0.0, 1.0, 11)
    modulus = 1.0 + 0.5 * (currents - 0.33) * (currents - 0.81)
    eigenvalues = np.column_stack([modulus * np.exp(0.4j), modulus * np.exp(-0.4j)])
    crossings, rotating = stability_changes(currents, eigenvalues)
    exact = currents[[3, 8]] + 0.1 * np.array(
        [g[0] / (g[0] - g[1]) for g in (modulus[[3, 4]] - 1, modulus[[8, 9]] - 1)]
    )
    np.testing.assert_allclose(crossings, exact)
    assert rotating.tolist() == [True, True]
    with pytest.raises(ValueError, match="increasing"):
        stability_changes(currents[::-1], eigenvalues)


def test_oscillation_period_of_a_sampled_sine() -> None:
    dt, period = 0.5, 37.3
    t = dt * np.arange(4000)
    low, high = -1.5, 2.0
    signal = 0.25 + 1.75 * np.sin(2 * np.pi * t / period)
    measured, measured_low, measured_high = oscillation_period(signal, dt, discard=100)
    assert measured == pytest.approx(period, rel=1e-4)
    assert measured_low == pytest.approx(low, abs=1e-3)
    assert measured_high == pytest.approx(high, abs=1e-3)
    resting, _, _ = oscillation_period(np.exp(-t), dt, discard=1000)
    assert np.isnan(resting)
    with pytest.raises(ValueError, match="discard"):
        oscillation_period(signal, dt, discard=4000)


def test_leading_complex_takes_the_largest_rotating_multiplier_or_nan() -> None:
    eigenvalues = np.array([[1.2, 0.9 + 0.3j, 0.9 - 0.3j, 0.1],
                            [0.8, 0.5, 0.2, 0.1]])
    lead = leading_complex(eigenvalues)
    assert lead[0] == 0.9 + 0.3j
    assert np.isnan(lead[1])
    with pytest.raises(ValueError, match="eigenvalues must have shape"):
        leading_complex(np.ones(3))


def test_rotation_rates_read_the_leading_pair_as_an_angular_frequency() -> None:
    pair = 0.99 * np.exp(1j * 0.06)
    rate, modulus = rotation_rates(np.array([[pair, np.conj(pair), 0.5]]), 0.3)
    np.testing.assert_allclose(rate, [0.2])
    np.testing.assert_allclose(modulus, [0.99])
    with pytest.raises(ValueError, match="dt must be finite and > 0"):
        rotation_rates(np.array([[pair]]), 0.0)


def test_euler_map_rates_are_the_logarithms_of_the_euler_maps_multipliers() -> None:
    fhn, currents, dt = FHN(), np.array([0.2, 0.8, 1.6]), 0.3
    multipliers = np.linalg.eigvals(np.eye(2) + dt * fhn.jacobian(currents))
    expected = np.log(multipliers.astype(complex)) / dt
    rates = euler_map_rates(fhn, currents, dt)
    for row, want in zip(rates, expected, strict=True):
        np.testing.assert_allclose(np.sort_complex(row), np.sort_complex(want), rtol=1e-12)


def test_the_route_is_resolved_by_the_cell_and_recorded() -> None:
    relu_cell = PaperRNN(1, 1, hidden_size=6, n_layers=2, seed=1)
    exact = fixed_points_by_input(relu_cell, [0.0, 0.5], n_steps=10, n_per_input=2)
    assert exact.method == "exact"
    smooth = fixed_points_by_input(contracting_cell(), [0.1], n_steps=10, n_per_input=2,
                                   progress=False)
    assert smooth.method == "newton"
    forced = fixed_points_by_input(relu_cell, [0.0, 0.5], n_steps=10, n_per_input=2,
                                   route="smooth", progress=False)
    assert forced.method == "newton"
    for point, u in zip(exact.xstar, exact.u[:, 0], strict=True):
        assert certify(relu_cell, point, u).valid


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"route": "fast"}, "route must be one of"),
        ({"route": "exact", "cell": "tanh"}, "piecewise-affine"),
        ({"route": "exact", "max_halvings": 3}, "do not apply to the exact route"),
    ],
)
def test_a_route_that_cannot_be_taken_is_refused(call: dict, message: str) -> None:
    cell = contracting_cell() if call.pop("cell", None) else PaperRNN(1, 1, 6, 2, seed=1)
    with pytest.raises(ValueError, match=message):
        fixed_points_by_input(cell, [0.1], n_steps=5, n_per_input=1, **call)
