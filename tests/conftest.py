"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import torch
from hypothesis import HealthCheck, settings

from fhnrnn.models import RNNCell
from fhnrnn.tasks import Task
from fhnrnn.training import FitResult, fit

# The property-based tests (tests/test_fuzz_*.py). "ci", the default, draws a fixed sequence of
# examples (derandomize: the same on every run and machine, so no example database is needed)
# and few of them, so that they take about a minute; FHNRNN_HYPOTHESIS=thorough draws many
# random examples and keeps the failing ones in .hypothesis/ to replay them first next time.
_FUZZ_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=25, derandomize=True, database=None, **_FUZZ_COMMON)
settings.register_profile("thorough", max_examples=400, **_FUZZ_COMMON)
settings.load_profile(os.environ.get("FHNRNN_HYPOTHESIS", "ci"))


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
