"""Scouts and followers: full Newton on a few starts, chord steps for the rest.

When many starts reach few points, driving each start by Newton repeats the same work: a
Jacobian and a factorisation per start and iteration. Here the starts are searched in
rounds. Each round runs the full Newton phase on a batch of *scouts* (16 starts, twice as
many each round, each the pending start farthest from the points found and the scouts
chosen so far), and adds their converged points to the *references*, each with the inverse
of ``J_r = dF/dx - I`` there (from its QR factorisation). Every pending start whose nearest
reference at its input is new then tries to *follow* it by chord steps
``dx = -J_r(x*)^{-1} r(x)``: one evaluation of F and one matrix product each, instead of a
Jacobian and a factorisation of its own. A start follows x* when every step at least halves
both its residual and its distance to x*, and it arrives within ``tol_unique`` of x* with
``q < tol_q``; it then ends in the state of x* (as a merged start does). Any other start
keeps its state and waits to be a scout.

Every start is thus either searched in full or shown to lie where the chord iteration of a
point already found contracts onto that point; no reported point comes from a chord step.
(Which of two points a distant start ends on can differ from the plain search: the two
iterations have different basins.) When every start leads to a point of its own, each is
still searched by Newton once, but in about log2(N / 16) rounds one after the other, with
the chord steps and the choice of scouts on top: then the option only costs time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from fhnrnn.fixedpoints._dense import Factorisation
from fhnrnn.fixedpoints._map import Map, chunks, half_squared_norm
from fhnrnn.fixedpoints._newton import newton_phase
from fhnrnn.fixedpoints._unique import input_groups, unique_indices
from fhnrnn.fixedpoints.options import SearchOptions, Status

_FIRST_SCOUTS = 16
_CHORD_ITERS = 30
# a following start's residual and distance to the point must at least halve at every step
_CONTRACTION = 0.5
_PAIRS_AT_ONCE = 2**22  # start-reference distances held at once


@dataclass
class _References:
    """Points found so far (K, d), the input group of each (K,; labels of
    :func:`~fhnrnn.fixedpoints._unique.input_groups` over all starts), and ``J_r^{-1}`` there
    (K, d, d)."""

    x: Tensor
    groups: Tensor
    inverse: Tensor

    def chord_steps(self, target: Tensor, r: Tensor, budget: int) -> Tensor:
        """``-J_r(x*_target)^{-1} r`` for residuals r (n, d), each at its own reference.

        One product with every reference when ``n K d`` entries fit in ``budget``, else one
        product per reference in use.
        """
        n, d = r.shape
        k = self.x.shape[0]
        if n * k * d <= budget:
            every = torch.einsum("kij,nj->nki", self.inverse, r)
            return -every[torch.arange(n, device=r.device), target]
        steps = torch.empty_like(r)
        for index in target.unique().tolist():
            mine = target == index
            steps[mine] = -r[mine] @ self.inverse[index].T
        return steps


def scouted_newton(
    problem: Map,
    x: Tensor,
    u: Tensor,
    adam_status: Tensor,
    n_iters: int,
    settings: SearchOptions,
    bar: tqdm,
) -> tuple[Tensor, int]:
    """Newton on rounds of scouts, chord steps for the other starts (see the module).

    Returns the final states (N, d) and the most Newton iterations a round ran.
    """
    final = x.clone()
    groups = input_groups(u)  # starts share a label when their inputs are exactly equal
    pending = adam_status != Status.FAILED
    tried = torch.full((x.shape[0],), -1, dtype=torch.long, device=x.device)
    references = _empty_references(x, groups)
    bar.reset(total=x.shape[0])
    bar.update(int((~pending).sum()))
    silent = tqdm(disable=True)
    batch, iterations = _FIRST_SCOUTS, 0
    while bool(pending.any()):
        scouts = _spread_out(references, x, groups, pending.nonzero().squeeze(1), batch)
        states, ran = newton_phase(
            problem, x[scouts], u[scouts], adam_status[scouts], n_iters, settings, silent
        )
        final[scouts], pending[scouts] = states, False
        iterations = max(iterations, ran)
        references = _with_new_points(
            problem, references, states, u[scouts], groups[scouts], settings
        )
        waiting = pending.nonzero().squeeze(1)
        nearest = _nearest_reference(references, x[waiting], groups[waiting])[0]
        fresh = nearest != tried[waiting]  # a start retries only when a nearer point appears
        waiting, nearest = waiting[fresh], nearest[fresh]
        tried[waiting] = nearest
        followed = _follow(problem, references, x[waiting], u[waiting], nearest, settings)
        hit = followed >= 0
        final[waiting[hit]] = references.x[followed[hit]]
        pending[waiting[hit]] = False
        bar.update(scouts.numel() + int(hit.sum()))
        bar.set_postfix(points=references.x.shape[0], pending=int(pending.sum()))
        batch *= 2
    return final, iterations


def _spread_out(
    references: _References, x: Tensor, groups: Tensor, candidates: Tensor, count: int
) -> Tensor:
    """``count`` of the ``candidates`` (indices into x), each the farthest from the points so far.

    Greedy farthest-point sampling from the references and the scouts already chosen, at the
    same input (a start at an input without any point is infinitely far); ties go to the
    first candidate, so the choice is deterministic.
    """
    if candidates.numel() <= count:
        return candidates
    points, labels = x[candidates], groups[candidates]
    distance = _nearest_reference(references, points, labels)[1].nan_to_num(nan=torch.inf)
    chosen = []
    for _ in range(count):
        pick = int(torch.argmax(distance))
        chosen.append(pick)
        gap = (points - points[pick]).norm(dim=1).masked_fill(labels != labels[pick], torch.inf)
        distance = torch.minimum(distance, gap)
        distance[pick] = -torch.inf  # chosen: never again, even among exact copies
    return candidates[torch.as_tensor(chosen, device=x.device)].sort().values


def _empty_references(x: Tensor, groups: Tensor) -> _References:
    return _References(x[:0], groups[:0], x.new_zeros(0, x.shape[1], x.shape[1]))


def _with_new_points(
    problem: Map,
    references: _References,
    states: Tensor,
    u: Tensor,
    groups: Tensor,
    settings: SearchOptions,
) -> _References:
    """``references`` plus the scouts' converged points (states (n, d) at inputs u (n, m), in
    input groups (n,)) that are not yet among them."""
    q = torch.cat([problem.q(states[rows], u[rows])
                   for rows in chunks(states.shape[0], problem.chunk * 16)])
    converged = torch.isfinite(q) & (q < settings.tol_q)
    x_all = torch.cat([references.x, states[converged]])
    groups_all = torch.cat([references.groups, groups[converged]])
    n_old = references.x.shape[0]
    # the old references rank first (q = -inf), so that they all stay
    rank = torch.cat([q.new_full((n_old,), -torch.inf), q[converged]])
    keep = unique_indices(x_all[:, None, :], groups_all, rank, settings.tol_unique)
    new = keep[keep >= n_old].sort().values
    if new.numel() == 0:
        return references
    scouts = new - n_old  # rows of the converged scouts
    inverse = _inverse_jacobians(problem, x_all[new], u[converged][scouts])
    return _References(
        torch.cat([references.x, x_all[new]]),
        torch.cat([references.groups, groups_all[new]]),
        torch.cat([references.inverse, inverse]),
    )


def _inverse_jacobians(problem: Map, x: Tensor, u: Tensor) -> Tensor:
    """``J_r^{-1} = (dF/dx - I)^{-1}`` at the points x (K, d), by QR, shape (K, d, d)."""
    eye = torch.eye(problem.d, dtype=x.dtype, device=x.device)
    inverses = [x.new_zeros(0, problem.d, problem.d)]
    for rows in chunks(x.shape[0], problem.chunk):
        _, jac, _ = problem.jacobians(x[rows], u[rows])
        inverses.append(Factorisation(jac - eye).inverse())
    return torch.cat(inverses)


def _follow(
    problem: Map,
    references: _References,
    x: Tensor,
    u: Tensor,
    nearest: Tensor,
    settings: SearchOptions,
) -> Tensor:
    """For each start (n, d), the reference it follows by chord steps, or -1, shape (n,).

    The steps use the Jacobian of the start's ``nearest`` reference (-1: none, no steps). They
    stop at the first that does not shrink both ``||r||`` and the distance to the reference by
    the factor ``_CONTRACTION``: the chord iteration must contract towards that point from the
    start on. A start follows its reference once ``q < tol_q`` within ``tol_unique`` of it.
    """
    followed = torch.full((x.shape[0],), -1, dtype=torch.long, device=x.device)
    alive = nearest >= 0
    y = x.clone()
    q_previous = torch.full_like(y[:, 0], torch.inf)
    gap_previous = torch.full_like(y[:, 0], torch.inf)
    for iteration in range(_CHORD_ITERS + 1):
        rows = alive.nonzero().squeeze(1)
        if rows.numel() == 0:
            break
        residual = problem.evaluate(y[rows], u[rows]) - y[rows]
        q = half_squared_norm(residual)
        gap = (y[rows] - references.x[nearest[rows]]).norm(dim=1)
        contracting = torch.isfinite(q) & (q < _CONTRACTION**2 * q_previous[rows])
        contracting &= gap <= _CONTRACTION * gap_previous[rows]
        arrived = contracting & (q < settings.tol_q) & (gap <= settings.tol_unique)
        followed[rows[arrived]] = nearest[rows[arrived]]
        moving = contracting & ~arrived
        alive[rows[~moving]] = False
        q_previous[rows], gap_previous[rows] = q, gap
        if iteration == _CHORD_ITERS:
            break
        rows, residual = rows[moving], residual[moving]
        y[rows] += references.chord_steps(nearest[rows], residual, problem.budget)
    return followed


def _nearest_reference(
    references: _References, x: Tensor, groups: Tensor
) -> tuple[Tensor, Tensor]:
    """For points x (n, d) in input groups (n,): the index of the nearest reference in the
    same group (-1 where none) and the distance to it (inf where none), both shape (n,)."""
    k = references.x.shape[0]
    nearest = x.new_full((x.shape[0],), -1, dtype=torch.long)
    gap = x.new_full((x.shape[0],), torch.inf)
    if k == 0:
        return nearest, gap
    for rows in chunks(x.shape[0], max(1, _PAIRS_AT_ONCE // k)):
        other_input = groups[rows, None] != references.groups[None, :]
        distance = torch.cdist(x[rows], references.x).masked_fill(other_input, torch.inf)
        gap[rows], closest = distance.min(dim=1)
        nearest[rows] = torch.where(torch.isfinite(gap[rows]), closest, -1)
    return nearest, gap
