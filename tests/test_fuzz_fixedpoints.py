"""Property-based tests of the fixed-point engine (fhnrnn.fixedpoints): bad arguments are
refused by name; the q it returns is 1/2 ||F(x) - x||^2 recomputed here in float64; its
results do not depend on the order of the starts (see fuzz.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from fuzz import (
    assert_finite,
    bad_arrays,
    edge_arrays,
    finite_or_naming,
    good_arrays,
    raises_naming,
)
from hypothesis import given
from hypothesis import strategies as st

from fhnrnn.fixedpoints import (
    FixedPoints,
    find_cycles,
    find_fixed_points,
    find_fixed_points_along,
    find_fixed_points_at_inputs,
    jacobians,
    linearise,
    sample_states,
)
from fhnrnn.models import TanhRNN

D, M, N = 3, 1, 4
CELL = TanhRNN(M, 1, D, spectral_radius=1.5, seed=3).double()
QUIET = {"progress": False}
# Few iterations: a start that has not converged by then is a failed start, as good a test case.
FAST = {"progress": False, "max_iters": 25}
STARTS = good_arrays((N, D), st.floats(-2.0, 2.0))
INPUTS = st.floats(-0.5, 0.5)


def _numpy(value: Any) -> np.ndarray:
    """A drawn array (list, array or tensor) as a float64 array."""
    if torch.is_tensor(value):
        return value.detach().double().numpy()
    return np.array(value, dtype=np.float64)


def _residual_norms(x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """||F(x, u) - x|| computed here, in float64, with the cell's own step."""
    with torch.no_grad():
        x64, u64 = torch.from_numpy(x), torch.from_numpy(u)
        return (CELL.step(x64, u64) - x64).norm(dim=1).numpy()


def _assert_q_is_recomputed(points: FixedPoints) -> None:
    for x, u, q in ((points.xstar, points.u, points.q),
                    (points.failed_x, points.failed_u, points.failed_q)):
        keep = np.isfinite(q) & np.isfinite(x).all(axis=1)
        if not keep.any():
            continue
        norms = _residual_norms(x[keep], u[keep])
        scale = 1.0 + np.linalg.norm(x[keep], axis=1)
        # q = 1/2 ||r||^2: compare ||r|| = sqrt(2 q), to a few ulps of the states' size.
        assert (np.abs(np.sqrt(2 * q[keep]) - norms) <= 1e-7 * norms + 1e-14 * scale).all()


def _sorted_points(points: FixedPoints) -> np.ndarray:
    rows = np.hstack([points.u, points.xstar])
    return rows[np.lexsort(rows.T[::-1])]


@given(x0=STARTS, u=INPUTS, method=st.sampled_from(["newton", "adam"]))
def test_the_q_returned_is_half_the_squared_residual_recomputed_in_float64(
    x0: Any, u: float, method: str
) -> None:
    points = find_fixed_points(CELL, x0, [u], **{**FAST, "method": method})
    assert points.xstar.shape[1] == D and points.u.shape == (len(points), M)
    assert len(points) + len(points.failed_x) <= N and points.n_started == N
    assert_finite((points.xstar, points.q, points.jacobian, points.eigenvalues))
    _assert_q_is_recomputed(points)


@given(x0=STARTS, u=INPUTS, order=st.permutations(range(N)))
def test_the_points_found_do_not_depend_on_the_order_of_the_starts(
    x0: Any, u: float, order: list[int]
) -> None:
    starts = _numpy(x0)
    first = find_fixed_points(CELL, starts, [u], **FAST)
    second = find_fixed_points(CELL, starts[order], [u], **FAST)
    assert len(first) == len(second) and first.n_converged == second.n_converged
    np.testing.assert_allclose(_sorted_points(first), _sorted_points(second), atol=1e-9)
    # The failed starts are the same starts, named by their rows in each x0.
    assert sorted(first.failed_index) == sorted(np.asarray(order)[second.failed_index])


@given(x0=STARTS, u=INPUTS)
def test_cycles_and_linearisations_are_finite_and_of_the_documented_shape(
    x0: Any, u: float
) -> None:
    cycles = find_cycles(CELL, x0, [u], period=2, **FAST)
    assert cycles.xstar.shape[1:] == (D,) and cycles.orbit.shape[1:] == (2, D)
    assert_finite(cycles)
    jac, jac_u = jacobians(CELL, x0, [u])
    assert jac.shape == (N, D, D) and jac_u.shape == (N, D, M)
    linear = linearise(CELL, x0, [u])
    assert linear["eigenvalues"].shape == (N, D)
    assert_finite((jac, jac_u, linear))


@given(states=good_arrays((2, 5, D)), n=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_sample_states_draws_rows_of_the_trajectories(states: Any, n: int, seed: int) -> None:
    drawn = sample_states(states, n, seed=seed)
    rows, values = _numpy(states).reshape(-1, D), _numpy(drawn)
    assert values.shape == (n, D)
    assert all(np.isclose(rows, row, atol=1e-6).all(axis=1).any() for row in values)


@given(states=good_arrays((2, 5, D)), inputs=good_arrays((3,), INPUTS), seed=st.integers(0, 99))
def test_search_at_inputs_and_along_a_path_give_finite_points(
    states: Any, inputs: Any, seed: int
) -> None:
    at = find_fixed_points_at_inputs(CELL, states, inputs, 2, seed=seed, **FAST)
    path = np.sort(_numpy(inputs))
    along = find_fixed_points_along(CELL, path, np.zeros((2, D)), [0, 2], max_halvings=1, **FAST)
    for points in (at, along):
        assert points.xstar.shape[1:] == (D,)
        assert_finite((points.xstar, points.q, points.eigenvalues))
        _assert_q_is_recomputed(points)


# Finder -> (call with one argument replaced, the good arguments).
FINDERS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "find_fixed_points": (find_fixed_points, {"step": CELL, "x0": np.zeros((N, D)),
                                              "u": np.zeros((N, M)), **FAST}),
    "find_cycles": (find_cycles, {"step": CELL, "x0": np.zeros((N, D)), "u": np.zeros((N, M)),
                                  "period": 2, **FAST}),
    "jacobians": (jacobians, {"step": CELL, "x": np.zeros((N, D)), "u": np.zeros((N, M))}),
    "linearise": (linearise, {"step": CELL, "x": np.zeros((N, D)), "u": np.zeros((N, M))}),
    "find_fixed_points_along": (find_fixed_points_along, {
        "step": CELL, "inputs": np.zeros((3, M)), "x0": np.zeros((2, D)),
        "start_index": np.array([0, 2]), **FAST}),
    "find_fixed_points_at_inputs": (find_fixed_points_at_inputs, {
        "step": CELL, "states": np.zeros((5, D)), "inputs": np.zeros((3, M)), "n_per_input": 2,
        **FAST}),
    "sample_states": (sample_states, {"trajectories": np.zeros((2, 5, D)), "n": 3}),
}
ARRAY_ARGUMENTS = [(finder, name) for finder, (_, good) in FINDERS.items()
                   for name, value in good.items() if isinstance(value, np.ndarray)]


@pytest.mark.parametrize(("finder", "name"), ARRAY_ARGUMENTS)
@given(data=st.data())
def test_finders_refuse_bad_arrays_by_name(finder: str, name: str, data: st.DataObject) -> None:
    call, good = FINDERS[finder]
    shape = good[name].shape
    # A (m,) input is broadcast to every start, and states may be (N, d) or (B, T, d).
    extra = name not in ("states", "trajectories", "start_index")
    # Trajectories and the states to draw from may hold any d (sample_states does not know it).
    wrong_last = name not in ("start_index", "trajectories")
    value = data.draw(bad_arrays(shape, extra_axis=extra, wrong_last=wrong_last))
    raises_naming(name, lambda: call(**{**good, name: value}))


@pytest.mark.parametrize(("finder", "name"), ARRAY_ARGUMENTS)
@given(data=st.data())
def test_finders_at_the_edges_are_finite_or_refused_by_name(
    finder: str, name: str, data: st.DataObject
) -> None:
    if name == "start_index":
        return  # integers only: no edge values
    call, good = FINDERS[finder]
    value = data.draw(edge_arrays(good[name].shape))
    finite_or_naming(name, lambda: call(**{**good, name: value}))


SETTINGS = st.sampled_from([
    ("tol_q", 0.0), ("tol_q", np.nan), ("tol_unique", -1.0), ("max_iters", -1),
    ("method", "bfgs"), ("lr", np.inf), ("grad_clip", "1"), ("linear_solver", "lu"),
    ("merge_starts", 1), ("noise_scale", -1.0), ("seed", -1), ("dtype", torch.int64),
    ("dtype", "float64"), ("device", "tpu:0"), ("step", "not a map"), ("step", None),
    ("tolerance", 1e-3),
])


@given(setting=SETTINGS)
def test_find_fixed_points_refuses_bad_settings_by_name(setting: tuple[str, Any]) -> None:
    name, value = setting
    call, good = FINDERS["find_fixed_points"]
    raises_naming(name, lambda: call(**{**good, name: value}))


@given(n=st.sampled_from([0, -1, 1.5, True, "3", None]))
def test_counts_are_refused_by_name(n: Any) -> None:
    raises_naming("n", lambda: sample_states(np.zeros((4, D)), n))
    raises_naming("period", lambda: find_cycles(CELL, np.zeros((2, D)), period=n, **QUIET))
    raises_naming("n_per_input", lambda: find_fixed_points_at_inputs(
        CELL, np.zeros((4, D)), [0.0], n, **QUIET))
