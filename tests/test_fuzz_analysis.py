"""Property-based tests of fhnrnn.analysis: bad arguments are refused by name, good ones give
finite results of the documented shape (see fuzz.py)."""

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

from fhnrnn import analysis
from fhnrnn.fhn import FHN
from fhnrnn.models import TanhRNN

CELL = TanhRNN(1, 2, 3, seed=0)
K, D = 4, 3
EIGENVALUES = np.array([[0.9 + 0.2j, 0.9 - 0.2j, 0.5]] * K)


def _numpy(value: Any) -> np.ndarray:
    if torch.is_tensor(value):
        return value.detach().numpy()
    return np.array(value)


@st.composite
def _complex_arrays(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    real, imag = (_numpy(draw(good_arrays(shape))).astype(np.float64) for _ in range(2))
    return real + 1j * imag


# name -> (call with the drawn value, argument name, shape, complex argument?, result check)
CALLS: dict[str, tuple[Callable[[Any], Any], str, tuple[int, ...], bool, Callable[[Any], Any]]] = {
    "rollout_float64 inputs": (
        lambda v: analysis.rollout_float64(CELL, v, 5), "inputs", (K, 1), False,
        lambda r: r[0].shape == (K, 5, D) and r[1].shape == (K, 5, 2)),
    "rollout_float64 x0": (
        lambda v: analysis.rollout_float64(CELL, np.zeros(K), 5, v), "x0", (K, D), False,
        lambda r: r[0].shape == (K, 5, D)),
    "trajectory_starts": (
        lambda v: analysis.trajectory_starts(CELL, v, 5, 2), "inputs", (K, 1), False,
        lambda r: r[0].shape == (2 * K, D) and r[1].shape == (2 * K,)),
    "translate": (
        lambda v: analysis.translate(CELL, v), "states", (K, D), False,
        lambda r: r.shape == (K, 2)),
    "departure_time trajectory": (
        lambda v: analysis.departure_time(v, np.zeros(D), 0.5), "trajectory", (K, 5, D), False,
        lambda r: r.shape == (K,)),
    "departure_time center": (
        lambda v: analysis.departure_time(np.zeros((K, 5, D)), v, 0.5), "center", (K, D), False,
        lambda r: r.shape == (K,)),
    "predicted_departure_time": (
        lambda v: analysis.predicted_departure_time(v, 1.5, 1.0),
        "initial_distance", (K,), False, lambda r: r.shape == (K,)),
    "error_summary estimate": (
        lambda v: analysis.error_summary(v, np.zeros((K, D))), "estimate", (K, D), False,
        lambda r: set(r) == {"mse", "rmse", "max_abs"}),
    "continuous_time_eigenvalues": (
        lambda v: analysis.continuous_time_eigenvalues(v, 0.3), "eigenvalues", (K, D), True,
        lambda r: r.shape == (K, D)),
    "fixed_point_labels": (
        analysis.fixed_point_labels, "eigenvalues", (K, D), True, lambda r: r.shape == (K,)),
    "euler_map_rates": (
        lambda v: analysis.euler_map_rates(FHN(), v, 0.3), "currents", (K,), False,
        lambda r: r.shape == (K, 2)),
    "pca_projection trajectories": (
        lambda v: analysis.pca_projection(v, None, 2), "trajectories", (2, 5, D), False,
        lambda r: r[0].shape == (2, 5, 2) and r[1] is None and r[2].shape == (2,)),
    "pca_projection points": (
        lambda v: analysis.pca_projection(np.arange(30.0).reshape(2, 5, D) ** 0.5, v, 2),
        "points", (K, D), False, lambda r: r[1].shape == (K, 2)),
    "stability_changes inputs": (
        lambda v: analysis.stability_changes(v, EIGENVALUES), "inputs", (K,), False,
        lambda r: r[0].shape == r[1].shape),
    "oscillation_period": (
        lambda v: analysis.oscillation_period(v, 0.3), "signal", (40,), False,
        lambda r: len(r) == 3),
}
# What an argument may be besides its shape in CALLS: element-wise functions take any shape,
# some take any last axis (or length), and some return an empty result for an empty array.
ANY_SHAPE = {"predicted_departure_time", "continuous_time_eigenvalues", "euler_map_rates",
             "error_summary estimate"}
ANY_LENGTH = {"pca_projection trajectories", "fixed_point_labels", "oscillation_period"}
EMPTY_ALLOWED = {"predicted_departure_time", "continuous_time_eigenvalues", "euler_map_rates",
                 "departure_time trajectory", "translate", "fixed_point_labels"}
# Good values made to fit what a function documents: increasing inputs, positive distances,
# non-zero eigenvalues (a logarithm is taken).
GOOD_FORM: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "stability_changes inputs": lambda v: np.cumsum(np.abs(v) + 0.1),
    "predicted_departure_time": lambda v: np.abs(v) + 0.1,
    "continuous_time_eigenvalues": lambda v: np.where(v == 0, 1.0, v),
    "pca_projection trajectories": lambda v: v + np.arange(v.size).reshape(v.shape),  # varies
}
# A result that is NaN by design: no oscillation.
NAN_BY_DESIGN = {"oscillation_period"}


@pytest.mark.parametrize("call", sorted(CALLS))
@given(data=st.data())
def test_analysis_refuses_bad_arrays_by_name(call: str, data: st.DataObject) -> None:
    function, name, shape, is_complex, _ = CALLS[call]
    value = data.draw(bad_arrays(
        shape,
        extra_axis=call not in ANY_SHAPE,
        wrong_last=call not in ANY_SHAPE | ANY_LENGTH,
        empty=call not in EMPTY_ALLOWED,
        complex_allowed=is_complex,
    ))
    raises_naming(name, lambda: function(value))


@pytest.mark.parametrize("call", sorted(CALLS))
@given(data=st.data())
def test_analysis_gives_results_of_the_documented_shape(call: str, data: st.DataObject) -> None:
    function, _, shape, is_complex, check = CALLS[call]
    value = data.draw(_complex_arrays(shape) if is_complex else good_arrays(shape))
    if call in GOOD_FORM:
        value = GOOD_FORM[call](_numpy(value))
    result = function(value)
    assert check(result)
    if call not in NAN_BY_DESIGN:
        assert_finite(result)


@pytest.mark.parametrize("call", sorted(name for name in CALLS if not CALLS[name][3]))
@given(data=st.data())
def test_analysis_at_the_edges_is_finite_or_refused_by_name(
    call: str, data: st.DataObject
) -> None:
    function, name, shape, _, _ = CALLS[call]
    if call in NAN_BY_DESIGN:
        return
    finite_or_naming(name, lambda: function(data.draw(edge_arrays(shape))))


SCALARS = st.sampled_from([np.nan, np.inf, -1.0, 0.0, "0.3", None, True, 1j])


@given(value=SCALARS)
def test_analysis_scalars_are_refused_by_name(value: Any) -> None:
    raises_naming("dt", lambda: analysis.continuous_time_eigenvalues(EIGENVALUES, value))
    raises_naming("dt", lambda: analysis.rotation_rates(EIGENVALUES, value))
    raises_naming("tol", lambda: analysis.departure_time(np.zeros((2, 5, D)), np.zeros(D), value))
    raises_naming("n_steps", lambda: analysis.rollout_float64(CELL, np.zeros(2), value))
    raises_naming("n_components", lambda: analysis.pca_projection(np.ones((2, 5, D)), None,
                                                                   value))


SEARCHES: dict[str, tuple[Callable[[Any], Any], tuple[int, ...]]] = {
    "inputs": (lambda v: analysis.fixed_points_by_input(CELL, v, n_steps=5, n_per_input=2,
                                                         progress=False, max_iters=10), (2, 1)),
    "starts": (lambda v: analysis.fixed_point_branch(CELL, np.array([0.0, 0.1]), v,
                                                      max_iters=10), (2, D)),
}


@pytest.mark.parametrize("name", ["inputs", "starts"])
@given(data=st.data())
def test_the_searches_by_input_refuse_bad_arrays_by_name(name: str, data: st.DataObject) -> None:
    call, shape = SEARCHES[name]
    raises_naming(name, lambda: call(data.draw(bad_arrays(shape))))
