"""Property-based tests of fhnrnn.fhn and fhnrnn.tasks: bad arguments are refused by name,
good ones give finite results of the documented shape (see tests/fuzz.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fuzz import bad_arrays, edge_arrays, finite_or_naming, good_arrays, raises_naming
from hypothesis import given
from hypothesis import strategies as st

from fhnrnn.fhn import FHN
from fhnrnn.tasks import fhn_flow, fhn_grid, fhn_voltage, flip_flop, sine_wave

MODEL = FHN()
CURRENTS = st.floats(-5.0, 5.0, allow_nan=False, width=64)
# method -> (call with the drawn array, the argument's name, its shape, the result's shape)
ARRAY_METHODS: dict[str, tuple[Callable[[Any], Any], str, tuple[int, ...], tuple]] = {
    "rhs state": (lambda x: MODEL.rhs(x, 0.5), "state", (3, 2), (3, 2)),
    "rhs I": (lambda x: MODEL.rhs(np.zeros((3, 2)), x), "I", (3,), (3, 2)),
    "nullclines v": (lambda x: MODEL.nullclines(x, 0.5), "v", (3,), (3,)),
    "nullclines I": (lambda x: MODEL.nullclines(np.zeros(3), x), "I", (3,), (3,)),
    "fixed_point": (MODEL.fixed_point, "I", (3,), (3,)),
    "current_at": (MODEL.current_at, "v_star", (3,), (3,)),
    "jacobian": (MODEL.jacobian, "I", (3,), (3, 2, 2)),
    "eigenvalues": (MODEL.eigenvalues, "I", (3,), (3, 2)),
    "classify": (MODEL.classify, "I", (3,), (3,)),
    "euler_jacobian": (MODEL.euler_jacobian, "I", (3,), (3, 2, 2)),
    "simulate I": (lambda x: MODEL.simulate(x, t_max=3.0), "I", (3,), (3, 11, 2)),
    "simulate state0": (lambda x: MODEL.simulate(0.5, x, t_max=3.0), "state0", (2,), (11, 2)),
}
SCALAR_CALLS: dict[str, Callable[[Any], Any]] = {
    "a": lambda x: FHN(a=x),
    "b": lambda x: FHN(b=x),
    "tau": lambda x: FHN(tau=x),
    "dt": lambda x: MODEL.euler_hopf_points(x),
    "t_max": lambda x: MODEL.simulate(0.5, t_max=x),
    "xtol": lambda x: MODEL.oscillation_range(xtol=x),
    "tol": lambda x: MODEL.limit_cycle(1.0, tol=x),
}
BAD_SCALARS = st.sampled_from(
    [np.nan, np.inf, -np.inf, 1j, "0.5", None, [0.5, 0.5], np.array([0.5]), True]
)


@pytest.mark.parametrize("method", sorted(ARRAY_METHODS))
@given(data=st.data())
def test_fhn_methods_refuse_bad_arrays_by_name(method: str, data: st.DataObject) -> None:
    call, name, shape, _ = ARRAY_METHODS[method]
    # Currents and voltages may have any shape (...); only states have a last axis of 2.
    fixed = name.startswith("state")
    value = data.draw(bad_arrays(shape, extra_axis=fixed, wrong_last=fixed, empty=False))
    raises_naming(name, lambda: call(value))


@pytest.mark.parametrize("method", sorted(ARRAY_METHODS))
@given(data=st.data())
def test_fhn_methods_give_finite_results_of_the_documented_shape(
    method: str, data: st.DataObject
) -> None:
    call, _, shape, result_shape = ARRAY_METHODS[method]
    result = call(data.draw(good_arrays(shape)))
    arrays = result if isinstance(result, tuple) else (result,)
    assert np.shape(arrays[-1]) == result_shape
    for array in arrays:
        if np.asarray(array).dtype.kind in "fc":
            assert np.isfinite(array).all()


@pytest.mark.parametrize("method", sorted(ARRAY_METHODS))
@given(data=st.data())
def test_fhn_methods_at_the_edges_are_finite_or_refused_by_name(
    method: str, data: st.DataObject
) -> None:
    call, name, shape, _ = ARRAY_METHODS[method]
    finite_or_naming(name, lambda: call(data.draw(edge_arrays(shape))))


@pytest.mark.parametrize("name", sorted(SCALAR_CALLS))
@given(value=BAD_SCALARS)
def test_fhn_scalars_are_refused_by_name(name: str, value: Any) -> None:
    raises_naming(name, lambda: SCALAR_CALLS[name](value))


@given(b=st.floats(1e-300, 1.0), current=st.floats(-1e6, 1e6))
def test_the_fixed_point_is_a_zero_of_the_field_for_any_b(b: float, current: float) -> None:
    model = FHN(b=b)
    v, w = model.fixed_point(current)
    assert np.isfinite([v, w]).all()
    dv = v - v**3 / 3 - w + current
    # dv is a sum of terms of size |v|^3 and |I|: it vanishes to a few ulps of them.
    assert abs(dv) <= 8e-16 * (abs(v) ** 3 + abs(v) + abs(w) + abs(current))
    assert abs(v + model.a - b * w) <= 8e-16 * (abs(v) + model.a + b * abs(w))


@given(current=CURRENTS, state0=good_arrays((2,), st.floats(-1e150, 1e150)))
def test_a_euler_run_that_overflows_is_refused(current: float, state0: Any) -> None:
    finite_or_naming("state0", lambda: MODEL.simulate(current, state0, t_max=3.0))


# --------------------------------------------------------------------------------- tasks

TASKS: dict[str, Callable[[Any], Any]] = {
    "n_bits": lambda x: flip_flop(x, n_trials=2, n_steps=5, seed=0),
    "n_trials": lambda x: flip_flop(2, n_trials=x, n_steps=5, seed=0),
    "p_pulse": lambda x: flip_flop(2, n_trials=2, n_steps=5, p_pulse=x, seed=0),
    "seed": lambda x: flip_flop(2, n_trials=2, n_steps=5, seed=x),
    "n_conditions": lambda x: sine_wave(x, n_steps=5),
    "omega_range": lambda x: sine_wave(3, n_steps=5, omega_range=x),
    "scale": lambda x: fhn_voltage([0.5], t_max=3.0, scale=x),
    "state0": lambda x: fhn_voltage([0.5], t_max=3.0, state0=x),
    "I_range": lambda x: fhn_grid(3, x),
    "near_radius": lambda x: fhn_flow([0.5], n_random=1, n_near=1, t_max=1.0, dt=0.5, seed=0,
                                      near_radius=x),
}
BAD_TASK_VALUES = st.sampled_from(
    [np.nan, np.inf, -1, 0.5 + 1j, "3", None, True, (np.nan, 1.0), (1.0, 0.5, 2.0), ()]
)


@pytest.mark.parametrize("name", sorted(TASKS))
@given(value=BAD_TASK_VALUES)
def test_task_settings_are_refused_by_name(name: str, value: Any) -> None:
    if name == "seed" and value is None:
        return  # no seed is refused too, but by Python (a required keyword)
    raises_naming(name, lambda: TASKS[name](value))


@given(currents=bad_arrays((3,), wrong_last=False))
def test_task_currents_are_refused_by_name(currents: Any) -> None:
    raises_naming("I_values", lambda: fhn_voltage(currents, t_max=3.0))
    raises_naming("I_values", lambda: fhn_flow(currents, n_random=1, n_near=1, t_max=1.0,
                                               dt=0.5, seed=0))


@given(currents=good_arrays((3,)), seed=st.integers(0, 2**32))
def test_tasks_give_finite_data_of_the_documented_shape(currents: Any, seed: int) -> None:
    voltage = fhn_voltage(currents, t_max=3.0)
    assert voltage.inputs.shape == voltage.targets.shape == (3, 11, 1)  # t = 0, 0.3, ..., 3
    flips = flip_flop(2, n_trials=3, n_steps=5, seed=seed)
    assert flips.inputs.shape == flips.targets.shape == (3, 5, 2)
    for task in (voltage, flips, sine_wave(3, n_steps=5)):
        assert np.isfinite(task.inputs.numpy()).all() and np.isfinite(task.targets.numpy()).all()
