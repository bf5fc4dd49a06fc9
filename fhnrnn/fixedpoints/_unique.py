"""Merging near-duplicate points (greedy, lowest q first)."""

from __future__ import annotations

import torch
from torch import Tensor

from fhnrnn.fixedpoints._map import chunks

_DEDUP_BLOCK = 1024
_MODES = {True: "donot_use_mm_for_euclid_dist", False: "use_mm_for_euclid_dist"}


def input_groups(u: Tensor) -> Tensor:
    """Group label per point: points share a label when their inputs are exactly equal."""
    if u.shape[1] == 0:
        return torch.zeros(u.shape[0], dtype=torch.long, device=u.device)
    return torch.unique(u, dim=0, return_inverse=True)[1]


def unique_indices(
    members: Tensor, groups: Tensor, q: Tensor, tol: float, exact: bool = True
) -> Tensor:
    """Indices of the points kept after merging near-duplicates, lowest q first.

    Point i is a duplicate of point j when both have the same group and the distance from
    ``members[i, 0]`` to the nearest of ``members[j, :]`` is at most ``tol`` (for fixed points
    each member set is one point; for cycles it is the whole orbit, which makes the test
    blind to the phase at which an orbit was found). Points are visited in order of
    increasing q and kept unless a kept point is within ``tol``: the greedy rule, evaluated
    one block of points at a time with ``torch.cdist`` (computed directly when ``exact``,
    else through matrix products: faster, with an absolute error of about
    ``sqrt(eps) * ||x||`` in each distance).

    Parameters
    ----------
    members : Tensor, shape (n, k, d)
    groups : Tensor of int, shape (n,)
    q : Tensor, shape (n,)
    tol : float
    exact : bool

    Returns
    -------
    Tensor of int, shape (K,)
    """
    if members.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=members.device)
    distinct = _first_of_equal_rows(members, groups)
    if distinct.numel() < members.shape[0]:  # exact copies (merged starts) share one fate
        kept = unique_indices(members[distinct], groups[distinct], q[distinct], tol, exact)
        return distinct[kept]
    n = members.shape[0]
    order = torch.argsort(q, stable=True)
    members, groups = members[order], groups[order]
    kept_blocks: list[Tensor] = []
    kept = torch.zeros(0, dtype=torch.long, device=members.device)
    for block in chunks(n, _DEDUP_BLOCK):
        keys, block_groups = members[block, 0], groups[block]
        near_kept = _near(keys, members[kept], block_groups, groups[kept], tol, exact).any(dim=1)
        near_block = _near(keys, members[block], block_groups, block_groups, tol, exact)
        near_block = near_block.tril(diagonal=-1)
        keep = ~near_kept
        while True:
            updated = ~near_kept & ~(near_block & keep[None, :]).any(dim=1)
            if torch.equal(updated, keep):
                break
            keep = updated
        block_kept = torch.arange(block.start, block.stop, device=members.device)[keep]
        kept_blocks.append(block_kept)
        kept = torch.cat(kept_blocks)
    return order[kept]


def _first_of_equal_rows(members: Tensor, groups: Tensor) -> Tensor:
    """Index of the first of each set of points equal in every member and group, sorted."""
    rows = torch.cat([members.reshape(members.shape[0], -1), groups[:, None].to(members)], 1)
    _, inverse = torch.unique(rows, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), rows.shape[0], device=rows.device)
    first = first.scatter_reduce(0, inverse, torch.arange(rows.shape[0], device=rows.device),
                                 reduce="amin")
    return first.sort().values


def _near(
    keys: Tensor,
    members: Tensor,
    key_groups: Tensor,
    member_groups: Tensor,
    tol: float,
    exact: bool,
) -> Tensor:
    """(a, b) bool: key a lies within tol of some member of set b, in the same group."""
    if members.shape[0] == 0:
        return torch.zeros(keys.shape[0], 0, dtype=torch.bool, device=keys.device)
    b, k, d = members.shape
    distance = (
        torch.cdist(keys, members.reshape(b * k, d), compute_mode=_MODES[exact])
        .reshape(keys.shape[0], b, k)
        .amin(dim=2)
    )
    return (distance <= tol) & (key_groups[:, None] == member_groups[None, :])


def merge_targets(x: Tensor, groups: Tensor, q: Tensor, tol: float) -> Tensor:
    """For each point (n, d), the index of the point it merges into (itself when kept).

    The kept points are those of :func:`unique_indices`; every other point lies within
    ``tol`` of a kept point of its group with lower q, and merges into the nearest such.
    """
    n = x.shape[0]
    kept = unique_indices(x[:, None, :], groups, q, tol, exact=False)
    target = torch.arange(n, device=x.device)
    is_kept = torch.zeros(n, dtype=torch.bool, device=x.device)
    is_kept[kept] = True
    followers = (~is_kept).nonzero().squeeze(1)
    if followers.numel():
        distance = torch.cdist(x[followers], x[kept], compute_mode=_MODES[False])
        other_group = groups[followers][:, None] != groups[kept][None, :]
        target[followers] = kept[distance.masked_fill(other_group, torch.inf).argmin(dim=1)]
    return target
