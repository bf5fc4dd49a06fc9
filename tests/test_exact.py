"""The exact route for piecewise-affine cells, against brute-force enumeration of every pattern."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from fhnrnn.fixedpoints import (
    EventKind,
    ReLUStack,
    certify,
    find_fixed_points_exact,
    trace_fixed_points,
)
from fhnrnn.fixedpoints._pivot import ParameterisedStack, Pivot
from fhnrnn.fixedpoints.exact import End, region_multipliers
from fhnrnn.models import PaperRNN, TanhRNN


def random_stack(seed: int, d: int, widths: list[int], gain: float = 2.0) -> ReLUStack:
    """A small random ReLU stack with a generic state map (folds are common at gain 2)."""
    rng = np.random.default_rng(seed)
    weights, biases, previous = [], [], d
    for width in widths:
        weights.append(rng.normal(0.0, gain / np.sqrt(previous), (width, previous)))
        biases.append(rng.normal(0.0, 0.5, width))
        previous = width
    return ReLUStack(
        state_in=rng.normal(0.0, 1.0, (d, d)),
        input_in=rng.normal(0.0, 1.0, (d, 1)),
        bias_in=rng.normal(0.0, 0.3, d),
        weights=tuple(weights),
        biases=tuple(biases),
        state_out=rng.normal(0.0, 1.0 / np.sqrt(previous), (d, previous)),
        input_out=rng.normal(0.0, 0.1, (d, 1)),
        bias_out=np.zeros(d),
    )


def brute_force(stack: ReLUStack, u: float) -> list[np.ndarray]:
    """Every fixed point at u: the affine solve of every pattern, kept where it is consistent."""
    points: list[np.ndarray] = []
    for bits in itertools.product([False, True], repeat=sum(stack.widths)):
        a, b, c = stack.affine_piece(np.array(bits))
        try:
            x = np.linalg.solve(np.eye(stack.state_size) - a, b @ [u] + c)
        except np.linalg.LinAlgError:
            continue
        residual = np.abs(stack.step(x[None], np.array([[u]]))[0] - x).max()
        if residual < 1e-9 and not any(np.abs(x - p).max() < 1e-7 for p in points):
            points.append(x)
    return points


def some_point(stack: ReLUStack) -> tuple[np.ndarray, float]:
    """A fixed point (by enumeration) at the first of nine inputs in [-1, 1] that has one."""
    for u in np.linspace(-1.0, 1.0, 9):
        if points := brute_force(stack, u):
            return points[0], float(u)
    raise AssertionError("no fixed point in [-1, 1]")


# (seed, d, widths): 1-3 layers, several sizes; cases 3, 6, 8 and 11 have folds in [-1, 1].
CASES = [(3, 3, [3]), (6, 3, [3, 3, 3]), (8, 2, [4, 4, 3]), (11, 3, [4]), (4, 4, [3, 4, 3]),
         (9, 3, [3, 4]), (21, 2, [5, 5]), (22, 3, [4, 4])]


@pytest.mark.parametrize(("seed", "d", "widths"), CASES)
def test_the_search_finds_every_fixed_point_that_enumeration_finds_and_no_other(
    seed: int, d: int, widths: list[int]
) -> None:
    stack = random_stack(seed, d, widths)
    currents = np.linspace(-1.0, 1.0, 5)
    rng = np.random.default_rng(seed)
    starts = rng.normal(0.0, 1.0, (len(currents) * 8, d))
    found = find_fixed_points_exact(
        stack, currents, starts, np.repeat(np.arange(len(currents)), 8), patience=None
    )
    empty = []
    for u in currents:
        truth = brute_force(stack, u)
        got = found.points.xstar[found.points.u[:, 0] == u]
        assert len(got) == len(truth), f"u = {u}"
        for x in truth:
            assert np.abs(got - x).max(axis=1).min() < 1e-9
        empty += [] if truth else [u]
    assert found.points.q.max() < 1e-24
    assert list(found.reasons) == empty


def test_every_point_carries_the_eigenpairs_of_its_own_jacobian_sorted_by_modulus() -> None:
    # Small current steps keep several points in one region, whose decomposition is shared.
    stack = random_stack(3, 3, [3])
    currents = np.linspace(-1.0, 1.0, 21)
    starts = np.random.default_rng(0).normal(0.0, 1.0, (len(currents) * 4, 3))
    found = find_fixed_points_exact(
        stack, currents, starts, np.repeat(np.arange(len(currents)), 4), patience=None
    )
    points = found.points
    assert len({tuple(pattern) for pattern in found.patterns}) < len(points)
    for jacobian, values, vectors in zip(points.jacobian, points.eigenvalues,
                                         points.eigenvectors, strict=True):
        np.testing.assert_allclose(jacobian @ vectors, vectors * values, atol=1e-10)
        assert np.all(np.diff(np.abs(values)) <= 1e-12)


def test_folds_sit_where_the_number_of_fixed_points_changes_by_two() -> None:
    stack = random_stack(8, 2, [4, 4, 3])
    start = brute_force(stack, 0.0)[0]
    curve = trace_fixed_points(stack, start, 0.0, (-1.0, 1.0))
    assert curve.ends == (End.PARAMETER, End.PARAMETER)
    assert len(curve.folds) >= 1
    for fold in curve.folds:
        counts = [len(curve.points_at(fold.u + side)[0]) for side in (-1e-6, 1e-6)]
        assert abs(counts[0] - counts[1]) == 2
        assert fold.kind is EventKind.FOLD


def test_the_curve_is_exact_and_its_multipliers_are_those_of_the_affine_piece() -> None:
    stack = random_stack(6, 3, [3, 3, 3])
    curve = trace_fixed_points(stack, *some_point(stack), (-1.0, 1.0))
    inputs = curve.u[:, None]
    assert np.abs(stack.step(curve.x, inputs) - curve.x).max() < 1e-12
    for index in range(curve.n_segments):
        middle = 0.5 * (curve.x[index] + curve.x[index + 1])
        u = 0.5 * (curve.u[index] + curve.u[index + 1])
        pattern = certify(stack, middle, u).pattern
        np.testing.assert_array_equal(pattern, curve.patterns[index])
        a, _, _ = stack.affine_piece(pattern)
        moduli = np.sort(np.abs(np.linalg.eigvals(a)))[::-1]
        np.testing.assert_allclose(np.abs(region_multipliers(stack, pattern)), moduli, atol=1e-12)
        assert curve.n_unstable[index] == (moduli > 1).sum()


def test_a_border_collision_reports_the_unstable_counts_on_either_side() -> None:
    collisions = []
    for seed, d, widths in CASES:
        stack = random_stack(seed, d, widths)
        curve = trace_fixed_points(stack, *some_point(stack), (-1.0, 1.0))
        collisions.extend((curve, event) for event in curve.border_collisions)
    assert collisions
    for curve, event in collisions:
        before, after = event.n_unstable
        assert before != after
        assert curve.n_unstable[event.vertex - 1] == before
        assert (np.abs(event.multipliers[0]) > 1).sum() == min(before, len(event.multipliers[0]))


def test_a_map_without_fixed_points_past_zero_stops_and_says_why() -> None:
    # F(x, u) = relu(x) + u: x* = u for u < 0, every x >= 0 at u = 0 (a vertical segment, up
    # to the box), none for u > 0.
    stack = ReLUStack(
        state_in=[[1.0]], input_in=[[0.0]], bias_in=[0.0], weights=([[1.0]],), biases=([0.0],),
        state_out=[[1.0]], input_out=[[1.0]], bias_out=[0.0],
    )
    curve = trace_fixed_points(stack, [-0.5], -0.5, (-1.0, 1.0))
    assert curve.ends == (End.PARAMETER, End.BOX)
    assert curve.u.max() == pytest.approx(0.0, abs=1e-12)
    assert curve.u[-1] == pytest.approx(0.0, abs=1e-12) and curve.x[-1, 0] > 100
    found = find_fixed_points_exact(stack, [-0.5, 0.5], [[-0.3], [0.7]], [0, 1])
    assert len(found.points) == 1
    assert list(found.reasons) == [0.5]
    assert "component" in found.reasons[0.5]


def test_patience_stops_the_search_once_every_input_has_a_point_and_no_new_component_comes(
) -> None:
    # F(x, u) = x / 2 + u (x = relu(x) - relu(-x)): one component, x* = 2u, at every input.
    stack = ReLUStack(
        state_in=[[1.0], [-1.0]], input_in=[[0.0], [0.0]], bias_in=np.zeros(2),
        weights=(np.eye(2),), biases=(np.zeros(2),), state_out=[[0.5, -0.5]],
        input_out=[[1.0]], bias_out=[0.0],
    )
    inputs = np.linspace(-1.0, 1.0, 5)
    starts = np.random.default_rng(0).normal(0.0, 3.0, (15, 1))
    index = np.repeat(np.arange(5), 3)
    patient = find_fixed_points_exact(stack, inputs, starts, index, patience=2)
    every = find_fixed_points_exact(stack, inputs, starts, index, patience=None)
    # the first homotopy finds the component, which covers every input; two more find nothing
    assert patient.homotopy_ends == ("fixed point",) * 3
    assert list(patient.homotopy_starts) == [0, 3, 6]  # round-robin: each input's first start
    assert len(every.homotopy_ends) == 15
    np.testing.assert_allclose(patient.points.xstar[:, 0], 2.0 * inputs, atol=1e-12)
    np.testing.assert_allclose(every.points.xstar, patient.points.xstar)


def test_a_start_near_one_whose_homotopy_failed_is_deferred_but_still_run() -> None:
    # F(x, u) = relu(x) + u has no fixed point at u > 0: every homotopy fails, none is skipped.
    stack = ReLUStack(
        state_in=[[1.0]], input_in=[[0.0]], bias_in=[0.0], weights=([[1.0]],), biases=([0.0],),
        state_out=[[1.0]], input_out=[[1.0]], bias_out=[0.0],
    )
    starts = [[0.7], [0.7 + 1e-3], [5.0], [-3.0]]  # the second lies near the first
    found = find_fixed_points_exact(stack, [0.5, 0.6], starts, [0, 1, 0, 1], patience=1)
    assert list(found.homotopy_starts) == [0, 2, 3, 1]
    assert "fixed point" not in found.homotopy_ends
    assert list(found.reasons) == [0.5, 0.6]


def test_a_closed_loop_is_followed_round_once_through_its_tied_corners() -> None:
    # F(x, u) = x - (|x| + |u| - 1) / 2: the fixed points form the diamond |x| + |u| = 1.
    # |x| and |u| take two ReLUs each, which switch together at x = 0 (or u = 0): ties.
    stack = ReLUStack(
        state_in=[[1.0], [-1.0], [0.0], [0.0]], input_in=[[0.0], [0.0], [1.0], [-1.0]],
        bias_in=np.zeros(4), weights=(np.eye(4),), biases=(np.zeros(4),),
        state_out=[[0.5, -1.5, -0.5, -0.5]], input_out=[[0.0]], bias_out=[0.5],
    )
    curve = trace_fixed_points(stack, [0.5], 0.5, (-2.0, 2.0))
    assert curve.ends == (End.LOOP, End.LOOP)
    assert curve.n_ties == 4
    np.testing.assert_allclose(np.abs(curve.x[:, 0]) + np.abs(curve.u), 1.0, atol=1e-12)
    assert len(curve.folds) == 2  # at u = -1 and u = 1
    assert sorted(round(fold.u, 9) for fold in curve.folds) == [-1.0, 1.0]


def test_paper_rnn_declares_a_stack_that_computes_its_step() -> None:
    cell = PaperRNN(1, 1, hidden_size=8, n_layers=3, seed=2).double()
    stack = cell.relu_stack()
    x = np.random.default_rng(0).normal(size=(5, 8))
    u = np.random.default_rng(1).normal(size=(5, 1))
    with torch.no_grad():
        expected = cell.step(torch.from_numpy(x), torch.from_numpy(u)).numpy()
    np.testing.assert_allclose(stack.step(x, u), expected, atol=1e-12)


@pytest.mark.parametrize(("d", "widths"), [(3, [5]), (4, [6, 3, 5])])
def test_the_jacobian_product_is_the_affine_piece_of_the_region(d: int, widths: list[int]) -> None:
    stack = random_stack(7, d, widths)
    rng = np.random.default_rng(1)
    for _ in range(5):
        x, u, q = rng.normal(size=d), rng.normal(size=1), rng.normal(size=(d, 2))
        a, _, _ = stack.affine_piece(stack.pattern(x, u))
        np.testing.assert_allclose(stack.jacobian_product(x, u, q), a @ q, rtol=1e-12,
                                   atol=1e-12)


def test_a_homotopy_that_starts_in_a_region_of_fixed_points_ends_there_with_its_reason() -> None:
    """F(x) = relu(x + 5) - 5 is the identity for x > -5: every state there is fixed, so the
    homotopy from x0 = 0 has no curve to follow (found in the ensemble, paper-...-gap-s5)."""
    stack = ReLUStack(state_in=np.eye(1), input_in=np.zeros((1, 1)), bias_in=np.zeros(1),
                      weights=(np.eye(1),), biases=(np.array([5.0]),), state_out=np.eye(1),
                      input_out=np.zeros((1, 1)), bias_out=np.array([-5.0]))
    system = ParameterisedStack.homotopy(stack, np.zeros(1), np.zeros(1))
    trace = Pivot(system, np.zeros(2), 1.0).run(0.0, 1.0, 1e3, 100)
    assert trace.end is End.SINGULAR and len(trace.vertices) == 1


def test_a_smooth_cell_or_several_inputs_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="piecewise affine"):
        trace_fixed_points(TanhRNN(1, 1, hidden_size=4), np.zeros(4), 0.0, (0.0, 1.0))
    with pytest.raises(ValueError, match="one scalar input"):
        trace_fixed_points(PaperRNN(2, 1, hidden_size=4, n_layers=1), np.zeros(4), 0.0, (0, 1))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"x0": "abc"}, "x0"),
        ({"x0": [np.nan, 0.0, 0.0]}, "x0 must be finite"),
        ({"x0": [0.0, 0.0]}, "x0"),
        ({"u0": 5.0}, "u0"),
        ({"u0": True}, "u0"),
        ({"u_range": (1.0, 0.0)}, "u_range"),
        ({"u_range": "ab"}, "u_range"),
        ({"max_segments": 0}, "max_segments"),
    ],
)
def test_bad_arguments_of_the_trace_name_themselves(arguments: dict, message: str) -> None:
    stack = random_stack(3, 3, [3])
    x0, u0 = some_point(stack)
    call = {"x0": x0, "u0": u0, "u_range": (-1.0, 1.0), **arguments}
    with pytest.raises(ValueError, match=message):
        trace_fixed_points(stack, call.pop("x0"), call.pop("u0"), call.pop("u_range"), **call)


@pytest.mark.parametrize(
    ("inputs", "starts", "index", "message"),
    [
        ([0.0, -1.0], [[0.0] * 3], [0], "increasing"),
        ([[0.0, 1.0]], [[0.0] * 3], [0], "inputs"),
        ([0.0], [[0.0] * 2], [0], "starts"),
        ([0.0], [[np.inf] * 3], [0], "starts must be finite"),
        ([0.0], [[0.0] * 3], [1], "start_index"),
        ([0.0], [[0.0] * 3], [0.5], "start_index"),
    ],
)
def test_bad_arguments_of_the_search_name_themselves(
    inputs: list, starts: list, index: list, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        find_fixed_points_exact(random_stack(3, 3, [3]), inputs, starts, index)


def test_the_affine_piece_of_a_pattern_reproduces_the_step_even_past_a_silent_layer() -> None:
    stack = random_stack(6, 3, [3, 3, 3])
    rng = np.random.default_rng(6)
    for x, u in zip(rng.normal(0.0, 2.0, (20, 3)), rng.normal(0.0, 1.0, (20, 1)), strict=True):
        a, b, c = stack.affine_piece(stack.pattern(x, u))
        np.testing.assert_allclose(a @ x + b @ u + c, stack.step(x[None], u[None])[0],
                                   rtol=1e-12, atol=1e-12)
    silent = np.array([True, False, True, False, False, False, True, True, False])
    a, b, c = stack.affine_piece(silent)  # layer 2 all off: the state cannot reach the output
    assert not a.any()
    np.testing.assert_array_equal(b, stack.input_out)
    maps = stack.preactivation_maps(silent)
    assert not maps[2][:, :-1].any()  # layer 3's pre-activations: its biases alone
    np.testing.assert_array_equal(maps[2][:, -1], stack.biases[2])


def test_a_certificate_flags_a_point_on_a_facet() -> None:
    stack = ReLUStack(
        state_in=[[1.0]], input_in=[[0.0]], bias_in=[0.0], weights=([[1.0]],), biases=([0.0],),
        state_out=[[0.5]], input_out=[[1.0]], bias_out=[0.0],
    )
    # F = relu(x)/2 + u: at u = 0 the fixed point x = 0 lies on the facet z = x = 0.
    assert certify(stack, [0.0], 0.0).on_facet
    inside = certify(stack, [1.0], 0.5)
    assert inside.valid and not inside.on_facet and inside.x[0] == pytest.approx(1.0)


def test_the_exact_curve_passes_every_point_of_the_shipped_smooth_branches() -> None:
    from fhnrnn.analysis import translate
    from fhnrnn.recipes import fhn_rnn_branches, fhn_rnn_curves, train_fhn_rnn

    run = train_fhn_rnn(progress=False)
    curves = fhn_rnn_curves(run)
    # the main component folds twice; the others (from the shipped exact set's extra points at
    # the lowest currents) each fold at least once
    assert len(curves[0].curve.folds) == 2 and all(c.curve.folds for c in curves[1:])
    for branch in fhn_rnn_branches(run):
        found = [[c.curve.points_at(u)[0] for c in curves] for u in branch.u]
        states = np.concatenate([state for at_u in found for state in at_u])
        owner = np.repeat(np.arange(len(branch.u)), [sum(map(len, at_u)) for at_u in found])
        gaps = np.abs(translate(run.model, states)[:, 0] - branch.vstar[owner])
        closest = np.full(len(branch.u), np.inf)
        np.minimum.at(closest, owner, gaps)
        assert closest.max() < 1e-9
