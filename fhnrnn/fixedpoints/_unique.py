"""Merging near-duplicate points (greedy, lowest q first)."""

from __future__ import annotations

import torch
from torch import Tensor

from fhnrnn.fixedpoints._map import chunks

_DEDUP_BLOCK = 1024


def input_groups(u: Tensor) -> Tensor:
    """Group label per point: points share a label when their inputs are exactly equal."""
    if u.shape[1] == 0:
        return torch.zeros(u.shape[0], dtype=torch.long, device=u.device)
    return torch.unique(u, dim=0, return_inverse=True)[1]


def unique_indices(members: Tensor, groups: Tensor, q: Tensor, tol: float) -> Tensor:
    """Indices of the points kept after merging near-duplicates, lowest q first.

    Point i is a duplicate of point j when both have the same group and the distance from
    ``members[i, 0]`` to the nearest of ``members[j, :]`` is at most ``tol`` (for fixed points
    each member set is one point; for cycles it is the whole orbit, which makes the test
    blind to the phase at which an orbit was found). Points are visited in order of
    increasing q and kept unless a kept point is within ``tol``: the greedy rule, evaluated
    one block of points at a time with ``torch.cdist``.

    Parameters
    ----------
    members : Tensor, shape (n, k, d)
    groups : Tensor of int, shape (n,)
    q : Tensor, shape (n,)
    tol : float

    Returns
    -------
    Tensor of int, shape (K,)
    """
    n = members.shape[0]
    order = torch.argsort(q, stable=True)
    members, groups = members[order], groups[order]
    kept_blocks: list[Tensor] = []
    kept = torch.zeros(0, dtype=torch.long, device=members.device)
    for block in chunks(n, _DEDUP_BLOCK):
        keys, block_groups = members[block, 0], groups[block]
        near_kept = _near(keys, members[kept], block_groups, groups[kept], tol).any(dim=1)
        near_block = _near(keys, members[block], block_groups, block_groups, tol)
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


def _near(
    keys: Tensor, members: Tensor, key_groups: Tensor, member_groups: Tensor, tol: float
) -> Tensor:
    """(a, b) bool: key a lies within tol of some member of set b, in the same group."""
    if members.shape[0] == 0:
        return torch.zeros(keys.shape[0], 0, dtype=torch.bool, device=keys.device)
    b, k, d = members.shape
    distance = (
        torch.cdist(keys, members.reshape(b * k, d), compute_mode="donot_use_mm_for_euclid_dist")
        .reshape(keys.shape[0], b, k)
        .amin(dim=2)
    )
    return (distance <= tol) & (key_groups[:, None] == member_groups[None, :])
