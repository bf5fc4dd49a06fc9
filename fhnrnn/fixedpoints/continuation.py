"""Fixed points along a path of inputs, each branch followed from input to input."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from fhnrnn._progress import progress_bar
from fhnrnn._validation import non_negative_int
from fhnrnn.fixedpoints._inputs import check_starts, path_inputs, path_positions, prepare
from fhnrnn.fixedpoints._map import Map, characterise, to_numpy
from fhnrnn.fixedpoints._solve import Tally, run_search, search_fields
from fhnrnn.fixedpoints._unique import input_groups, unique_indices
from fhnrnn.fixedpoints.options import SearchOptions
from fhnrnn.fixedpoints.results import FixedPoints

__all__ = ["find_fixed_points_along"]


def find_fixed_points_along(
    step: Any,
    inputs: Any,
    x0: Any,
    start_index: Any,
    *,
    max_halvings: int = 4,
    options: SearchOptions | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
    progress: bool = True,
    **settings: Any,
) -> FixedPoints:
    """Fixed points at every input of a path, each branch followed from input to input.

    First every start ``x0[i]`` is searched (damped Newton, no Adam warm-up) with the input
    held at ``inputs[start_index[i]]``. Then the points are continued along the path, once
    forwards and once backwards: the points known at one input start the search at the next.
    A point that does not converge there is retried through the midpoint input, halving the
    step up to ``max_halvings`` times, so a branch is lost only where it really ends (a fold)
    or turns too sharply. This finds fixed points that no start lies near: on a deep ReLU
    network, Newton from trajectory states converges only from inside the right activation
    region, while the point at a neighbouring input usually is inside it.

    Parameters
    ----------
    step : callable or object with a ``.step`` method
        As in :func:`find_fixed_points`.
    inputs : array or Tensor, shape (K, m), or (K,) for scalar inputs
        The path of inputs, in order (e.g. increasing current). Consecutive inputs should be
        close enough for the points to move little between them.
    x0 : array or Tensor, shape (N, d)
        Starts, e.g. states along the network's trajectories.
    start_index : array of int, shape (N,)
        Position on the path of the input at which each start is searched.
    max_halvings : int
        Largest number of times a failed continuation step is halved.
    options : SearchOptions, optional
        Settings of every search; by default those of :class:`SearchOptions` with
        ``warmup_iters=0`` (Newton from the start). The method must be ``"newton"``.
    device, dtype
        As in :func:`find_fixed_points`.
    progress : bool
        Show a tqdm progress bar over the two sweeps.
    **settings
        Fields of :class:`SearchOptions`, replacing those of ``options``.

    Returns
    -------
    FixedPoints
        The unique fixed points at each input of the path (``u`` is the row of ``inputs``,
        in ``dtype``), characterised as by :func:`find_fixed_points`. The counts and the
        ``failed_*`` fields describe every search: first the N starts ``x0`` in order
        (``failed_index < N`` are rows of ``x0``), then each continuation step in the order
        run, whose ``failed_u`` may be a midpoint between two inputs of the path.
        ``newton_iterations`` is the most any search used.

    Raises
    ------
    ValueError
        On bad arguments, as :func:`find_fixed_points`; when ``inputs`` is not a non-empty
        finite (K, m) array, or ``start_index`` is not one integer in ``[0, K - 1]`` per
        start.
    """
    max_halvings = non_negative_int(max_halvings, "max_halvings")
    settings = SearchOptions.resolve(options, settings, warmup_iters=0)
    if settings.method != "newton":
        raise ValueError(f"method must be 'newton' for continuation, got {settings.method!r}")
    path = path_inputs(inputs)
    n_starts = check_starts(x0, torch.float64, torch.device("cpu")).shape[0]
    index = path_positions(start_index, path.shape[0])
    if index.shape[0] != n_starts:
        raise ValueError(
            f"start_index must have one entry per start (N = {n_starts}), got {index.shape[0]}"
        )
    fn, x, start_inputs, work_device = prepare(
        step, x0, path[index], device=device, dtype=dtype, noise_scale=0.0, seed=0,
        names=("x0", "inputs"),
    )
    problem = Map(fn, dtype, work_device, x.shape[1], settings.solver_for(x.shape[1]))
    problem.check(x, start_inputs)
    seeds = run_search(problem, x, start_inputs, settings, progress=False)
    tally = Tally()
    tally.add(seeds, start_inputs)
    on_path = torch.as_tensor(path, dtype=dtype, device=work_device)
    found = [seeds.x[seeds.converged & torch.as_tensor(index == k, device=work_device)]
             for k in range(path.shape[0])]
    with progress_bar(
        total=2 * path.shape[0], disable=not progress, desc="continuation", leave=False
    ) as bar:
        for order in (range(path.shape[0]), range(path.shape[0] - 1, -1, -1)):
            found = _sweep(problem, on_path, found, list(order), settings, max_halvings, tally, bar)
    x_all = torch.cat(found)
    u_all = torch.cat([on_path[k].expand(len(points), -1) for k, points in enumerate(found)])
    q_all = problem.q(x_all, u_all) if x_all.shape[0] else x_all.new_zeros(0)
    if x_all.shape[0]:  # a path may pass the same input twice
        keep = torch.sort(
            unique_indices(x_all[:, None, :], input_groups(u_all), q_all, settings.tol_unique)
        ).values
        x_all, u_all, q_all = x_all[keep], u_all[keep], q_all[keep]
    return FixedPoints(
        xstar=to_numpy(x_all),
        u=to_numpy(u_all),
        q=to_numpy(q_all),
        **characterise(problem, x_all, u_all),
        **search_fields(tally, settings, problem, seeds.adam_iterations),
    )


def _sweep(
    problem: Map,
    path: Tensor,
    found: list[Tensor],
    order: list[int],
    settings: SearchOptions,
    max_halvings: int,
    tally: Tally,
    bar: tqdm,
) -> list[Tensor]:
    """One pass along ``order``: carry the points of each input over to the next."""
    found = list(found)
    carried = path.new_zeros(0, problem.d)
    for previous, k in zip([None, *order[:-1]], order, strict=True):
        if previous is not None:
            carried = _advance(
                problem, carried, path[previous], path[k], settings, max_halvings, tally
            )
        found[k] = _merged(problem, torch.cat([found[k], carried]), path[k], settings.tol_unique)
        carried = found[k]
        bar.update(1)
    return found


def _advance(
    problem: Map,
    x: Tensor,
    u_from: Tensor,
    u_to: Tensor,
    settings: SearchOptions,
    halvings: int,
    tally: Tally,
) -> Tensor:
    """Converged points at ``u_to`` continued from the points ``x`` at ``u_from``."""
    if x.shape[0] == 0:
        return x
    targets = u_to.expand(x.shape[0], -1)
    outcome = run_search(problem, x, targets, settings, progress=False)
    tally.add(outcome, targets)
    reached = [outcome.x[outcome.converged]]
    lost = x[~outcome.converged]
    if halvings > 0 and lost.shape[0]:
        middle = (u_from + u_to) / 2
        halfway = _advance(problem, lost, u_from, middle, settings, halvings - 1, tally)
        reached.append(_advance(problem, halfway, middle, u_to, settings, halvings - 1, tally))
    return torch.cat(reached)


def _merged(problem: Map, x: Tensor, u: Tensor, tol_unique: float) -> Tensor:
    """The points x (n, d) at input u (m,), near-duplicates merged (lowest q kept)."""
    if x.shape[0] < 2:
        return x
    q = problem.q(x, u.expand(x.shape[0], -1))
    groups = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    return x[unique_indices(x[:, None, :], groups, q, tol_unique)]
