"""Activation-region iteration on a small deep ReLU map whose fixed points are enumerated.

The map ``x -> relu(W2 relu(W1 x + b1) + b2)`` (d = 4, two layers) is affine on each of the
2^8 activation patterns; solving every pattern's affine fixed point and keeping those that
lie in their own pattern gives every fixed point, independently of the search.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from fhnrnn.fixedpoints import find_fixed_points_piecewise

pytestmark = pytest.mark.usefixtures("single_thread")

D = 4
_DRAW = np.random.default_rng(1)
W1, B1 = _DRAW.normal(size=(D, D)) * 1.2, _DRAW.normal(size=D)
W2, B2 = _DRAW.normal(size=(D, D)) * 1.2, _DRAW.normal(size=D)


def deep_relu(x, u):
    hidden = torch.relu(x @ torch.as_tensor(W1).T + torch.as_tensor(B1) + u)
    return torch.relu(hidden @ torch.as_tensor(W2).T + torch.as_tensor(B2))


def fixed_points_by_enumeration(u: float = 0.0) -> np.ndarray:
    found = []
    for pattern in itertools.product([0.0, 1.0], repeat=2 * D):
        first, second = np.diag(pattern[:D]), np.diag(pattern[D:])
        a = second @ W2 @ first @ W1
        c = second @ (W2 @ first @ (B1 + u) + B2)
        x = np.linalg.solve(np.eye(D) - a, c)
        pre_first = W1 @ x + B1 + u
        pre_second = W2 @ np.maximum(pre_first, 0.0) + B2
        if np.array_equal(pre_first > 0, np.diag(first) > 0) and np.array_equal(
            pre_second > 0, np.diag(second) > 0
        ):
            found.append(x)
    return np.array(found)


@pytest.mark.parametrize("u", [0.0, 0.3])
def test_every_fixed_point_of_a_deep_relu_map_is_found(u):
    expected = fixed_points_by_enumeration(u)
    assert len(expected) >= 3
    starts = np.random.default_rng(0).normal(size=(512, D)) * 3
    result = find_fixed_points_piecewise(deep_relu, starts, [u])
    found = result.fixed_points
    assert len(found) == len(expected)
    distance = np.linalg.norm(found.xstar[:, None] - expected[None], axis=2)
    assert distance.min(axis=1).max() < 1e-10
    assert found.q.max() < 1e-28
    assert result.n_regions >= len(expected)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="max_iters"):
        find_fixed_points_piecewise(deep_relu, np.zeros((2, D)), [0.0], max_iters=0)
    with pytest.raises(ValueError, match="restart_scale"):
        find_fixed_points_piecewise(deep_relu, np.zeros((2, D)), [0.0], restart_scale=-1.0)
