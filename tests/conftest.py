"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from fhnrnn.models import RNNCell
from fhnrnn.tasks import Task
from fhnrnn.training import FitResult, fit


@pytest.fixture
def single_thread() -> Iterator[None]:
    """Run the test on one torch thread: small matrices train fastest so on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fit_to_target() -> Callable[..., FitResult]:
    """Train a cell on a task until the loss reaches 1e-3, and fail the test if it does not.

    The returned function ``fit_to_target(net, task, max_epochs=...)`` trains ``net`` in place
    with Adam at rate 1e-2 from seed 0, without the cache, and returns the :class:`FitResult`.
    """

    def train(net: RNNCell, task: Task, *, max_epochs: int) -> FitResult:
        result = fit(
            net,
            task.inputs,
            task.targets,
            seed=0,
            max_epochs=max_epochs,
            target_loss=1e-3,
            lr=1e-2,
            cache=False,
            progress=False,
        )
        assert result.converged, f"training stopped at loss {result.history[-1]:.3g}"
        return result

    return train
