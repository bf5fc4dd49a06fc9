"""Pseudo-arclength continuation against maps whose branches and bifurcations are known.

- ``x -> x + h (u + x - x^3)``: fixed points ``u = x^3 - x``, folds at ``x = -+1/sqrt(3)``,
  ``u = +-2 / (3 sqrt(3))``, multiplier ``1 + h (1 - 3 x^2)``;
- the logistic map ``x -> r x (1 - x)``: ``x* = 1 - 1/r``, multiplier ``2 - r``, flip at r = 3;
- the delayed logistic map ``(x, y) -> (r x (1 - y), x)``: ``x* = y* = 1 - 1/r``, multipliers
  the roots of ``l^2 - l + (r - 1)``, of modulus ``sqrt(r - 1)``: a Neimark-Sacker point at
  r = 2 with multipliers ``exp(+-i pi / 3)``;
- ``x -> tanh(u x)``: the branch x = 0 and, for u > 1, the pair ``x = tanh(u x) != 0``: a
  pitchfork at u = 1;
- ``y -> y + h (u y - y^2 / s)``: the branches y = 0 and y = s u cross at u = 0 (transcritical).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fhnrnn.fhn import FHN
from fhnrnn.fixedpoints import continue_branch

pytestmark = pytest.mark.usefixtures("single_thread")

H = 0.1
FOLD_U = 2.0 / (3.0 * np.sqrt(3.0))
LOCATED = 1e-6  # the location target in u


def cubic(x, u):
    return x + H * (u + x - x**3)


def logistic(x, r):
    return r * x * (1 - x)


def delayed_logistic(z, r):
    x, y = z[:, :1], z[:, 1:]
    return torch.cat([r * x * (1 - y), x], dim=1)


@pytest.fixture(scope="module")
def s_curve():
    return continue_branch(cubic, [-1.3], -1.0, 1.0)


def test_fold_pair_is_passed_and_located(s_curve):
    folds = s_curve.of_kind("fold")
    assert [event.kind for event in s_curve.bifurcations] == ["fold", "fold"]
    np.testing.assert_allclose([event.u for event in folds], [FOLD_U, -FOLD_U], atol=LOCATED)
    np.testing.assert_allclose(
        [event.x[0] for event in folds], [-1 / np.sqrt(3), 1 / np.sqrt(3)], atol=1e-4
    )
    for event in folds:
        assert abs(event.critical - 1.0) < 1e-6


def test_long_steps_do_not_jump_from_one_sheet_of_the_s_curve_to_another():
    """With steps of 0.6 the corrector converges onto the far sheet from some predictions;
    those corrections are refused, so the branch still passes both folds."""
    branch = continue_branch(cubic, [[1.3]], 0.8, -0.8, step_size=0.6, max_step_size=0.6)
    folds = branch.of_kind("fold")
    np.testing.assert_allclose([event.u for event in folds], [-FOLD_U, FOLD_U], atol=LOCATED)
    x = branch.xstar[:, 0]
    np.testing.assert_allclose(branch.u, x**3 - x, atol=1e-10)
    steps = np.linalg.norm(np.diff(np.column_stack([x, branch.u]), axis=0), axis=1)
    assert steps.max() <= 2 * 0.6 + 0.6  # no correction ended more than two steps away


def test_the_branch_lies_on_the_s_curve_and_ends_on_the_far_side(s_curve):
    x = s_curve.xstar[:, 0]
    np.testing.assert_allclose(s_curve.u, x**3 - x, atol=1e-10)
    np.testing.assert_allclose(s_curve.eigenvalues[:, 0].real, 1 + H * (1 - 3 * x**2), atol=1e-10)
    assert s_curve.u[-1] == pytest.approx(1.0, abs=1e-12) and x[-1] > 1.0
    middle = (x > -1 / np.sqrt(3)) & (x < 1 / np.sqrt(3))
    np.testing.assert_array_equal(s_curve.n_unstable, middle.astype(int))
    assert "left the interval" in s_curve.stop_reason


def test_logistic_flip_at_three():
    branch = continue_branch(logistic, [0.6], 2.5, 3.5)
    (flip,) = branch.bifurcations
    assert flip.kind == "flip"
    assert flip.u == pytest.approx(3.0, abs=LOCATED)
    assert flip.x[0] == pytest.approx(2.0 / 3.0, abs=1e-6)
    np.testing.assert_allclose(branch.xstar[:, 0], 1 - 1 / branch.u, atol=1e-12)
    np.testing.assert_allclose(branch.eigenvalues[:, 0].real, 2 - branch.u, atol=1e-10)


def test_neimark_sacker_of_the_delayed_logistic_map():
    branch = continue_branch(delayed_logistic, [0.4, 0.4], 1.5, 2.5)
    (point,) = branch.bifurcations
    assert point.kind == "neimark-sacker"
    assert point.u == pytest.approx(2.0, abs=LOCATED)
    np.testing.assert_allclose(point.x, [0.5, 0.5], atol=1e-6)
    assert point.critical == pytest.approx(np.exp(1j * np.pi / 3), abs=1e-6)
    np.testing.assert_allclose(np.abs(branch.eigenvalues[:, 0]), np.sqrt(branch.u - 1), atol=1e-10)


def test_continuation_runs_towards_smaller_inputs():
    branch = continue_branch(logistic, [0.7], 3.5, 2.5)
    assert np.all(np.diff(branch.u) < 0)
    (flip,) = branch.bifurcations
    assert flip.kind == "flip" and flip.u == pytest.approx(3.0, abs=LOCATED)


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"u_stop": -1.0}, "u_stop must differ"),
        ({"u_stop": np.nan}, "u_stop"),
        ({"step_size": 1.0}, "step sizes"),
        ({"max_steps": 0}, "max_steps"),
        ({"tol_location": -1.0}, "tol_location"),
        ({"x0": [5e3]}, "no fixed point"),
    ],
)
def test_bad_arguments_name_what_is_wrong(arguments, match):
    call = {"x0": [-1.3], "u_start": -1.0, "u_stop": 1.0, **arguments}
    with pytest.raises(ValueError, match=match):
        continue_branch(cubic, call.pop("x0"), call.pop("u_start"), call.pop("u_stop"), **call)


def test_euler_fhn_map_has_neimark_sacker_points_where_its_closed_form_says():
    fhn, dt = FHN(), 0.1

    def euler(state, current):
        v, w = state[:, :1], state[:, 1:]
        rate = torch.cat([v - v**3 / 3 - w + current, (v + fhn.a - fhn.b * w) / fhn.tau], dim=1)
        return state + dt * rate

    branch = continue_branch(euler, np.array(fhn.fixed_point(0.0)), 0.0, 1.75)
    kinds = [event.kind for event in branch.bifurcations]
    assert kinds == ["neimark-sacker", "neimark-sacker"]
    located = [event.u for event in branch.bifurcations]
    np.testing.assert_allclose(located, fhn.euler_hopf_points(dt), atol=LOCATED)
    np.testing.assert_allclose(branch.xstar[:, 0], fhn.fixed_point(branch.u)[0], atol=1e-10)


def test_a_piecewise_linear_fold_is_turned():
    def vee(x, u):  # fixed points u = |x| - 1: a kink at x = 0 where the branch turns
        return x + H * (u + 1 - torch.abs(x))

    branch = continue_branch(vee, [-1.5], 0.5, -2.0)
    (fold,) = branch.bifurcations
    assert fold.kind == "fold" and fold.u == pytest.approx(-1.0, abs=LOCATED)
    assert branch.xstar[-1, 0] == pytest.approx(1.5, abs=1e-10)
    assert branch.u[-1] == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(branch.u, np.abs(branch.xstar[:, 0]) - 1, atol=1e-10)


@pytest.mark.parametrize("slope", [1.0, 2.0])
def test_a_piecewise_linear_fold_is_passed_and_located_at_its_corner(slope):
    """x -> x + (u - relu(x) - slope relu(-x)) / 2 has the fixed points x = u (x > 0) and
    x = -u / slope (x < 0), for u >= 0 only: two straight pieces meeting at a right angle or
    more at the corner (0, 0), a fold of the branch in u."""

    def corner(x, u):
        return x + 0.5 * (u - torch.relu(x) - slope * torch.relu(-x))

    branch = continue_branch(corner, [[1.0]], 1.0, -1.0, step_size=0.05, max_step_size=0.1)
    folds = branch.of_kind("fold")
    assert len(folds) == 1 and len(branch.bifurcations) == 1
    assert folds[0].u == pytest.approx(0.0, abs=1e-12)
    assert abs(folds[0].x[0]) < 1e-12
    assert branch.u.min() >= -1e-12 and branch.u[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(branch.xstar[-1], [-1.0 / slope], atol=1e-12)


def scaled_cubic(scale, h):
    """The cubic written for a state ``scale`` times larger: the same folds in u."""

    def step(y, u):
        return y + h * (scale * u + y - y**3 / scale**2)

    return step


@pytest.mark.parametrize(
    ("scale", "h", "steps"),
    [
        *[(scale, 0.1, {}) for scale in (1e-3, 0.1, 1e3)],
        *[(scale, 0.05, {"step_size": 0.6, "max_step_size": 0.6}) for scale in (1e-3, 0.1, 1e3)],
        # lengths in (x, u) itself: the fold is a sharp turn at a small scale
        *[(scale, h, {"state_scale": 1.0}) for scale in (1e-3, 0.1) for h in (0.1, 0.05)],
    ],
)
def test_folds_are_located_at_every_state_scale_and_step_size(scale, h, steps):
    """Before: at scale 0.1 folds at 0.3607 and -0.2666; at 1000 none within max_steps."""
    branch = continue_branch(scaled_cubic(scale, h), [-1.3 * scale], -1.0, 1.0, **steps)
    assert [event.kind for event in branch.bifurcations] == ["fold", "fold"]
    np.testing.assert_allclose([e.u for e in branch.bifurcations], [FOLD_U, -FOLD_U], atol=LOCATED)
    np.testing.assert_allclose(
        [e.x[0] / scale for e in branch.bifurcations], [-1 / np.sqrt(3), 1 / np.sqrt(3)], atol=1e-6
    )
    z = branch.xstar[:, 0] / scale
    np.testing.assert_allclose(branch.u, z**3 - z, atol=1e-9)
    assert branch.u[-1] == pytest.approx(1.0) and z[-1] > 1.0


def pitchfork(x, u):
    return torch.tanh(u * x)


@pytest.mark.parametrize(("u_start", "u_stop"), [(0.5, 1.5), (1.5, 0.5)])
def test_pitchfork_on_the_trivial_branch_is_a_branch_point_at_one(u_start, u_stop):
    """Before: a "fold" at 0.9578, and the continuation bounced there."""
    branch = continue_branch(pitchfork, [0.0], u_start, u_stop)
    (point,) = branch.bifurcations
    assert point.kind == "branch-point" and point.u == pytest.approx(1.0, abs=LOCATED)
    assert point.critical == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(branch.u) * np.sign(u_stop - u_start) > 0)
    assert branch.u[-1] == pytest.approx(u_stop) and np.all(branch.xstar == 0.0)


def test_pitchfork_side_branch_goes_through_its_branch_point_to_the_mirror_branch():
    branch = continue_branch(pitchfork, [0.5], 1.5, 0.5)
    (point,) = branch.bifurcations
    assert point.kind == "branch-point" and point.u == pytest.approx(1.0, abs=LOCATED)
    np.testing.assert_allclose(branch.xstar[:, 0], np.tanh(branch.u * branch.xstar[:, 0]))
    assert branch.u[-1] == pytest.approx(1.5) and branch.xstar[-1, 0] < -0.8


def transcritical(scale):
    def step(y, u):
        return y + H * (u * y - y**2 / scale)

    return step


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize(("start", "u_start", "u_stop"), [(0.5, 0.5, -0.5), (0.0, -0.5, 0.5)])
def test_transcritical_is_a_branch_point_at_zero_at_every_scale(scale, start, u_start, u_stop):
    branch = continue_branch(transcritical(scale), [start * scale], u_start, u_stop)
    (point,) = branch.bifurcations
    assert point.kind == "branch-point" and point.u == pytest.approx(0.0, abs=LOCATED)
    assert branch.u[-1] == pytest.approx(u_stop)
    expected = branch.u * scale if start else np.zeros_like(branch.u)
    np.testing.assert_allclose(branch.xstar[:, 0], expected, atol=1e-9 * scale)


def test_a_branch_point_off_any_symmetry_is_located():
    """y -> y + h (y - u)(y + 2u): the branches y = u and y = -2u cross at u = 0."""

    def crossing(y, u):
        return y + H * (y - u) * (y + 2 * u)

    branch = continue_branch(crossing, [0.5], 0.5, -0.5)
    (point,) = branch.bifurcations
    assert point.kind == "branch-point" and point.u == pytest.approx(0.0, abs=LOCATED)
    np.testing.assert_allclose(branch.xstar[:, 0], branch.u, atol=1e-9)


@pytest.mark.parametrize(
    "x0",
    ["a", True, [True], [[-1.3], [1.3]], np.array([-1.3 + 0j]), torch.tensor([-1.3 + 0j]), []],
)
def test_x0_must_be_one_real_state(x0):
    with pytest.raises(ValueError, match="x0 must"):
        continue_branch(cubic, x0, -1.0, 1.0)


@pytest.mark.parametrize(
    "x0",
    [
        torch.tensor([-1.3], requires_grad=True),
        torch.tensor([-1.3], dtype=torch.float16),
        torch.tensor([[-1.3]], dtype=torch.bfloat16),
    ],
)
def test_x0_of_any_real_dtype_starts_the_same_branch(x0, s_curve):
    branch = continue_branch(cubic, x0, -1.0, 1.0)
    np.testing.assert_allclose(branch.u, s_curve.u, atol=1e-12)
    np.testing.assert_allclose(branch.xstar, s_curve.xstar, atol=1e-12)


@pytest.mark.parametrize("name", ["u_start", "u_stop"])
@pytest.mark.parametrize("value", [True, "1", np.nan, np.inf])
def test_bad_ends_of_the_interval_are_named(name, value):
    ends = {"u_start": -1.0, "u_stop": 1.0, name: value}
    with pytest.raises(ValueError, match=name):
        continue_branch(cubic, [-1.3], ends["u_start"], ends["u_stop"])
