"""Property-based tests of the exact route: bad arrays refused by name, every point exact."""

from __future__ import annotations

import numpy as np
from fuzz import bad_arrays, raises_naming
from hypothesis import given
from hypothesis import strategies as st
from test_exact import random_stack

from fhnrnn.fixedpoints import certify, find_fixed_points_exact, trace_fixed_points

STACK = random_stack(8, 2, [4, 4, 3])  # a cell with folds: one to three points per input


@given(data=st.data())
def test_the_trace_refuses_a_bad_state_by_name(data: st.DataObject) -> None:
    raises_naming("x0", lambda: trace_fixed_points(STACK, data.draw(bad_arrays((2,))), 0.0,
                                                   (-1.0, 1.0)))


@given(data=st.data(), name=st.sampled_from(["inputs", "starts"]))
def test_the_search_refuses_bad_arrays_by_name(data: st.DataObject, name: str) -> None:
    arguments = {"inputs": [0.0, 0.5], "starts": np.zeros((2, 2)), "start_index": [0, 1]}
    shape = (2,) if name == "inputs" else (2, 2)
    arguments[name] = data.draw(bad_arrays(shape))
    raises_naming(name, lambda: find_fixed_points_exact(STACK, **arguments))


@given(
    starts=st.lists(st.floats(-2.0, 2.0), min_size=6, max_size=6),
    order=st.permutations(range(3)),
)
def test_every_point_is_exact_and_the_set_does_not_depend_on_the_order_of_the_starts(
    starts: list[float], order: list[int]
) -> None:
    states = np.array(starts).reshape(3, 2)
    inputs, index = [-0.5, 0.0, 0.5], np.array([0, 1, 2])
    found = find_fixed_points_exact(STACK, inputs, states, index, patience=None)
    again = find_fixed_points_exact(STACK, inputs, states[order], index[order], patience=None)
    points = found.points
    residual = STACK.step(points.xstar, points.u) - points.xstar
    np.testing.assert_allclose(points.q, 0.5 * (residual**2).sum(axis=1), rtol=0, atol=1e-30)
    assert points.q.max(initial=0.0) < 1e-24
    assert all(certify(STACK, x, u).valid for x, u in zip(points.xstar, points.u[:, 0],
                                                             strict=True))
    key = np.lexsort(np.column_stack([points.u, points.xstar]).T)
    key_again = np.lexsort(np.column_stack([again.points.u, again.points.xstar]).T)
    np.testing.assert_allclose(again.points.xstar[key_again], points.xstar[key], atol=1e-9)
