"""Tests of the fixed-point engine on maps whose fixed points and cycles are known.

Every expected value is computed here independently of the engine: closed forms, root finding
with scipy's brentq, enumeration of the linear regions of a ReLU map, finite differences.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import brentq
from torch.autograd.function import once_differentiable

from fhnrnn.fixedpoints import (
    Cycles,
    FixedPoints,
    SearchOptions,
    Status,
    find_cycles,
    find_fixed_points,
    find_fixed_points_along,
    find_fixed_points_at_inputs,
    jacobians,
    sample_states,
)
from fhnrnn.fixedpoints._krylov import gmres  # the batched solver behind linear_solver="krylov"
from fhnrnn.fixedpoints._map import Map

# the damped step, checked for independence from batch padding
from fhnrnn.fixedpoints._newton import levenberg_marquardt

# The maps here are tiny: extra threads only add contention on a shared machine.
pytestmark = pytest.mark.usefixtures("single_thread")


def quiet(**options):
    return {"progress": False, **options}


# (method, linear_solver) pairs: both Newton solvers and the Adam baseline
SEARCHES = [("newton", "dense"), ("newton", "krylov"), ("adam", "auto")]
SOLVERS = ["dense", "krylov"]


# --------------------------------------------------------------------------------------
# Maps with known fixed points
# --------------------------------------------------------------------------------------

GAIN = 2.0


def tanh_1d(x, u):
    return torch.tanh(GAIN * x)


def positive_root_tanh() -> float:
    return brentq(lambda s: np.tanh(GAIN * s) - s, 0.1, 2.0, xtol=1e-15)


@pytest.mark.parametrize(("method", "solver"), SEARCHES)
def test_tanh_1d_three_fixed_points_with_stability(method, solver):
    root = positive_root_tanh()
    starts = np.linspace(-2.0, 2.0, 41)[:, None]
    fps = find_fixed_points(tanh_1d, starts, None, method=method, linear_solver=solver, **quiet())
    order = np.argsort(fps.xstar[:, 0])
    atol = 1e-14 if method == "newton" else 1e-5
    np.testing.assert_allclose(fps.xstar[order, 0], [-root, 0.0, root], atol=atol)
    assert fps.n_started == 41 and fps.n_unique == 3 and len(fps) == 3
    assert fps.n_converged + fps.n_failed == fps.n_started
    assert np.all(fps.q < 1e-12)
    slopes = GAIN * (1.0 - np.tanh(GAIN * fps.xstar[order, 0]) ** 2)
    np.testing.assert_allclose(fps.eigenvalues[order, 0].real, slopes, rtol=1e-5)
    assert fps.is_stable[order].tolist() == [True, False, True]
    assert fps.n_unstable[order].tolist() == [0, 1, 0]
    assert fps.input_size == 0 and fps.jacobian_input.shape == (3, 1, 0)


def test_auto_solver_choice_depends_on_dimension():
    small = find_fixed_points(lambda x, u: 0.5 * x, np.ones((2, 128)), None, **quiet())
    large = find_fixed_points(lambda x, u: 0.5 * x, np.ones((2, 129)), None, **quiet())
    assert (small.linear_solver, large.linear_solver) == ("dense", "krylov")
    assert small.n_unique == large.n_unique == 1 and large.q[0] == 0.0


@pytest.mark.parametrize("solver", SOLVERS)
def test_newton_polishes_to_rounding_floor(solver):
    root = positive_root_tanh()
    fps = find_fixed_points(tanh_1d, [[0.7], [-0.8]], None, linear_solver=solver, **quiet())
    assert np.all(fps.q < 1e-30)
    np.testing.assert_allclose(np.sort(fps.xstar[:, 0]), [-root, root], rtol=1e-14)


def linear_system(seed: int = 0):
    rng = np.random.default_rng(seed)
    d, m = 6, 2
    a = rng.normal(size=(d, d))
    a *= 0.9 / np.abs(np.linalg.eigvals(a)).max()
    b = rng.normal(size=(d, m))
    c = rng.normal(size=d)
    return a, b, c


def linear_map(a, b, c):
    at, bt, ct = (torch.as_tensor(v) for v in (a, b, c))
    return lambda x, u: x @ at.T + u @ bt.T + ct


@pytest.mark.parametrize(("method", "solver"), SEARCHES)
def test_linear_map_unique_fixed_point_jacobians_and_eigenvalues(method, solver):
    a, b, c = linear_system()
    u = np.array([0.3, -1.2])
    starts = np.random.default_rng(1).normal(size=(20, 6)) * 3
    fps = find_fixed_points(
        linear_map(a, b, c), starts, u, method=method, linear_solver=solver, **quiet()
    )
    expected = np.linalg.solve(np.eye(6) - a, b @ u + c)
    assert fps.linear_solver == {"dense": "dense", "krylov": "krylov", "auto": "none"}[solver]
    assert fps.n_unique == 1 and fps.n_converged == 20
    np.testing.assert_allclose(fps.xstar[0], expected, atol=1e-13 if method == "newton" else 1e-5)
    np.testing.assert_allclose(fps.u[0], u)
    np.testing.assert_allclose(fps.jacobian[0], a, atol=1e-12)
    np.testing.assert_allclose(fps.jacobian_input[0], b, atol=1e-12)
    reference = np.linalg.eigvals(a)
    reference = reference[np.argsort(-np.abs(reference), kind="stable")]
    np.testing.assert_allclose(np.abs(fps.eigenvalues[0]), np.abs(reference), atol=1e-12)
    np.testing.assert_allclose(np.sort_complex(fps.eigenvalues[0]), np.sort_complex(reference))
    vectors = fps.eigenvectors[0]
    np.testing.assert_allclose(a @ vectors, vectors * fps.eigenvalues[0], atol=1e-10)
    assert fps.is_stable[0] and fps.n_unstable[0] == 0


def test_eigenpairs_sorted_by_modulus_with_matching_vectors():
    values = np.array([0.1, -0.8, 0.3, 1.5, -0.05])
    basis = np.random.default_rng(21).normal(size=(5, 5))
    a = basis @ np.diag(values) @ np.linalg.inv(basis)
    step = linear_map(a, np.zeros((5, 1)), np.ones(5))
    fps = find_fixed_points(step, np.zeros((1, 5)), [0.0], **quiet())
    order = np.argsort(-np.abs(values))
    np.testing.assert_allclose(fps.eigenvalues[0].real, values[order], atol=1e-12)
    for i, column in enumerate(order):
        expected = basis[:, column] / np.linalg.norm(basis[:, column])
        overlap = abs(np.vdot(expected, fps.eigenvectors[0, :, i]))
        np.testing.assert_allclose(overlap, 1.0, atol=1e-10)
    assert fps.n_unstable[0] == 1 and not fps.is_stable[0]


@pytest.mark.parametrize("solver", SOLVERS)
def test_linear_map_newton_is_exact(solver):
    a, b, c = linear_system(seed=3)
    step = linear_map(a, b, c)
    fps = find_fixed_points(step, np.zeros((1, 6)), [0.0, 0.0], linear_solver=solver, **quiet())
    assert fps.q[0] < 1e-28
    np.testing.assert_allclose(fps.xstar[0], np.linalg.solve(np.eye(6) - a, c), rtol=1e-13)


RELU_W = np.array([[0.5, -2.0, 0.1], [-2.0, 0.5, 0.2], [0.3, -0.4, 0.6]])
RELU_B = np.array([1.0, 1.0, 0.2])


def relu_map(x, u):
    w, b = torch.as_tensor(RELU_W), torch.as_tensor(RELU_B)
    return torch.relu(x @ w.T + b)


def relu_fixed_points_by_regions() -> list[tuple[np.ndarray, int, bool]]:
    """Every fixed point of x -> relu(W x + b): solve each activation pattern's linear map.

    Pattern s keeps units with s_i = 1: x = D(W x + b) with D = diag(s); the solution is a
    fixed point when the pre-activation W x + b is > 0 exactly on the kept units.
    Returns, per fixed point, the point, the number of eigenvalues of D W with modulus above
    1 and whether all have modulus below 1.
    """
    found = []
    d = len(RELU_B)
    for pattern in itertools.product([0.0, 1.0], repeat=d):
        mask = np.diag(pattern)
        x = np.linalg.solve(np.eye(d) - mask @ RELU_W, mask @ RELU_B)
        pre = RELU_W @ x + RELU_B
        if np.all((pre > 0) == np.array(pattern, dtype=bool)):
            moduli = np.abs(np.linalg.eigvals(mask @ RELU_W))
            found.append((x, int((moduli > 1).sum()), bool((moduli < 1).all())))
    return found


@pytest.mark.parametrize(("method", "solver"), SEARCHES)
def test_relu_map_every_fixed_point_found_none_spurious(method, solver):
    expected = relu_fixed_points_by_regions()
    assert len(expected) >= 3
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 3, 6)] * 3), axis=-1).reshape(-1, 3)
    fps = find_fixed_points(relu_map, grid, None, method=method, linear_solver=solver, **quiet())
    assert fps.n_unique == len(expected)
    for point, unstable, stable in expected:
        distance = np.linalg.norm(fps.xstar - point, axis=1)
        match = int(np.argmin(distance))
        assert distance[match] < 1e-5
        assert fps.n_unstable[match] == unstable
        assert fps.is_stable[match] == stable
    if method == "newton":
        assert fps.q.max() < 1e-28
        for point, _, _ in expected:
            assert np.linalg.norm(fps.xstar - point, axis=1).min() < 1e-13


# --------------------------------------------------------------------------------------
# Jacobians and eigenvectors against finite differences
# --------------------------------------------------------------------------------------


def small_tanh_net(seed: int = 0, squash=torch.tanh):
    rng = np.random.default_rng(seed)
    d, m = 5, 2
    w = rng.normal(size=(d, d)) * 1.3 / np.sqrt(d)
    b = rng.normal(size=(d, m))
    wt, bt = torch.as_tensor(w), torch.as_tensor(b)

    def step(x, u):
        return squash(x @ wt.T + u @ bt.T)

    def numpy_step(x, u):
        return np.tanh(w @ x + b @ u)

    return step, numpy_step


def central_differences(fn, x, h=1e-6):
    columns = []
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = h
        columns.append((fn(x + e) - fn(x - e)) / (2 * h))
    return np.stack(columns, axis=1)


def test_jacobians_and_eigenvectors_match_finite_differences():
    step, numpy_step = small_tanh_net()
    u = np.array([0.2, -0.1])
    starts = np.random.default_rng(2).normal(size=(30, 5))
    fps = find_fixed_points(step, starts, u, **quiet())
    assert fps.n_unique >= 1
    for k in range(len(fps)):
        x, inputs = fps.xstar[k], fps.u[k]
        np.testing.assert_allclose(numpy_step(x, inputs), x, atol=1e-12)
        jac = central_differences(lambda s, v=inputs: numpy_step(s, v), x)
        jac_u = central_differences(lambda v, s=x: numpy_step(s, v), inputs)
        np.testing.assert_allclose(fps.jacobian[k], jac, atol=1e-8)
        np.testing.assert_allclose(fps.jacobian_input[k], jac_u, atol=1e-8)
        values, vectors = fps.eigenvalues[k], fps.eigenvectors[k]
        np.testing.assert_allclose(fps.jacobian[k] @ vectors, vectors * values, atol=1e-10)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=0), 1.0, rtol=1e-10)
        assert np.all(np.diff(np.abs(values)) <= 1e-12)


def test_public_jacobians_match_finite_differences():
    step, numpy_step = small_tanh_net(seed=4)
    states = np.random.default_rng(5).normal(size=(3, 5))
    inputs = np.random.default_rng(6).normal(size=(3, 2))
    jac, jac_u = jacobians(step, states, inputs)
    assert jac.shape == (3, 5, 5) and jac_u.shape == (3, 5, 2)
    for k in range(3):
        x, v = states[k], inputs[k]
        np.testing.assert_allclose(
            jac[k], central_differences(lambda s, v=v: numpy_step(s, v), x), atol=1e-8
        )
        np.testing.assert_allclose(
            jac_u[k], central_differences(lambda w, x=x: numpy_step(x, w), v), atol=1e-8
        )


class _ManualTanh(torch.autograd.Function):
    """tanh with a hand-written backward and no vmap rule: forces the loop fallback."""

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


def test_step_that_torch_func_rejects_falls_back_to_a_loop():
    manual, _ = small_tanh_net(seed=7, squash=_ManualTanh.apply)
    step, _ = small_tanh_net(seed=7)
    starts = np.random.default_rng(8).normal(size=(10, 5))
    with pytest.warns(RuntimeWarning, match="torch.func"):
        fps = find_fixed_points(manual, starts, [0.1, 0.0], **quiet())
    reference = find_fixed_points(step, starts, [0.1, 0.0], **quiet())
    assert fps.n_unique == reference.n_unique >= 1
    np.testing.assert_allclose(fps.xstar, reference.xstar, atol=1e-12)
    np.testing.assert_allclose(fps.jacobian, reference.jacobian, atol=1e-10)


class _OnceDifferentiableTanh(torch.autograd.Function):
    """tanh whose backward cannot be differentiated: no double backward, so no Krylov."""

    @staticmethod
    def forward(x):
        return torch.tanh(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


def test_krylov_needs_double_backward_and_falls_back_to_dense():
    manual, _ = small_tanh_net(seed=9, squash=_OnceDifferentiableTanh.apply)
    step, _ = small_tanh_net(seed=9)
    starts = np.random.default_rng(10).normal(size=(10, 5))
    with pytest.warns(RuntimeWarning, match="double backward"):
        fps = find_fixed_points(manual, starts, [0.0, 0.3], linear_solver="krylov", **quiet())
    reference = find_fixed_points(step, starts, [0.0, 0.3], linear_solver="dense", **quiet())
    assert fps.linear_solver == "dense"
    assert fps.n_unique == reference.n_unique >= 1
    np.testing.assert_allclose(fps.xstar, reference.xstar, atol=1e-12)


def test_batched_gmres_solves_systems_that_converge_at_different_speeds():
    rng = np.random.default_rng(16)
    d = 12
    easy = np.eye(d) + 0.01 * rng.normal(size=(d, d))
    hard = rng.normal(size=(d, d)) + 3 * np.eye(d)
    diagonal = np.diag(np.arange(1.0, d + 1))
    matrices = np.stack([easy, hard, diagonal, hard])
    rhs = rng.normal(size=(4, d))
    rhs[2] = 0.0
    rhs[2, 3] = 2.0  # an eigenvector of the diagonal matrix: exact after one step
    rhs[3] = 0.0  # zero right-hand side: zero solution
    a = torch.as_tensor(matrices)
    krylov = gmres(lambda v: (a @ v.unsqueeze(-1)).squeeze(-1), torch.as_tensor(rhs), d)
    expected = np.linalg.solve(matrices, rhs[..., None])[..., 0]
    np.testing.assert_allclose(krylov.solution.numpy(), expected, atol=1e-10)
    domain, codomain = krylov.basis.numpy(), krylov.full_basis.numpy()
    hessenberg = krylov.hessenberg.numpy()
    for i in range(4):  # A V_k = V_{k+1} H, with zero columns past a point's own dimension
        np.testing.assert_allclose(
            matrices[i] @ domain[i].T, codomain[i].T @ hessenberg[i], atol=1e-10
        )
        gram = codomain[i] @ codomain[i].T
        np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-12)
    assert krylov.dims[2] == 1 and krylov.dims[3] == 0 and krylov.dims[0] < krylov.dims[1]


# --------------------------------------------------------------------------------------
# Cycles
# --------------------------------------------------------------------------------------


def negated_tanh_1d(x, u):
    return -torch.tanh(GAIN * x)


@pytest.mark.parametrize("solver", SOLVERS)
def test_two_cycle_of_negated_tanh_deduplicated_across_phases(solver):
    # x -> -tanh(g x) maps x* to -x* (x* = tanh(g x*)): the orbit {x*, -x*} is a 2-cycle
    # with multiplier (g (1 - x*^2))^2; 0 is a fixed point, unstable, with multiplier g^2.
    root = positive_root_tanh()
    starts = np.array([[0.9], [-0.95], [1.1], [-1.2], [0.01], [0.5], [-0.6]])
    cycles = find_cycles(negated_tanh_1d, starts, None, period=2, linear_solver=solver, **quiet())
    assert isinstance(cycles, Cycles) and cycles.period == 2
    assert cycles.n_unique == 2
    order = np.argsort(cycles.minimal_period)
    fixed, cycle = cycles[order[0]], cycles[order[1]]
    assert fixed.minimal_period.tolist() == [1] and cycle.minimal_period.tolist() == [2]
    np.testing.assert_allclose(fixed.xstar[0], [0.0], atol=1e-10)
    np.testing.assert_allclose(fixed.eigenvalues[0, 0].real, GAIN**2, rtol=1e-8)
    assert not fixed.is_stable[0]
    np.testing.assert_allclose(np.sort(cycle.orbit[0, :, 0]), [-root, root], atol=1e-10)
    multiplier = (GAIN * (1 - root**2)) ** 2
    np.testing.assert_allclose(cycle.eigenvalues[0, 0].real, multiplier, rtol=1e-8)
    assert cycle.is_stable[0] and cycle.n_unstable[0] == 0
    assert cycle.q[0] < 1e-28


@pytest.mark.parametrize("solver", SOLVERS)
def test_cycle_monodromy_is_ordered_product_of_jacobians(solver):
    a = np.array([[2.0, 0.6], [0.3, 1.7]])
    at = torch.as_tensor(a)

    def step(x, u):
        return -torch.tanh(x @ at.T)

    def jacobian(x):
        return -np.diag(1 - np.tanh(a @ x) ** 2) @ a

    starts = np.random.default_rng(9).normal(size=(40, 2)) * 1.5
    cycles = find_cycles(step, starts, None, period=2, linear_solver=solver, **quiet())
    two_cycles = cycles[cycles.minimal_period == 2]
    assert len(two_cycles) >= 1
    for k in range(len(two_cycles)):
        x0, x1 = two_cycles.orbit[k]
        np.testing.assert_allclose(-np.tanh(a @ x0), x1, atol=1e-12)
        np.testing.assert_allclose(-np.tanh(a @ x1), x0, atol=1e-12)
        np.testing.assert_allclose(two_cycles.jacobian[k], jacobian(x1) @ jacobian(x0), atol=1e-10)
        product = jacobian(x1) @ jacobian(x0)
        reference = np.linalg.eigvals(product)
        np.testing.assert_allclose(
            np.sort(np.abs(two_cycles.eigenvalues[k])), np.sort(np.abs(reference)), atol=1e-10
        )
    # the two phases of one orbit are never both kept
    for i, j in itertools.combinations(range(len(two_cycles)), 2):
        gap = np.linalg.norm(two_cycles.orbit[i][:, None] - two_cycles.orbit[j][None], axis=-1)
        assert gap.min() > cycles.tol_unique


def test_find_cycles_rejects_bad_period():
    with pytest.raises(ValueError, match="period"):
        find_cycles(tanh_1d, [[0.1]], None, period=0, **quiet())


# --------------------------------------------------------------------------------------
# Merging duplicates, inputs
# --------------------------------------------------------------------------------------


def two_close_fixed_points(gap):
    # r(x) = -x (x - gap): fixed points 0 and gap, F'(x) = 1 - (2x - gap).
    return lambda x, u: x - x * (x - gap)


def test_tol_unique_merges_close_points_only_within_tolerance():
    gap = 5e-4
    starts = np.array([[-0.01], [-0.02], [0.01], [0.02]])
    step = two_close_fixed_points(gap)
    options = quiet(warmup_iters=0)
    merged = find_fixed_points(step, starts, None, tol_unique=1e-3, **options)
    apart = find_fixed_points(step, starts, None, tol_unique=1e-4, **options)
    assert merged.n_converged == apart.n_converged == 4
    assert merged.n_unique == 1
    assert apart.n_unique == 2
    np.testing.assert_allclose(np.sort(apart.xstar[:, 0]), [0.0, gap], atol=1e-12)


def test_merging_keeps_lowest_q_and_counts_duplicates_once():
    a, b, c = linear_system(seed=11)
    starts = np.random.default_rng(12).normal(size=(50, 6))
    fps = find_fixed_points(linear_map(a, b, c), starts, [0.1, 0.2], method="adam", **quiet())
    assert fps.n_converged == 50 and fps.n_unique == 1
    # with Adam every start stops at its own q < tol_q: the kept one must be the best
    again = find_fixed_points(
        linear_map(a, b, c), starts, [0.1, 0.2], method="adam", tol_unique=0.0, **quiet()
    )
    assert fps.q[0] == again.q.min()


def test_points_at_different_inputs_are_never_merged():
    def step(x, u):
        return 0.5 * x + 0.0 * u.sum(dim=1, keepdim=True)

    starts = np.ones((4, 2))
    inputs = np.array([[0.0], [0.0], [1e-6], [1e-6]])
    fps = find_fixed_points(step, starts, inputs, **quiet())
    assert fps.n_unique == 2
    np.testing.assert_allclose(np.sort(fps.u[:, 0]), [0.0, 1e-6])


def test_per_start_inputs_and_search_at_inputs():
    a, b, c = linear_system(seed=13)
    step = linear_map(a, b, c)
    grid = np.linspace(-1.0, 1.0, 5)
    inputs = np.stack([grid, -grid], axis=1)
    states = np.random.default_rng(14).normal(size=(3, 20, 6))
    fps = find_fixed_points_at_inputs(step, states, inputs, 4, noise_scale=0.1, progress=False)
    assert fps.n_started == 20 and fps.n_unique == 5
    for k in range(5):
        expected = np.linalg.solve(np.eye(6) - a, b @ fps.u[k] + c)
        np.testing.assert_allclose(fps.xstar[k], expected, atol=1e-10)
    np.testing.assert_allclose(np.sort(fps.u[:, 0]), grid)
    per_start = np.repeat(inputs, 2, axis=0)
    direct = find_fixed_points(step, np.zeros((10, 6)), per_start, **quiet())
    assert direct.n_unique == 5


def test_search_at_scalar_inputs_accepts_1d_grid():
    def step(x, u):
        return 0.5 * x + u

    fps = find_fixed_points_at_inputs(step, np.zeros((4, 1)), [0.0, 0.5, 1.0], 2, progress=False)
    np.testing.assert_allclose(np.sort(fps.xstar[:, 0]), [0.0, 1.0, 2.0], atol=1e-12)


# --------------------------------------------------------------------------------------
# Starting states
# --------------------------------------------------------------------------------------


def test_sample_states_draws_rows_and_adds_seeded_noise():
    trajectories = np.random.default_rng(15).normal(size=(4, 50, 3))
    rows = trajectories.reshape(-1, 3)
    clean = sample_states(trajectories, 100, seed=3)
    assert clean.shape == (100, 3)
    assert len({tuple(r) for r in clean}) == 100
    assert all(np.any(np.all(rows == r, axis=1)) for r in clean)
    noisy = sample_states(trajectories, 100, noise_scale=0.05, seed=3)
    np.testing.assert_array_equal(noisy, sample_states(trajectories, 100, noise_scale=0.05, seed=3))
    assert 0.04 < np.std(noisy - clean) < 0.06
    assert not np.array_equal(clean, sample_states(trajectories, 100, seed=4))
    many = sample_states(rows[:5], 12, seed=0)
    assert many.shape == (12, 3)


def test_sample_states_keeps_torch_tensors():
    trajectories = torch.randn(2, 10, 4, generator=torch.Generator().manual_seed(0))
    drawn = sample_states(trajectories, 6, noise_scale=0.1, seed=1)
    assert isinstance(drawn, torch.Tensor) and drawn.shape == (6, 4)
    assert drawn.dtype == torch.float64


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((3, 2)), 0), "n must"),
        ((np.zeros(3), 2), "trajectories"),
        ((np.full((3, 2), np.nan), 2), "non-finite"),
        ((np.zeros((3, 2)), 2, -1.0), "noise_scale"),
        ((np.zeros((3, 2)), 2, 0.0, -1), "seed"),
    ],
)
def test_sample_states_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        sample_states(*args)


def test_noise_on_starts_is_seeded():
    a, b, c = linear_system()
    step = linear_map(a, b, c)
    one = find_fixed_points(step, np.zeros((3, 6)), [0, 0], noise_scale=0.5, seed=1, **quiet())
    two = find_fixed_points(step, np.zeros((3, 6)), [0, 0], noise_scale=0.5, seed=1, **quiet())
    np.testing.assert_array_equal(one.xstar, two.xstar)
    np.testing.assert_array_equal(one.q, two.q)


# --------------------------------------------------------------------------------------
# The container: indexing, save / load, summary
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def relu_points() -> FixedPoints:
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 3, 5)] * 3), axis=-1).reshape(-1, 3)
    return find_fixed_points(relu_map, grid, None, **quiet())


def test_indexing_returns_consistent_subsets(relu_points):
    fps = relu_points
    stable = fps[fps.is_stable]
    assert len(stable) == int(fps.is_stable.sum()) and np.all(stable.is_stable)
    assert stable.n_started == fps.n_started and stable.n_converged == fps.n_converged
    first = fps[0]
    assert len(first) == 1
    np.testing.assert_array_equal(first.xstar, fps.xstar[:1])
    np.testing.assert_array_equal(first.eigenvectors, fps.eigenvectors[:1])
    picked = fps[np.array([2, 0])]
    np.testing.assert_array_equal(picked.jacobian, fps.jacobian[[2, 0]])
    np.testing.assert_array_equal(fps[1:].q, fps.q[1:])
    np.testing.assert_array_equal(fps[-1].u, fps.u[-1:])
    with pytest.raises(IndexError):
        fps[np.ones(len(fps) + 1, dtype=bool)]


def test_save_load_round_trip(tmp_path, relu_points):
    path = relu_points.save(tmp_path / "fps.npz")
    loaded = FixedPoints.load(path)
    assert type(loaded) is FixedPoints
    for name in (
        "xstar",
        "u",
        "q",
        "jacobian",
        "jacobian_input",
        "eigenvalues",
        "eigenvectors",
        "failed_x",
        "failed_u",
        "failed_q",
        "failed_index",
    ):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(relu_points, name))
    for name in (
        "n_started",
        "n_converged",
        "method",
        "linear_solver",
        "tol_q",
        "tol_unique",
        "adam_iterations",
        "newton_iterations",
    ):
        assert getattr(loaded, name) == getattr(relu_points, name)
    with np.load(path, allow_pickle=False) as data:
        assert "xstar" in data.files


def test_save_refuses_to_overwrite_and_checks_suffix(tmp_path, relu_points):
    path = relu_points.save(tmp_path / "fps.npz")
    with pytest.raises(FileExistsError):
        relu_points.save(path)
    relu_points[:1].save(path, overwrite=True)
    assert len(FixedPoints.load(path)) == 1
    with pytest.raises(ValueError, match="npz"):
        relu_points.save(tmp_path / "fps.txt")


def test_cycles_round_trip_and_class_checks(tmp_path, relu_points):
    cycles = find_cycles(negated_tanh_1d, [[0.9], [0.02]], None, period=2, **quiet())
    path = cycles.save(tmp_path / "cycles.npz")
    loaded = FixedPoints.load(path)
    assert type(loaded) is Cycles and loaded.period == 2
    np.testing.assert_array_equal(loaded.orbit, cycles.orbit)
    np.testing.assert_array_equal(loaded.minimal_period, cycles.minimal_period)
    with pytest.raises(ValueError, match="not Cycles"):
        Cycles.load(relu_points.save(tmp_path / "fps.npz"))
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not written"):
        FixedPoints.load(tmp_path / "other.npz")


def test_summary_reports_counts(relu_points):
    text = relu_points.summary()
    assert f"{relu_points.n_unique} unique fixed points" in text
    assert f"{relu_points.n_started} starts" in text
    assert "stable" in text


def test_constructor_checks_shapes(relu_points):
    import dataclasses

    with pytest.raises(ValueError, match="jacobian"):
        dataclasses.replace(relu_points, jacobian=relu_points.jacobian[:, :2])
    with pytest.raises(ValueError, match="counts"):
        dataclasses.replace(relu_points, n_converged=0, n_started=relu_points.n_failed)


# --------------------------------------------------------------------------------------
# Models: never mutated
# --------------------------------------------------------------------------------------


def test_module_is_copied_not_mutated():
    models = pytest.importorskip("fhnrnn.models")
    model = models.TanhRNN(input_size=1, output_size=1, hidden_size=8, seed=0)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    starts = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    fps = find_fixed_points(model, starts, torch.tensor([0.3]), **quiet())
    assert model.training
    assert all(p.dtype == torch.float32 and p.requires_grad for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert starts.dtype == torch.float32
    assert fps.n_unique >= 1
    copy = models.TanhRNN(input_size=1, output_size=1, hidden_size=8, seed=0).double()
    x = torch.as_tensor(fps.xstar)
    u = torch.as_tensor(fps.u)
    with torch.no_grad():
        np.testing.assert_allclose(copy.step(x, u).numpy(), fps.xstar, atol=1e-13)
    bound = find_fixed_points(model.step, starts, torch.tensor([0.3]), **quiet())
    np.testing.assert_array_equal(bound.xstar, fps.xstar)


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


def test_shape_and_value_errors_name_the_argument():
    with pytest.raises(ValueError, match="x0"):
        find_fixed_points(tanh_1d, np.zeros(3), None, **quiet())
    with pytest.raises(ValueError, match="x0"):
        find_fixed_points(tanh_1d, np.zeros((0, 1)), None, **quiet())
    with pytest.raises(ValueError, match="non-finite start"):
        find_fixed_points(tanh_1d, [[0.1], [np.nan]], None, **quiet())
    with pytest.raises(ValueError, match="u must have shape"):
        find_fixed_points(tanh_1d, np.zeros((3, 1)), np.zeros((2, 1)), **quiet())
    with pytest.raises(ValueError, match="u holds non-finite"):
        find_fixed_points(tanh_1d, np.zeros((2, 1)), [np.inf], **quiet())
    with pytest.raises(ValueError, match="x0 must be real numbers"):
        find_fixed_points(tanh_1d, [["a"]], None, **quiet())


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"method": "bfgs"}, "method"),
        ({"tol_q": 0.0}, "tol_q"),
        ({"tol_unique": -1.0}, "tol_unique"),
        ({"max_iters": -1}, "max_iters"),
        ({"warmup_iters": 1.5}, "warmup_iters"),
        ({"lr": np.nan}, "lr"),
        ({"grad_clip": -1.0}, "grad_clip"),
        ({"noise_scale": -0.1}, "noise_scale"),
        ({"seed": -3}, "seed"),
        ({"dtype": torch.int64}, "dtype"),
    ],
)
def test_bad_options_raise(options, match):
    with pytest.raises(ValueError, match=match):
        find_fixed_points(tanh_1d, [[0.1]], None, **quiet(**options))


def test_step_errors_are_reported():
    starts = np.zeros((3, 2))
    with pytest.raises(ValueError, match="callable"):
        find_fixed_points(42, starts, None, **quiet())
    with pytest.raises(ValueError, match="shape"):
        find_fixed_points(lambda x, u: x[:, :1], starts, None, **quiet())
    with pytest.raises(ValueError, match="tensor of shape"):
        find_fixed_points(lambda x, u: x.numpy(), starts, None, **quiet())
    with pytest.raises(ValueError, match="non-finite values"):
        find_fixed_points(lambda x, u: x / 0.0, starts, None, **quiet())
    with pytest.raises(ValueError, match="dtype"):
        find_fixed_points(lambda x, u: x.float(), starts, None, **quiet())
    weights = torch.eye(2, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"torch\.float64"):
        find_fixed_points(lambda x, u: x @ weights, starts, None, **quiet())


def test_diverging_starts_count_as_failed_without_crashing():
    # F(x) = x - sqrt(x): q = x / 2 has slope 1/2 everywhere, so Adam walks through the fixed
    # point at 0 into x < 0, where F is NaN.
    def step(x, u):
        return x - torch.sqrt(x)

    fps = find_fixed_points(step, [[0.0155]], None, method="adam", lr=0.01, **quiet())
    assert fps.n_started == 1 and fps.n_converged == 0 and fps.n_unique == 0
    assert fps.failed_index.tolist() == [0] and np.isnan(fps.failed_q[0])
    assert "1 diverged" in fps.summary()
    newton = find_fixed_points(step, [[0.0155], [0.3]], None, **quiet())
    assert newton.n_started == 2 and newton.n_converged + newton.n_failed == 2


@pytest.mark.parametrize("solver", SOLVERS)
def test_slow_point_is_reported_as_failed(solver):
    # F(x) = x + x^2 + 0.1 has no real fixed point: q = (x^2 + 0.1)^2 / 2 has its minimum
    # 0.005 at the slow point x = 0, which every start approaches.
    def step(x, u):
        return x + x * x + 0.1

    fps = find_fixed_points(step, [[-2.0], [0.0], [1.0]], None, linear_solver=solver, **quiet())
    assert fps.n_converged == 0 and fps.n_unique == 0 and fps.n_failed == 3
    assert fps.failed_index.tolist() == [0, 1, 2]
    assert np.all(fps.failed_q >= 0.005) and np.all(fps.failed_q < 0.0055)


def test_progress_bar_and_explicit_device_run():
    fps = find_fixed_points(tanh_1d, [[0.5]], None, device="cpu", progress=True)
    assert fps.n_unique == 1


def test_float32_search_is_possible():
    fps = find_fixed_points(tanh_1d, [[0.5]], None, dtype=torch.float32, tol_q=1e-10, **quiet())
    np.testing.assert_allclose(fps.xstar[0, 0], positive_root_tanh(), rtol=1e-5)


def test_warnings_do_not_leak_from_a_clean_run():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        find_fixed_points(tanh_1d, [[0.5]], None, **quiet())


# --------------------------------------------------------------------------------------
# Continuation along a path of inputs
# --------------------------------------------------------------------------------------

FOLD = 2 / (3 * np.sqrt(3))  # u = x^3 - x has its local extrema +-FOLD at x = -+1/sqrt(3)


def cubic_flow(x, u):
    """Euler step of x' = u + x - x^3: three fixed points for |u| < FOLD, one outside."""
    return x + 0.1 * (u + x - x**3)


def real_roots(u):
    """Real solutions of x^3 - x - u = 0, increasing."""
    roots = np.roots([1.0, 0.0, -1.0, -u])
    return np.sort(roots[np.abs(roots.imag) < 1e-9].real)


def test_continuation_follows_a_branch_up_to_its_fold_and_no_further():
    path = np.linspace(-0.8, 0.8, 33)
    fps = find_fixed_points_along(cubic_flow, path, [[-1.2]], [0], **quiet())
    lower = [real_roots(u)[0] for u in path if u < FOLD]
    assert fps.u[:, 0].tolist() == [u for u in path if u < FOLD]
    np.testing.assert_allclose(fps.xstar[:, 0], lower, atol=1e-12)
    # the searches that failed are the steps beyond the fold, halved down to 0.05 / 2**4
    assert fps.n_failed >= 1 and (fps.failed_u[:, 0] > FOLD).all()
    assert fps.failed_u[:, 0].min() - FOLD < 0.05 / 2**4


def test_continuation_runs_both_ways_from_every_start():
    path = np.linspace(-0.8, 0.8, 33)
    fps = find_fixed_points_along(cubic_flow, path, [[-1.2], [1.2]], [0, 32], **quiet())
    for u in path:
        found = np.sort(fps.xstar[fps.u[:, 0] == u, 0])
        roots = real_roots(u)
        expected = [roots[0]] * int(u < FOLD) + [roots[-1]] * int(u > -FOLD)
        np.testing.assert_allclose(found, expected, atol=1e-12)
    stable = np.abs(fps.eigenvalues[:, 0]) < 1
    assert stable.all()  # outer branches of x' = u + x - x^3 are attracting


def test_continuation_halves_steps_that_jump_too_far():
    # r(x) = F(x, u) - x = -s ((s + 1)^2 + 0.01) with s = x - u: the only fixed point is x = u,
    # but |r| has a local minimum 0.00998 near s = -1 (a slow point) and a local maximum at
    # s = -0.34. Continuing from x = 0 at u = 0 straight to u = 3 starts at s = -3, left of the
    # slow point, which traps the search; steps of 3/16 start at s = -0.19, inside the basin.
    def step(x, u):
        s = x - u
        return x - s * ((s + 1) ** 2 + 0.01)

    path = np.array([0.0, 3.0])
    direct = find_fixed_points_along(step, path, [[0.0]], [0], max_halvings=0, **quiet())
    halving = find_fixed_points_along(step, path, [[0.0]], [0], max_halvings=4, **quiet())
    assert direct.u[:, 0].tolist() == [0.0]
    assert halving.u[:, 0].tolist() == [0.0, 3.0]
    np.testing.assert_allclose(halving.xstar[:, 0], path, atol=1e-12)


def test_continuation_rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_halvings"):
        find_fixed_points_along(cubic_flow, [0.0, 0.1], [[0.0]], [0], max_halvings=-1)
    with pytest.raises(ValueError, match="start_index"):
        find_fixed_points_along(cubic_flow, [0.0, 0.1], [[0.0]], [2])
    with pytest.raises(ValueError, match="start_index"):
        find_fixed_points_along(cubic_flow, [0.0, 0.1], [[0.0], [1.0]], [0])
    with pytest.raises(ValueError, match="inputs"):
        find_fixed_points_along(cubic_flow, [0.0, np.nan], [[0.0]], [0])


def test_damped_step_ignores_the_zero_padding_of_a_batch():
    rng = np.random.default_rng(4)
    d, p = 5, 3
    a = torch.as_tensor(rng.normal(size=(p, d)))
    normal, rhs = a @ a.T, torch.as_tensor(rng.normal(size=p))
    padded = torch.zeros(p + 2, p + 2, dtype=torch.float64)
    padded[:p, :p] = normal
    basis = torch.as_tensor(np.linalg.qr(rng.normal(size=(d, p)))[0].T)
    padded_basis = torch.cat([basis, torch.zeros(2, d, dtype=torch.float64)])

    def step(x, u):
        return 0.5 * x

    x, mu = torch.ones(1, d, dtype=torch.float64), torch.tensor([1e-2], dtype=torch.float64)
    u = torch.zeros(1, 0, dtype=torch.float64)
    problem = Map(step, torch.float64, torch.device("cpu"), d)
    fx = step(x, u)
    q = 0.5 * ((fx - x) ** 2).sum(dim=1)
    plain = levenberg_marquardt(problem, x, u, fx, q, (normal[None], rhs[None], basis[None]), mu)
    wider = levenberg_marquardt(
        problem,
        x,
        u,
        fx,
        q,
        (padded[None], torch.cat([rhs, torch.zeros(2, dtype=torch.float64)])[None],
         padded_basis[None]),
        mu,
    )
    for first, second in zip(plain, wider, strict=True):
        torch.testing.assert_close(first, second, rtol=1e-12, atol=1e-14)


def test_continuation_from_the_middle_runs_both_ways():
    path = np.linspace(-0.3, 0.3, 13)  # inside the three-branch window |u| < FOLD
    fps = find_fixed_points_along(cubic_flow, path, [[0.0]], [6], **quiet())
    np.testing.assert_allclose(fps.u[:, 0], path)
    np.testing.assert_allclose(fps.xstar[:, 0], [real_roots(u)[1] for u in path], atol=1e-12)
    assert (fps.n_unstable == 1).all()  # the middle branch is the repelling one


def test_continuation_on_one_input_a_repeated_input_and_an_empty_result():
    single = find_fixed_points_along(cubic_flow, [0.0], [[-1.1], [-0.9]], [0, 0], **quiet())
    np.testing.assert_allclose(single.xstar[:, 0], [-1.0], atol=1e-12)
    there_and_back = find_fixed_points_along(
        cubic_flow, [0.0, 0.1, 0.0], [[-1.0]], [0], **quiet()
    )
    assert there_and_back.u[:, 0].tolist() == [0.0, 0.1]

    def no_fixed_point(x, u):
        return x + 1.0 + 0.0 * u

    empty = find_fixed_points_along(no_fixed_point, [0.0, 1.0], [[0.0]], [0], **quiet())
    assert len(empty) == 0 and empty.xstar.shape == (0, 1) and empty.u.shape == (0, 1)
    assert empty.failed_index.tolist() == [0]  # the one start, row 0 of x0


def test_continuation_along_a_two_dimensional_input_path():
    # x' = x + 0.1 (u_1 + u_2 - x): one fixed point x* = u_1 + u_2 at every input
    def step(x, u):
        return x + 0.1 * (u.sum(dim=1, keepdim=True) - x)

    path = np.column_stack([np.linspace(0, 1, 5), np.linspace(1, -1, 5)])
    fps = find_fixed_points_along(step, path, [[0.0]], [2], **quiet())
    np.testing.assert_allclose(fps.u, path)
    np.testing.assert_allclose(fps.xstar[:, 0], path.sum(axis=1), atol=1e-12)


def test_continuation_rejects_starts_that_are_not_a_2d_array():
    with pytest.raises(ValueError, match="x0"):
        find_fixed_points_along(cubic_flow, [0.0], np.float64(1.0), [0])
    with pytest.raises(ValueError, match="x0"):
        find_fixed_points_along(cubic_flow, [0.0], None, [0])


def test_one_options_object_serves_every_finder():
    options = SearchOptions(tol_q=1e-20, max_iters=50)
    point = find_fixed_points(tanh_1d, [[0.3]], None, options=options, **quiet())
    assert point.tol_q == 1e-20 and abs(point.xstar[0, 0]) < 1e-9
    overridden = find_fixed_points(tanh_1d, [[0.3]], None, options=options, tol_q=1e-8, **quiet())
    assert overridden.tol_q == 1e-8 and options.tol_q == 1e-20
    cycles = find_cycles(tanh_1d, [[0.3]], None, period=2, options=options, **quiet())
    assert cycles.tol_q == 1e-20
    assert SearchOptions().iterations == 100 and SearchOptions(method="adam").iterations == 10_000


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: find_fixed_points(tanh_1d, [[0.1]], None, tolq=1e-3), "unknown search option"),
        (lambda: find_fixed_points(tanh_1d, [[0.1]], None, options={"tol_q": 1.0}), "options"),
        (lambda: SearchOptions(linear_solver="lu"), "linear_solver"),
        (lambda: find_fixed_points_along(cubic_flow, [0.0], [[0.0]], [0], method="adam"), "method"),
    ],
)
def test_bad_search_options_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_status_codes_carry_their_messages():
    assert [int(status) for status in Status] == [0, 1, 2, 3, 4]
    assert "diverged" in Status.FAILED.message and "tol_q" in Status.CONVERGED.message


@pytest.mark.parametrize(("solver", "inexact"), [("dense", False), ("krylov", True)])
def test_merging_starts_finds_the_same_points_with_fewer_polished(solver, inexact):
    expected = relu_fixed_points_by_regions()
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 3, 6)] * 3), axis=-1).reshape(-1, 3)
    fps = find_fixed_points(relu_map, grid, None, linear_solver=solver, merge_starts=True,
                            inexact=inexact, **quiet())
    assert fps.n_unique == len(expected)
    for point, _, _ in expected:
        assert np.linalg.norm(fps.xstar - point, axis=1).min() < 1e-13
    assert fps.q.max() < 1e-28
    plain = find_fixed_points(relu_map, grid, None, linear_solver=solver, **quiet())
    assert fps.n_converged == plain.n_converged


@pytest.mark.parametrize("solver", SOLVERS)
def test_shared_jacobians_find_every_relu_fixed_point(solver):
    expected = relu_fixed_points_by_regions()
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 3, 6)] * 3), axis=-1).reshape(-1, 3)
    fps = find_fixed_points(relu_map, grid, None, linear_solver=solver, share_jacobians=True,
                            merge_starts=True, warmup_iters=0, **quiet())
    assert fps.n_unique == len(expected)
    for point, unstable, _ in expected:
        match = int(np.argmin(np.linalg.norm(fps.xstar - point, axis=1)))
        assert np.linalg.norm(fps.xstar[match] - point) < 1e-13
        assert fps.n_unstable[match] == unstable
    assert fps.q.max() < 1e-28
    assert fps.n_started == len(grid)


def contracting_net(d: int = 12, seed: int = 3):
    """x -> tanh(W x + b + u) with ||W|| = 0.9: one fixed point, reached from every start.

    Also returns the list of batch sizes the map was differentiated at (Jacobians, Newton's
    linear models), the costly evaluations: plain evaluations run without grad.
    """
    generator = np.random.default_rng(seed)
    w = generator.normal(size=(d, d))
    w = torch.as_tensor(0.9 * w / np.linalg.norm(w, 2))
    b = torch.as_tensor(generator.normal(size=d))
    rows_differentiated = []

    def step(x, u):
        if torch.is_grad_enabled():
            rows_differentiated.append(x.shape[0])
        return torch.tanh(x @ w.T + b + u)

    return step, rows_differentiated


def test_followers_reach_the_point_with_far_fewer_jacobians():
    step, rows = contracting_net()
    starts = np.random.default_rng(4).normal(scale=2.0, size=(512, 12))
    plain = find_fixed_points(step, starts, np.zeros(1), warmup_iters=0, **quiet())
    plain_rows = sum(rows)
    rows.clear()
    shared = find_fixed_points(step, starts, np.zeros(1), warmup_iters=0,
                               share_jacobians=True, **quiet())
    assert len(plain) == len(shared) == 1
    assert shared.n_converged == plain.n_converged == 512
    np.testing.assert_allclose(shared.xstar, plain.xstar, atol=1e-14)
    assert shared.q[0] < 1e-30
    assert sum(rows) < plain_rows / 10


def test_shared_search_at_two_inputs_finds_the_point_of_each():
    step, _ = contracting_net(d=4)
    inputs = np.repeat([[0.0], [0.3]], 64, axis=0)
    starts = np.random.default_rng(5).normal(size=(128, 4))
    shared = find_fixed_points(step, starts, inputs, share_jacobians=True, **quiet())
    plain = find_fixed_points(step, starts, inputs, **quiet())
    assert len(shared) == len(plain) == 2 and shared.n_converged == 128
    order, plain_order = np.argsort(shared.u[:, 0]), np.argsort(plain.u[:, 0])
    np.testing.assert_allclose(shared.xstar[order], plain.xstar[plain_order], atol=1e-14)
    with pytest.raises(ValueError, match="share_jacobians"):
        SearchOptions(share_jacobians="yes")
    with pytest.raises(ValueError, match="share_jacobians needs method='newton'"):
        SearchOptions(share_jacobians=True, method="adam")


def test_merged_starts_end_in_the_state_of_the_start_they_follow():
    starts = 0.8 + 1e-5 * np.arange(6)[:, None]
    fps = find_fixed_points(tanh_1d, starts, None, merge_starts=True, warmup_iters=0,
                            tol_unique=1e-3, **quiet())
    assert fps.n_converged == 6 and len(fps) == 1
    assert fps.xstar[0, 0] == pytest.approx(positive_root_tanh(), abs=1e-14)
    with pytest.raises(ValueError, match="merge_starts"):
        SearchOptions(merge_starts=1)
