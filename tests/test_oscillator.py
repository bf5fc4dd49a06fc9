"""fhnrnn.oscillator on maps with known answers: a linear rotation, the Euler map of the Hopf
normal form, and the FHN Euler map against the ODE; bad arguments refused by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from fuzz import bad_arrays, raises_naming
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from fhnrnn.fhn import FHN
from fhnrnn.models import GRUAdapter, PaperRNN
from fhnrnn.oscillator import (
    CycleStatus,
    MapSystem,
    comparison_statistics,
    cycle_exponents,
    fhn_euler_system,
    find_cycles,
    lyapunov_exponents,
    measure_oscillations,
    network_system,
    phase_response,
    prc_distance,
    slow_points,
    trivial_baselines,
    upward_crossings,
)


def rotation_system(rho: float, alpha: float, dt: float = 0.1) -> MapSystem:
    """``x -> rho R(alpha) x`` (its input unused): exponents log(rho) / dt, exactly."""
    matrix = rho * torch.tensor(
        [[math.cos(alpha), -math.sin(alpha)], [math.sin(alpha), math.cos(alpha)]],
        dtype=torch.float64,
    )
    return MapSystem(
        step=lambda x, u: x @ matrix.T + 0.0 * u, voltage=lambda x: x[:, 0], dim=2, dt=dt,
        initial_state=np.array([1.0, 0.0]),
    )


MU, OMEGA, DT = 0.1, 1.0, 0.1


def hopf_system() -> MapSystem:
    """Euler map of ``z' = (MU + i OMEGA) z - |z|^2 z``; the current pushes ``Re z``."""

    def step(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        re, im = x[:, 0], x[:, 1]
        radial = MU - (re**2 + im**2)
        flow = torch.stack([radial * re - OMEGA * im + u[:, 0], OMEGA * re + radial * im], 1)
        return x + DT * flow

    return MapSystem(step, lambda x: x[:, 0], 2, DT, np.array([0.1, 0.0]), "Hopf")


def hopf_closed_form() -> dict[str, float]:
    """Radius, radial multiplier, rotation per step and isochron slope of the Hopf map.

    In polar form the map is ``r -> r |1 + DT (MU - r^2 + i OMEGA)|``, ``theta -> theta +
    atan2(DT OMEGA, 1 + DT (MU - r^2))``; on the cycle the modulus is 1.
    """
    s = math.sqrt(1.0 - (DT * OMEGA) ** 2)
    radius = math.sqrt(MU + (1.0 - s) / DT)
    multiplier = 1.0 - 2.0 * radius**2 * DT * s
    rotation = math.atan2(DT * OMEGA, s)
    twist = 2.0 * radius * DT * (DT * OMEGA)  # d(rotation)/dr on the cycle
    return {
        "radius": radius,
        "multiplier": multiplier,
        "rotation": rotation,
        "isochron_slope": twist / (1.0 - multiplier),  # g'(r*) of psi = theta + g(r)
    }


def test_rotation_exponents_are_log_modulus() -> None:
    for rho in (0.97, 1.0, 1.02):
        spectrum = lyapunov_exponents(rotation_system(rho, 0.3), [1.0, 0.5], 0.0, 50)
        np.testing.assert_allclose(spectrum.exponents, math.log(rho) / 0.1, atol=1e-12)


def test_rotation_cycle_and_rest() -> None:
    alpha = 2 * math.pi / 37.3
    cycle, = find_cycles(rotation_system(1.0, alpha), [0.0], transient=10.0, window=300.0)
    assert cycle.status is CycleStatus.CYCLE
    assert cycle.period_steps == pytest.approx(37.3, rel=1e-4)
    assert cycle.period == pytest.approx(3.73, rel=1e-4)
    assert cycle.amplitude == pytest.approx(2.0, rel=1e-3)
    assert cycle.locked_steps == 373  # the rotation is 10 / 373 of a turn: a 373-step orbit
    irrational, = find_cycles(rotation_system(1.0, 2 * math.pi / (30 + math.sqrt(2))), [0.0],
                              transient=10.0, window=300.0)
    assert irrational.oscillates and irrational.locked_steps == 0
    rest, = find_cycles(rotation_system(0.9, alpha), [0.0], transient=200.0, window=20.0)
    assert rest.status is CycleStatus.REST and np.isnan(rest.period)
    decaying, = find_cycles(rotation_system(0.999, alpha), [0.0], transient=1.0, window=200.0)
    assert decaying.status is CycleStatus.NOT_CONVERGED and "differ" in decaying.message


def test_hopf_cycle_and_exponents_match_closed_form() -> None:
    system, exact = hopf_system(), hopf_closed_form()
    cycle, = find_cycles(system, [0.0], transient=150.0, window=100.0)
    assert cycle.oscillates and cycle.locked_steps == 0
    assert cycle.period_steps == pytest.approx(2 * math.pi / exact["rotation"], rel=1e-4)
    assert cycle.amplitude == pytest.approx(2 * exact["radius"], rel=1e-3)
    spectrum = cycle_exponents(system, cycle, n_periods=10)
    assert spectrum.along_curve
    radial = math.log(abs(exact["multiplier"])) / DT
    assert spectrum.exponents[spectrum.flow_index] == pytest.approx(0.0, abs=2e-3)
    assert spectrum.leading_transverse == pytest.approx(radial, rel=1e-2)
    assert spectrum.change.max() < 5e-3


def test_hopf_phase_response_matches_isochrons() -> None:
    """A kick dx moves the asymptotic phase by dx (-sin(theta) / r + g' cos(theta)), theta the
    angle of the state the kick lands on: proportional to sin(theta) up to the isochrons'
    tilt g' r = DT OMEGA / s."""
    system, exact = hopf_system(), hopf_closed_form()
    cycle, = find_cycles(system, [0.0], transient=150.0, window=100.0)
    kick = 0.002
    prc = phase_response(system, cycle, n_phases=16, pulse=kick / DT, settle_periods=8)
    landed = system.advance(prc.pulse_states, np.zeros(len(prc.pulse_states)))
    theta = np.arctan2(landed[:, 1], landed[:, 0])
    expected = kick * (-np.sin(theta) / exact["radius"] + exact["isochron_slope"] * np.cos(theta))
    np.testing.assert_allclose(prc.shift, expected / (2 * math.pi), atol=0.03 * expected.max())
    assert prc.kind() == "type II"


def _ode_transverse_exponent(model: FHN, current: float) -> tuple[float, float]:
    """Period and Floquet exponent of the ODE's cycle: the mean of tr Df = 1 - v^2 - b / tau
    over one period (Liouville)."""
    cycle = model.limit_cycle(current)
    rhs = model._ode(current)
    solution = solve_ivp(
        lambda t, y: [*rhs(t, y[:2]), 1.0 - y[0] ** 2 - model.b / model.tau],
        (0.0, cycle.period), [*cycle.start, 0.0], rtol=1e-10, atol=1e-12,
    )
    return cycle.period, solution.y[2, -1] / cycle.period


def test_fhn_euler_map_at_fine_steps_converges_to_the_ode() -> None:
    """Period and transverse exponent of the Euler map at steps 0.04 and 0.02, extrapolated
    to step 0 (Richardson, first order), against the ODE's."""
    model, current = FHN(), 0.6
    period, transverse = _ode_transverse_exponent(model, current)
    measured = {}
    for dt in (0.04, 0.02):
        system = fhn_euler_system(model, dt=dt)
        cycle, = find_cycles(system, [current], transient=40.0, window=240.0, min_spikes=2)
        spectrum = cycle_exponents(system, cycle, n_periods=2, warmup_periods=1)
        measured[dt] = (cycle.period, spectrum.leading_transverse)
    assert measured[0.02][0] == pytest.approx(period, rel=1e-3)
    fine, coarse = np.array(measured[0.02]), np.array(measured[0.04])
    extrapolated = 2 * fine - coarse
    assert extrapolated[0] == pytest.approx(period, rel=1e-4)
    assert extrapolated[1] == pytest.approx(transverse, rel=5e-3)


def test_fhn_euler_exponents_sum_to_mean_log_determinant() -> None:
    system, current = fhn_euler_system(), 0.8
    cycle, = find_cycles(system, [current])
    spectrum = cycle_exponents(system, cycle, n_periods=5, warmup_periods=0.0)
    states = [cycle.orbit[0]]
    for _ in range(spectrum.n_steps - 1):
        states.append(system.advance(states[-1][None], np.array([current]))[0])
    v = np.array(states)[:, 0]
    jacobians = np.eye(2) + 0.3 * np.stack(
        [np.stack([1 - v**2, -np.ones_like(v)], -1),
         np.broadcast_to([1 / 12.5, -0.8 / 12.5], (v.size, 2))], 1)
    mean_log_det = np.log(np.abs(np.linalg.det(jacobians))).mean() / 0.3
    assert spectrum.exponents.sum() == pytest.approx(mean_log_det, rel=1e-10)
    assert spectrum.leading_transverse < -1.0


def test_fhn_phase_response_is_type_ii_and_distance_zero_to_itself() -> None:
    system = fhn_euler_system()
    cycle, = find_cycles(system, [0.6])
    prc = phase_response(system, cycle, pulse=0.5, n_phases=12)
    assert prc.kind() == "type II"
    assert prc.spread.max() < 1e-3
    assert prc_distance(prc, prc) == 0.0


def test_slow_points_of_the_fhn_map_end_at_its_fixed_point() -> None:
    system, current = fhn_euler_system(), 0.5
    cycle, = find_cycles(system, [current])
    points = slow_points(system, cycle, n_starts=4, iterations=2000)
    v_star, w_star = FHN().fixed_point(current)
    np.testing.assert_allclose(points.states, [[v_star, w_star]] * len(points.states), atol=1e-3)
    assert points.speed.max() < 1e-3 * points.cycle_speed


@pytest.mark.parametrize("cell", ["paper", "gru"])
def test_network_jacobian_products_match_forward_mode(cell: str) -> None:
    model = (PaperRNN(1, 1, hidden_size=6, n_layers=3, seed=0) if cell == "paper"
             else GRUAdapter.create(1, 1, 5, seed=0))
    system = network_system(model)
    assert (system.tangent is not None) == (cell == "paper")  # closed form for a ReLU stack
    rng = np.random.default_rng(0)
    x, q = rng.normal(size=system.dim), rng.normal(size=(system.dim, 3))
    states = torch.from_numpy(np.repeat(x[None], 3, axis=0))
    inputs = torch.full((3, 1), 0.7, dtype=torch.float64)
    _, forward = torch.func.jvp(lambda s: system.step(s, inputs), (states,),
                                (torch.from_numpy(q.T.copy()),))
    np.testing.assert_allclose(system.jacobian_product(x, 0.7, q), forward.numpy().T,
                               rtol=1e-12, atol=1e-14)


def test_comparison_statistics_of_a_map_with_itself() -> None:
    measured = measure_oscillations(fhn_euler_system(), [0.2, 0.7], n_phases=8)
    assert measured[0].spectrum is None and measured[1].prc is not None
    stats = comparison_statistics(measured, measured)
    assert stats["cycle_fraction"] == 1.0 and stats["n_compared"] == 1.0
    assert stats["period_error"] == stats["exponent_error"] == stats["prc_distance"] == 0.0
    shifted = measure_oscillations(fhn_euler_system(FHN(tau=10.0)), [0.2, 0.7], n_phases=8)
    assert comparison_statistics(shifted, measured)["period_error"] > 0.01


def test_trivial_baselines_score_a_fixed_period_a_neutral_cycle_and_a_flat_curve() -> None:
    measured = measure_oscillations(fhn_euler_system(), [0.2, 0.5, 1.1], n_phases=8)
    cycling = measured[1:]  # I = 0.2 rests
    baselines = trivial_baselines(measured)
    periods = np.array([entry.cycle.period for entry in cycling])
    assert baselines["period_error"] == pytest.approx(np.mean(np.abs(periods.mean() / periods
                                                                     - 1)))
    assert baselines["period_error"] > 0.0
    assert baselines["exponent_error"] == pytest.approx(
        np.mean([abs(entry.spectrum.leading_transverse) for entry in cycling]))
    assert baselines["exponent_error"] > 0.0  # the FHN cycle attracts
    # a flat curve is as far from each curve as the curve's RMS over phase (interpolated)
    grid = np.arange(200) / 200
    assert baselines["prc_distance"] == pytest.approx(np.mean([
        np.sqrt(np.mean(np.interp(grid, entry.prc.phase, entry.prc.shift, period=1.0) ** 2))
        for entry in cycling]))
    with pytest.raises(ValueError, match="reference must be a non-empty list"):
        trivial_baselines([])


@given(
    rho=st.floats(0.5, 1.5), alpha=st.floats(0.05, 3.0), x=st.floats(0.1, 2.0),
    n_steps=st.integers(2, 40),
)
def test_rotation_exponents_property(rho: float, alpha: float, x: float, n_steps: int) -> None:
    spectrum = lyapunov_exponents(rotation_system(rho, alpha), [x, -x], 0.0, n_steps)
    np.testing.assert_allclose(spectrum.exponents, math.log(rho) / 0.1, atol=1e-9)


@given(values=st.lists(st.floats(-2.0, 2.0), min_size=2, max_size=30), level=st.floats(-1, 1))
def test_upward_crossings_lie_between_their_steps(values: list[float], level: float) -> None:
    v = np.array(values)
    times = upward_crossings(v, level)
    before = np.ceil(times).astype(int) - 1  # a crossing at t lies in (before, before + 1]
    expected = np.flatnonzero((v[:-1] < level) & (v[1:] >= level))
    np.testing.assert_array_equal(before, expected)
    interpolated = v[before] + (times - before) * (v[before + 1] - v[before])
    np.testing.assert_allclose(interpolated, level, atol=1e-9)


@given(bad=bad_arrays((3,), wrong_last=False))
def test_bad_currents_are_refused_by_name(bad: object) -> None:
    raises_naming("currents", lambda: find_cycles(fhn_euler_system(), bad))


def test_bad_arguments_are_refused_by_name() -> None:
    system = fhn_euler_system()
    cycle, = find_cycles(system, [0.6])
    rest, = find_cycles(system, [1.6])
    raises_naming("window", lambda: find_cycles(system, [0.5], window=0.0))
    raises_naming("rtol", lambda: find_cycles(system, [0.5], rtol=-1.0))
    raises_naming("system", lambda: find_cycles("fhn", [0.5]))
    raises_naming("dim", lambda: MapSystem(lambda x, u: x, lambda x: x[:, 0], 0, 0.3, []))
    raises_naming("initial_state", lambda: MapSystem(lambda x, u: x, lambda x: x[:, 0], 2, 0.3,
                                                     [0.0]))
    raises_naming("dt", lambda: fhn_euler_system(dt=-0.3))
    raises_naming("start", lambda: lyapunov_exponents(system, [0.0, 0.0, 0.0], 0.5, 10))
    raises_naming("n_exponents", lambda: lyapunov_exponents(system, [0.0, 0.0], 0.5, 10,
                                                            n_exponents=3))
    raises_naming("n_steps", lambda: lyapunov_exponents(system, [0.0, 0.0], 0.5, 1))
    raises_naming("cycle", lambda: cycle_exponents(system, rest))
    raises_naming("cycle", lambda: phase_response(system, rest))
    raises_naming("pulse", lambda: phase_response(system, cycle, pulse=0.0))
    raises_naming("n_phases", lambda: phase_response(system, cycle, n_phases=0))
    raises_naming("network", lambda: comparison_statistics([], []))


def test_phase_response_explorer_draws_each_pulse() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from fhnrnn.oscillator.explore import draw_phase_response, explore_phase_response

    explorer = explore_phase_response({"FHN": fhn_euler_system()}, 1.0, (-0.5, 0.5), n_phases=6)
    assert [label for label, _ in explorer.options] == ["-0.50", "+0.50"]
    curves = explorer.options[1][1]
    assert curves["FHN"].pulse == 0.5 and curves["FHN"].kind() == "type II"
    fig = Figure()
    draw_phase_response(fig, curves)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2  # the curve and the zero line
    raises_naming("systems", lambda: explore_phase_response({}, 1.0, (0.5,)))
