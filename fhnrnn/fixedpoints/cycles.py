"""Periodic orbits as fixed points of the k-fold map: :func:`find_cycles`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from fhnrnn.fixedpoints._inputs import prepare
from fhnrnn.fixedpoints._map import Map, StepFunction, characterise, to_numpy
from fhnrnn.fixedpoints._solve import run_search, search_fields, tally_of
from fhnrnn.fixedpoints._unique import input_groups, unique_indices
from fhnrnn.fixedpoints.options import SearchOptions
from fhnrnn.fixedpoints.results import Cycles

__all__ = ["find_cycles"]


def find_cycles(
    step: Any,
    x0: Any,
    u: Any = None,
    *,
    period: int,
    options: SearchOptions | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    noise_scale: float = 0.0,
    progress: bool = True,
    **settings: Any,
) -> Cycles:
    """Periodic orbits of period ``period``: fixed points of the k-fold map ``F o ... o F``.

    The search is :func:`find_fixed_points` applied to the k-fold map. Orbits found from
    different phases are the same cycle: a converged point is merged into a kept orbit when
    it lies within ``tol_unique`` of any of that orbit's k states. Fixed points of F and
    cycles whose period divides k are fixed points of the k-fold map too: they are kept and
    marked by ``minimal_period``.

    Parameters
    ----------
    step, x0, u, options, device, dtype, seed, noise_scale, progress, **settings
        As in :func:`find_fixed_points` (``q`` and ``tol_q`` refer to the k-fold map).
    period : int
        The period k >= 1.

    Returns
    -------
    Cycles
        One entry per unique orbit, with the orbit's states and Floquet multipliers.
    """
    if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or period < 1:
        raise ValueError(f"period must be an integer >= 1, got {period!r}")
    settings = SearchOptions.resolve(options, settings)
    fn, x, inputs, work_device = prepare(
        step, x0, u, device=device, dtype=dtype, noise_scale=noise_scale, seed=seed
    )
    one_step = Map(fn, dtype, work_device, x.shape[1])
    one_step.check(x, inputs)

    def k_fold(state: Tensor, drive: Tensor) -> Tensor:
        for _ in range(period):
            state = fn(state, drive)
        return state

    problem = Map(k_fold, dtype, work_device, x.shape[1], settings.solver_for(x.shape[1]))
    outcome = run_search(problem, x, inputs, settings, progress)
    converged = outcome.converged
    x_conv, u_conv, q_conv = outcome.x[converged], inputs[converged], outcome.q[converged]
    orbits = _orbits(fn, x_conv, u_conv, int(period))
    keep = unique_indices(orbits, input_groups(u_conv), q_conv, settings.tol_unique)
    return Cycles(
        xstar=to_numpy(x_conv[keep]),
        u=to_numpy(u_conv[keep]),
        q=to_numpy(q_conv[keep]),
        **characterise(problem, x_conv[keep], u_conv[keep]),
        **search_fields(tally_of(outcome, inputs), settings, problem, outcome.adam_iterations),
        orbit=to_numpy(orbits[keep]),
        minimal_period=_minimal_periods(orbits[keep], settings.tol_unique),
        period=int(period),
    )


def _orbits(fn: StepFunction, x: Tensor, u: Tensor, period: int) -> Tensor:
    """States ``x, F(x), ..., F^{k-1}(x)``, shape (n, k, d)."""
    states = [x]
    with torch.no_grad():
        for _ in range(period - 1):
            states.append(fn(states[-1], u))
    return torch.stack(states, dim=1)


def _minimal_periods(orbits: Tensor, tol: float) -> np.ndarray:
    n, period, _ = orbits.shape
    minimal = np.full(n, period, dtype=np.int64)
    for p in reversed([p for p in range(1, period) if period % p == 0]):
        returns = (orbits[:, p] - orbits[:, 0]).norm(dim=1) <= tol
        minimal[returns.cpu().numpy()] = p
    return minimal
