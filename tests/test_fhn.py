"""The FHN model against values computed independently here.

Fixed points are checked with a bracketing root finder, Jacobians with finite differences,
eigenvalues with numpy, bifurcation points by the sign changes they claim, integrators with
an independent eighth-order solution, and limit cycles with a brute-force count on a long run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from fhnrnn.fhn import CLASSES, FHN, LimitCycle

MODEL = FHN()
A, B, TAU = 0.7, 0.8, 12.5
MIRROR = 2 * A / B  # (v, w, I) -> (-v, MIRROR - w, MIRROR - I) maps solutions to solutions


def field(v: float, w: float, current: float) -> np.ndarray:
    """The FHN vector field written out independently of the module."""
    return np.array([v - v**3 / 3 - w + current, (v + A - B * w) / TAU])


def reference_v_star(current: float) -> float:
    """Root of v - v^3/3 - (v + a)/b + I = 0 by bisection (the function is decreasing)."""
    return brentq(lambda v: v - v**3 / 3 - (v + A) / B + current, -50.0, 50.0, xtol=1e-15)


def reference_solution(current: float, t_eval: np.ndarray, y0=(0.0, 0.0)) -> np.ndarray:
    solution = solve_ivp(
        lambda _t, y: field(y[0], y[1], current),
        (0.0, t_eval[-1]),
        y0,
        method="DOP853",
        t_eval=t_eval,
        rtol=1e-12,
        atol=1e-13,
    )
    return solution.y.T


# ---------------------------------------------------------------------------- construction


def test_defaults_are_the_study_constants() -> None:
    assert (MODEL.a, MODEL.b, MODEL.tau) == (A, B, TAU)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"tau": -1.0}, "tau"),
        ({"tau": 0.0}, "tau"),
        ({"b": 1.5}, "b"),
        ({"b": 0.0}, "b"),
        ({"a": float("nan")}, "a"),
        ({"tau": float("inf")}, "tau"),
        ({"a": "0.7"}, "a"),
    ],
)
def test_bad_constants_are_rejected_by_name(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must"):
        FHN(**kwargs)


def test_model_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        MODEL.a = 1.0


# ---------------------------------------------------------------------------- vector field


def test_rhs_matches_the_equations_and_broadcasts() -> None:
    rng = np.random.default_rng(0)
    states = rng.normal(size=(4, 3, 2))
    currents = rng.uniform(0, 2, size=(4, 3))
    got = MODEL.rhs(states, currents)
    assert got.shape == (4, 3, 2)
    expected = np.array(
        [[field(*states[i, j], currents[i, j]) for j in range(3)] for i in range(4)]
    )
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    np.testing.assert_allclose(MODEL.rhs(states[0, 0], 0.5), field(*states[0, 0], 0.5))


def test_rhs_rejects_a_state_without_two_components() -> None:
    with pytest.raises(ValueError, match="state must have shape"):
        MODEL.rhs(np.zeros(3), 1.0)


def test_nullclines_cross_at_the_fixed_point() -> None:
    v_star, w_star = MODEL.fixed_point(0.7)
    w_v, w_w = MODEL.nullclines(np.array([v_star]), 0.7)
    np.testing.assert_allclose([w_v[0], w_w[0]], [w_star, w_star], rtol=1e-13)
    v = np.linspace(-2, 2, 5)
    w_v, w_w = MODEL.nullclines(v, 1.0)
    np.testing.assert_allclose(field(v, w_v, 1.0)[0], 0.0, atol=1e-14)
    np.testing.assert_allclose(field(v, w_w, 1.0)[1], 0.0, atol=1e-14)


# ---------------------------------------------------------------------------- fixed point

CURRENTS = [-1e3, -50.0, -3.0, 0.0, 0.2, 0.33, 0.875, 1.0, 1.6, 3.0, 50.0, 1e3]


@pytest.mark.parametrize("current", CURRENTS)
def test_fixed_point_matches_numeric_roots(current: float) -> None:
    v_star, w_star = MODEL.fixed_point(current)
    expected = reference_v_star(current)
    np.testing.assert_allclose(v_star, expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(w_star, (expected + A) / B, rtol=1e-12, atol=1e-13)
    roots = np.roots([1 / 3, 0.0, 1 / B - 1, A / B - current])
    (real_root,) = roots[abs(roots.imag) < 1e-9].real
    np.testing.assert_allclose(v_star, real_root, rtol=1e-9, atol=1e-12)
    residual = field(float(v_star), float(w_star), current)
    np.testing.assert_allclose(residual, 0.0, atol=1e-12 * max(1.0, abs(current)))


def test_fixed_point_is_elementwise() -> None:
    grid = np.array(CURRENTS[2:10]).reshape(2, 4)
    v_star, w_star = MODEL.fixed_point(grid)
    assert v_star.shape == w_star.shape == (2, 4)
    assert all(isinstance(x, float) for x in MODEL.fixed_point(1.0)), "scalars for a scalar I"
    np.testing.assert_allclose(v_star, np.vectorize(reference_v_star)(grid), rtol=1e-12, atol=1e-13)


def test_fixed_point_with_b_equal_one_has_the_triple_root_case() -> None:
    model = FHN(a=0.5, b=1.0)
    # With b = 1 the cubic is v^3/3 = I - a: at I = a the formula hits u = 0.
    np.testing.assert_allclose(model.fixed_point(0.5)[0], 0.0, atol=1e-15)
    np.testing.assert_allclose(model.fixed_point(9.5)[0], 3.0, rtol=1e-14)


EPS = float(np.finfo(np.float64).eps)


def _mpmath_fixed_point(a: float, b: float, current: float) -> tuple[float, float]:
    """(v*, w*) from the cubic b v^3/3 + (1 - b) v + a - b I = 0 solved with 60 digits."""
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(60):
        a_, b_, i_ = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(current)
        roots = mpmath.polyroots([b_ / 3, 0, 1 - b_, a_ - b_ * i_], maxsteps=200, extraprec=200)
        (v,) = [root.real for root in roots if abs(mpmath.im(root)) < mpmath.mpf(10) ** -40]
        return float(v), float((v + a_) / b_)


@pytest.mark.parametrize("b", [1e-12, 1e-6, 1e-3, 0.3, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("current", [-40.0, -3.0, 0.0, 0.5, 0.875, 1.2, 40.0])
def test_fixed_point_is_precise_to_a_few_ulps_for_every_b(b: float, current: float) -> None:
    # For small b, w* = (v* + a) / b subtracts nearly equal numbers (relative error 1e-6 at
    # b = 1e-6 before the v-nullcline form was used there).
    v_star, w_star = FHN(b=b).fixed_point(current)
    v_ref, w_ref = _mpmath_fixed_point(0.7, b, current)
    # Rounding a - b I moves the root by up to 2 ulps of |a| + |b I| over the cubic's slope.
    slope = b * v_ref**2 + 1 - b
    v_atol = 2 * EPS * (0.7 + abs(b * current)) / slope
    np.testing.assert_allclose(v_star, v_ref, rtol=1e-15, atol=v_atol)
    # w* = I + v* - v*^3/3 is as ill-conditioned as that sum: allow 2 ulps of its terms.
    terms = abs(current) + abs(v_ref) + abs(v_ref) ** 3 / 3
    np.testing.assert_allclose(w_star, w_ref, rtol=0, atol=2 * EPS * terms)


def test_fixed_point_of_a_subnormal_b_is_finite() -> None:
    v_star, w_star = FHN(b=5e-324).fixed_point([0.5, 1e300])
    np.testing.assert_allclose(v_star, [-0.7, -0.7], rtol=1e-15)
    np.testing.assert_allclose(w_star, [0.5 - 0.7 + 0.7**3 / 3, 1e300], rtol=2e-15)


def test_current_at_inverts_the_fixed_point() -> None:
    grid = np.linspace(-2, 3, 11)
    np.testing.assert_allclose(MODEL.current_at(MODEL.fixed_point(grid)[0]), grid, atol=1e-13)


def test_euler_steps_keep_the_fixed_point() -> None:
    fixed = np.array(MODEL.fixed_point(1.0))
    _, states = MODEL.simulate(1.0, state0=fixed, t_max=3.0)
    np.testing.assert_allclose(states, np.broadcast_to(fixed, states.shape), atol=1e-14)


# ---------------------------------------------------------------------------- linearisation


@pytest.mark.parametrize("current", [0.0, 0.2, 1.0, 1.6])
def test_jacobian_matches_finite_differences(current: float) -> None:
    fixed = np.array([float(x) for x in MODEL.fixed_point(current)])
    step = 1e-6
    columns = [
        (field(*(fixed + step * e), current) - field(*(fixed - step * e), current)) / (2 * step)
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(MODEL.jacobian(current), np.column_stack(columns), atol=1e-9)


def test_eigenvalues_match_numpy_and_are_ordered() -> None:
    grid = np.linspace(-0.5, 2.25, 23)
    got = MODEL.eigenvalues(grid)
    assert got.shape == (23, 2)
    assert got.dtype == np.complex128
    expected = np.linalg.eigvals(MODEL.jacobian(grid))
    np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(expected), atol=1e-12)
    assert np.all(got[:, 0].real >= got[:, 1].real)
    assert np.all(got[:, 0].imag >= 0)


def numpy_class(current: float) -> str:
    """The type of the fixed point from numpy's eigenvalues."""
    eig = np.linalg.eigvals(MODEL.jacobian(current))
    stability = "stable" if np.all(eig.real < 0) else "unstable"
    kind = "focus" if np.any(abs(eig.imag) > 0) else "node"
    return f"{stability} {kind}"


def test_classify_at_the_stated_currents() -> None:
    assert MODEL.classify(-1.0) == "stable node"
    assert MODEL.classify(1.0) == "unstable node"
    assert MODEL.classify(0.2) == "stable focus"
    assert MODEL.classify(1.6) == "stable focus"
    assert isinstance(MODEL.classify(0.2), str)


def test_classify_agrees_with_numpy_eigenvalues_elementwise() -> None:
    grid = np.linspace(-0.5, 2.25, 56).reshape(7, 8)
    labels = MODEL.classify(grid)
    assert labels.shape == (7, 8)
    assert set(labels.ravel()) <= set(CLASSES)
    assert labels.tolist() == [[numpy_class(x) for x in row] for row in grid]
    assert {"stable node", "stable focus", "unstable node", "unstable focus"} == set(labels.ravel())


# ---------------------------------------------------------------------------- bifurcations


def test_hopf_points_have_the_known_values() -> None:
    low, high = MODEL.hopf_points()
    assert round(low, 4) == 0.3313
    assert round(high, 4) == 1.4187
    np.testing.assert_allclose(low + high, MIRROR, rtol=1e-14)


@pytest.mark.parametrize("index", [0, 1])
def test_real_parts_change_sign_across_each_hopf_point(index: int) -> None:
    point = MODEL.hopf_points()[index]
    inside = point + (1e-7 if index == 0 else -1e-7)
    outside = point - (1e-7 if index == 0 else -1e-7)
    assert np.all(np.linalg.eigvals(MODEL.jacobian(inside)).real > 0)
    assert np.all(np.linalg.eigvals(MODEL.jacobian(outside)).real < 0)
    at = np.linalg.eigvals(MODEL.jacobian(point))
    np.testing.assert_allclose(at.real, 0.0, atol=1e-12)
    assert np.all(abs(at.imag) > 0.1), "a Hopf point needs a complex pair"


def test_hopf_points_need_tau_above_b() -> None:
    with pytest.raises(ValueError, match="tau must exceed b"):
        FHN(b=0.8, tau=0.5).hopf_points()


def test_node_focus_points_are_where_eigenvalues_turn_real() -> None:
    points = MODEL.node_focus_points()
    np.testing.assert_allclose(points, [-0.137629, 0.581266, 1.168734, 1.887629], atol=1e-6)
    for point in points:
        left, right = (np.linalg.eigvals(MODEL.jacobian(point + d)) for d in (-1e-6, 1e-6))
        assert np.any(left.imag != 0) != np.any(right.imag != 0)


def test_euler_jacobian_is_identity_plus_dt_times_jacobian() -> None:
    step = 1e-6
    fixed = np.array([float(x) for x in MODEL.fixed_point(0.5)])

    def euler_map(x: np.ndarray) -> np.ndarray:
        return x + 0.3 * field(*x, 0.5)

    columns = [
        (euler_map(fixed + step * e) - euler_map(fixed - step * e)) / (2 * step) for e in np.eye(2)
    ]
    np.testing.assert_allclose(MODEL.euler_jacobian(0.5, 0.3), np.column_stack(columns), atol=1e-9)


@pytest.mark.parametrize("dt", [0.3, 0.05])
def test_euler_map_loses_stability_at_its_own_points(dt: float) -> None:
    low, high = MODEL.euler_hopf_points(dt)
    hopf_low, hopf_high = MODEL.hopf_points()
    assert low < hopf_low and high > hopf_high
    for point, inward in ((low, 1e-7), (high, -1e-7)):
        moduli = [
            abs(np.linalg.eigvals(MODEL.euler_jacobian(point + d, dt))).max()
            for d in (-inward, 0.0, inward)
        ]
        assert moduli[0] < 1 < moduli[2]
        np.testing.assert_allclose(moduli[1], 1.0, atol=1e-12)


def test_euler_points_tend_to_the_hopf_points_as_dt_shrinks() -> None:
    np.testing.assert_allclose(MODEL.euler_hopf_points(1e-9), MODEL.hopf_points(), atol=1e-8)


# ---------------------------------------------------------------------------- simulation


def test_euler_defaults_follow_the_original_recipe() -> None:
    times, states = MODEL.simulate(1.0)
    assert times.shape == (334,) and states.shape == (334, 2)
    np.testing.assert_allclose(times[[0, 1, -1]], [0.0, 0.3, 99.9], atol=1e-12)
    state = np.zeros(2)
    for k in range(5):
        np.testing.assert_allclose(states[k], state, rtol=1e-14, atol=1e-15)
        state = state + 0.3 * field(*state, 1.0)


def test_euler_is_vectorised_over_currents_and_starts() -> None:
    currents = np.array([[0.2, 1.0], [1.6, 0.5]])
    starts = np.array([[[0.0, 0.0], [1.0, -0.5]], [[0.3, 0.2], [-1.0, 1.0]]])
    times, states = MODEL.simulate(currents, state0=starts, t_max=30.0)
    assert states.shape == (2, 2, times.size, 2)
    for index in np.ndindex(2, 2):
        _, single = MODEL.simulate(currents[index], state0=starts[index], t_max=30.0)
        np.testing.assert_array_equal(states[index], single)


def test_rk45_matches_an_independent_high_order_solver() -> None:
    times, states = MODEL.simulate([0.2, 1.0], method="rk45")
    for row, current in enumerate([0.2, 1.0]):
        np.testing.assert_allclose(states[row], reference_solution(current, times), atol=1e-6)


def test_euler_converges_at_first_order() -> None:
    t_eval = np.linspace(0, 10, 3)
    exact = reference_solution(1.0, t_eval)
    errors = []
    for dt in (0.01, 0.005):
        times, states = MODEL.simulate(1.0, t_max=10.0, dt=dt)
        errors.append(abs(states[-1] - exact[-1]).max())
        assert times[-1] == pytest.approx(10.0)
    assert 1.8 < errors[0] / errors[1] < 2.2


@pytest.mark.parametrize("current", [0.2, 1.6])
def test_long_runs_settle_on_the_fixed_point(current: float) -> None:
    _, states = MODEL.simulate(current, t_max=1500.0, dt=0.5, method="rk45")
    np.testing.assert_allclose(
        states[-1], [reference_v_star(current), (reference_v_star(current) + A) / B], atol=1e-6
    )


def test_long_run_at_one_keeps_oscillating() -> None:
    _, states = MODEL.simulate(1.0, t_max=1500.0, dt=0.5, method="rk45")
    late = states[-200:, 0]
    assert late.max() - late.min() > 3.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"I": float("nan")}, "I must be finite"),
        ({"I": [1.0, np.inf]}, "I must be finite"),
        ({"I": "1.0"}, "I must be real"),
        ({"I": 1.0, "dt": -0.3}, "dt must be positive"),
        ({"I": 1.0, "t_max": 0.0}, "t_max must be positive"),
        ({"I": 1.0, "t_max": 0.1}, "t_max must be at least dt"),
        ({"I": 1.0, "state0": (0.0, 0.0, 0.0)}, "state0 must have shape"),
        ({"I": [1.0, 2.0], "state0": np.zeros((3, 2))}, "state0 must have shape"),
        ({"I": 1.0, "state0": (0.0, np.nan)}, "state0 must be finite"),
        ({"I": 1.0, "method": "rk4"}, "method must be one of"),
        ({"I": 1.0, "method": "rk45", "rtol": 0.0}, "rtol must be positive"),
    ],
)
def test_simulate_rejects_bad_input_by_name(kwargs: dict, message: str) -> None:
    current = kwargs.pop("I")
    with pytest.raises(ValueError, match=message):
        MODEL.simulate(current, **kwargs)


@pytest.mark.parametrize(
    "call",
    [
        lambda: MODEL.fixed_point(np.nan),
        lambda: MODEL.jacobian([0.1, np.inf]),
        lambda: MODEL.eigenvalues(np.nan),
        lambda: MODEL.classify(np.inf),
        lambda: MODEL.nullclines([0.0], np.nan),
        lambda: MODEL.euler_jacobian(1.0, dt=0.0),
    ],
)
def test_analysis_rejects_non_finite_input(call) -> None:
    with pytest.raises(ValueError, match="must be"):
        call()


# ---------------------------------------------------------------------------- limit cycle


@pytest.fixture(scope="module")
def cycle_at_one() -> LimitCycle:
    cycle = MODEL.limit_cycle(1.0)
    assert cycle is not None
    return cycle


def test_limit_cycle_matches_a_brute_force_count(cycle_at_one: LimitCycle) -> None:
    times, states = MODEL.simulate(1.0, t_max=1200.0, dt=0.01, method="rk45")
    late = times >= 200.0
    t, v = times[late], states[late, 0]
    v_star = reference_v_star(1.0)
    up = np.flatnonzero((v[:-1] < v_star) & (v[1:] >= v_star))
    crossing_times = t[up] + (v_star - v[up]) / (v[up + 1] - v[up]) * (t[up + 1] - t[up])
    period = (crossing_times[-1] - crossing_times[0]) / (crossing_times.size - 1)
    assert crossing_times.size > 20
    np.testing.assert_allclose(cycle_at_one.period, period, rtol=1e-6)
    whole = (t >= crossing_times[0]) & (t <= crossing_times[-1])
    mean = np.trapezoid(v[whole], t[whole]) / (t[whole][-1] - t[whole][0])
    np.testing.assert_allclose(cycle_at_one.v_mean, mean, atol=1e-3)
    np.testing.assert_allclose(
        [cycle_at_one.v_min, cycle_at_one.v_max], [v.min(), v.max()], atol=1e-5
    )
    assert cycle_at_one.amplitude == pytest.approx(v.max() - v.min(), abs=2e-5)


def test_limit_cycle_starts_on_the_section(cycle_at_one: LimitCycle) -> None:
    start = np.array(cycle_at_one.start)
    assert start[0] == pytest.approx(reference_v_star(1.0), abs=1e-12)
    assert field(*start, 1.0)[0] > 0, "the section is crossed upwards"
    returned = reference_solution(1.0, np.array([0.0, cycle_at_one.period]), y0=start)[-1]
    np.testing.assert_allclose(returned, start, atol=1e-6)


@pytest.mark.parametrize("current", [-1.0, 0.2, 1.6])
def test_no_limit_cycle_where_the_fixed_point_attracts(current: float) -> None:
    assert MODEL.limit_cycle(current) is None


def test_limit_cycles_of_mirrored_currents_mirror_each_other() -> None:
    low, high = MODEL.limit_cycle(0.6), MODEL.limit_cycle(MIRROR - 0.6)
    assert high.period == pytest.approx(low.period, rel=1e-7)
    assert (high.v_min, high.v_max) == pytest.approx((-low.v_max, -low.v_min), abs=1e-7)
    assert high.v_mean == pytest.approx(-low.v_mean, abs=1e-7)


def test_bistability_below_the_lower_hopf_point() -> None:
    current = 0.33
    assert MODEL.classify(current) == "stable focus"
    assert MODEL.limit_cycle(current) is not None, "from rest at (0, 0) the neuron fires"
    v_star, w_star = MODEL.fixed_point(current)
    assert MODEL.limit_cycle(current, state0=(float(v_star) + 0.1, float(w_star))) is None


def test_oscillation_range_brackets_the_switch() -> None:
    on, off = MODEL.oscillation_range(xtol=2e-3)
    low, high = MODEL.hopf_points()
    assert on < low and off > high
    assert MODEL.limit_cycle(on) is not None and MODEL.limit_cycle(on - 2e-3) is None
    assert MODEL.limit_cycle(off) is not None and MODEL.limit_cycle(off + 2e-3) is None


def test_limit_cycle_gives_up_when_time_runs_out() -> None:
    with pytest.raises(RuntimeError, match="t_limit"):
        MODEL.limit_cycle(1.0, t_transient=10.0, t_limit=50.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"I": [1.0, 1.1]}, "I must be a scalar"),
        ({"I": np.nan}, "I must be finite"),
        ({"I": 1.0, "state0": np.zeros((2, 2))}, "state0 must have shape"),
        ({"I": 1.0, "tol": -1.0}, "tol must be positive"),
    ],
)
def test_limit_cycle_rejects_bad_input_by_name(kwargs: dict, message: str) -> None:
    current = kwargs.pop("I")
    with pytest.raises(ValueError, match=message):
        MODEL.limit_cycle(current, **kwargs)
