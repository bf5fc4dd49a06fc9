"""The engine on trained networks: Sussillo & Barak's 3-bit flip-flop.

A network that holds three bits has one stable fixed point per memory state (the 8 corners
of {-1, +1}^3 in output space) and saddles between them. Each network here trains in
seconds on one thread.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from fhnrnn.fixedpoints import FixedPoints, find_fixed_points, sample_states
from fhnrnn.models import GRUAdapter, LSTMAdapter, RNNCell, TanhRNN
from fhnrnn.tasks import flip_flop
from fhnrnn.training import FitResult

CORNERS = {tuple(int(s) for s in corner) for corner in np.ndindex(2, 2, 2)}
CORNERS = {tuple(2 * bit - 1 for bit in corner) for corner in CORNERS}


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def task():
    return flip_flop(3, n_trials=128, n_steps=100, p_pulse=0.05, seed=0)


def trained_fixed_points(
    net: RNNCell, task, fit_to_target: Callable[..., FitResult]
) -> tuple[FixedPoints, np.ndarray]:
    """Train ``net`` on the flip-flop, search at zero input; return points and readouts."""
    fit_to_target(net, task, max_epochs=3000)
    with torch.no_grad():
        states, _ = net.rollout(task.inputs)
        starts = sample_states(states, 512, noise_scale=0.5, seed=0)
    points = find_fixed_points(net, starts, torch.zeros(3), progress=False)
    with torch.no_grad():
        readout = net.double().readout(torch.as_tensor(points.xstar)).numpy()
    return points, readout


def corners_of(readout: np.ndarray) -> set[tuple[int, ...]]:
    """The sign patterns of readouts that sit near a corner of the cube."""
    near = np.all(np.abs(np.abs(readout) - 1.0) < 0.2, axis=1)
    return {tuple(int(s) for s in np.sign(row)) for row in readout[near]}


@pytest.mark.slow
def test_tanh_flip_flop_has_one_stable_point_per_memory_and_saddles_between(
    task, fit_to_target
) -> None:
    points, readout = trained_fixed_points(TanhRNN(3, 3, 64, seed=0), task, fit_to_target)
    assert np.all(points.q < 1e-20)
    stable = points.is_stable
    assert stable.sum() == 8
    assert corners_of(readout[stable]) == CORNERS
    saddles = points.n_unstable > 0
    assert saddles.sum() >= 7, "memories must be separated by saddles"
    undecided_bit = np.min(np.abs(readout[saddles]), axis=1)
    assert np.all(undecided_bit < 0.3), "each saddle leaves at least one bit between -1 and +1"


@pytest.mark.slow
@pytest.mark.parametrize(
    "make",
    [lambda: GRUAdapter.create(3, 3, 32, seed=0), lambda: LSTMAdapter.create(3, 3, 32, seed=0)],
    ids=["gru", "lstm"],
)
def test_gated_cells_run_through_the_same_finder(task, make, fit_to_target) -> None:
    points, readout = trained_fixed_points(make(), task, fit_to_target)
    assert points.n_converged + points.n_failed == points.n_started
    assert len(points) > 0 and np.all(points.q < points.tol_q)
    stable = points.is_stable
    assert stable.sum() >= 1, "a trained memory network has stable fixed points"
    assert np.all(np.abs(points.eigenvalues[stable, 0]) < 1)
    assert np.all(np.abs(readout[stable]) < 1.3), "stable memories read out inside the cube"
