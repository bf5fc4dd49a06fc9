"""The study network's fixed-point branches over 0 <= I <= 1.75, and their bifurcations.

Does the network's fixed point have Neimark-Sacker points (the map's counterpart of a Hopf
bifurcation), and where, against the FHN Hopf points (notebook 05)? :func:`fhn_rnn_branches`
follows branches by pseudo-arclength continuation
(:func:`fhnrnn.fixedpoints.continue_branch`) until every shipped fixed point of notebooks
03-05 lies on one: first the branch through the point at ``start``, down to the lowest
current of ``u_range`` and up to the highest; then, while a shipped point lies on no branch
yet, the branch through the lowest-current such point, both ways. On the deep ReLU network
this takes about a minute on one core (the branch bends at every activation-region
boundary), so the branches of a shipped network are shipped beside it
(``artifacts/<network>-branch``) as what the notebook reads: the current, the read-out
voltage, the number of unstable multipliers and the leading multipliers at each point, and
every bifurcation; not the 256-dimensional states.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import numpy as np
import torch

from fhnrnn._schema import Field
from fhnrnn.analysis import translate
from fhnrnn.artifacts import load_results, ship_results
from fhnrnn.fixedpoints import Branch, FixedPoints, continue_branch, find_fixed_points
from fhnrnn.recipes.fhn_fixed_points import SHIPPED_CURRENTS, fhn_rnn_fixed_points
from fhnrnn.recipes.fhn_voltage import FHNRNNRun, fhn_rnn_artifact_keys

__all__ = ["BRANCH_CONTINUATION", "BranchSummary", "branch_artifact_keys", "fhn_rnn_branches"]

# Part of the branch keys: raise it when a change to the continuation changes its results.
BRANCH_VERSION = 2
BRANCH_CONTINUATION = {
    "u_range": [0.0, 1.75],
    "start": 1.0,  # a current of SHIPPED_CURRENTS
    "step_size": 0.01,
    "max_step_size": 0.05,
    "n_leading": 4,
    # a point lies on a branch when Newton from the branch lands within this (times 1 + |x|)
    "on_branch": 1e-9,
}
_ARRAYS = ("u", "vstar", "n_unstable", "leading_real", "leading_imag")
# The manifest fields of the shipped branches (see _stored_form), one list entry per branch.
_BRANCH_SCHEMA = {
    "continuation": Field("object"),
    "branch_version": Field("int"),
    "bifurcations": Field("list", items=Field("list", items=Field("object"))),
    "stop_reasons": Field("list", items=Field("list", items=Field("str"))),
    "continuation_seconds": Field("list", items=Field("seconds")),
}


@dataclass(frozen=True, eq=False)
class BranchSummary:
    """One branch as the notebook reads it, in the order followed (the first leg reversed).

    Attributes
    ----------
    u : ndarray, shape (n,)
        Current at each point.
    vstar : ndarray, shape (n,)
        Read-out voltage of each point.
    n_unstable : ndarray of int, shape (n,)
        Multipliers outside the unit circle.
    leading : ndarray of complex, shape (n, k)
        The k multipliers of largest modulus, largest first.
    bifurcations : tuple of dict
        ``kind``, ``u``, ``vstar``, ``modulus`` and ``angle`` (of the critical multiplier),
        and ``unstable``, the unstable multipliers at the branch points either side of it
        (in the order followed), in increasing u.
    stop_reasons : tuple of str
        Why the downward and the upward leg ended.
    seconds : float
        Wall time of the continuation.
    """

    u: np.ndarray
    vstar: np.ndarray
    n_unstable: np.ndarray
    leading: np.ndarray
    bifurcations: tuple[dict, ...]
    stop_reasons: tuple[str, ...]
    seconds: float

    def of_kind(self, kind: str) -> list[dict]:
        """The bifurcations of one kind (``"fold"``, ``"flip"``, ``"neimark-sacker"``, ...)."""
        return [event for event in self.bifurcations if event["kind"] == kind]


def fhn_rnn_branches(run: FHNRNNRun) -> tuple[BranchSummary, ...]:
    """The branches of ``run``'s network through its fixed points at ``SHIPPED_CURRENTS``.

    Loads the shipped branches when they were computed for this network with these settings;
    otherwise continues them (minutes) and ships them under ``FHNRNN_REFRESH_ARTIFACTS=1``.
    The first branch is the one through the point at ``BRANCH_CONTINUATION["start"]``.
    """
    key = _branch_key(run.key)
    name = None if run.name is None else f"{run.name}-branch"
    if name is not None and (shipped := load_results(name, key, _BRANCH_SCHEMA)) is not None:
        return _from_stored(*shipped)
    points = fhn_rnn_fixed_points(run, SHIPPED_CURRENTS, progress=False)
    branches = []
    for start in _starts(points):
        if not any(_passes(run.model, branch, start) for branch in branches):
            branches.append(_continued(run, start))
    summaries = tuple(_summary(run, *branch) for branch in branches)
    if name is not None:
        ship_results(name, key, *_stored_form(summaries))
    return summaries


def branch_artifact_keys(seed: int = 0) -> dict[str, str]:
    """Artifact name -> key of the branches of the study's cell of ``seed``."""
    network, key = next(iter(fhn_rnn_artifact_keys(seed).items()))
    return {f"{network}-branch": _branch_key(key)}


def _branch_key(network_key: str) -> str:
    digest = hashlib.sha256(network_key.encode())
    digest.update(json.dumps([BRANCH_VERSION, BRANCH_CONTINUATION], sort_keys=True).encode())
    return digest.hexdigest()


def _starts(points: FixedPoints) -> list[FixedPoints]:
    """The point at the start current first, then every point by increasing current."""
    at_start = np.isclose(points.u[:, 0], BRANCH_CONTINUATION["start"], rtol=0.0, atol=1e-12)
    if not at_start.any():
        raise ValueError(f"the network has no fixed point at I = {BRANCH_CONTINUATION['start']}")
    first = np.flatnonzero(at_start)[np.argmin(points.q[at_start])]
    order = np.lexsort((points.q, points.u[:, 0]))
    return [points[int(index)] for index in (first, *order)]


def _continued(run: FHNRNNRun, start: FixedPoints) -> tuple[Branch, Branch, float]:
    """The legs from ``start`` down to the lowest and up to the highest current, and seconds."""
    settings = BRANCH_CONTINUATION
    clock = time.perf_counter()
    # Lengths in plain (x, u), as when the shipped branches were made (the default scales x by
    # the start's size, which on this network takes three times the points).
    steps = {"step_size": settings["step_size"], "max_step_size": settings["max_step_size"]}
    down, up = (
        continue_branch(run.model, start.xstar[0], float(start.u[0, 0]), end, state_scale=1.0,
                        **steps)
        for end in settings["u_range"]
    )
    return down, up, time.perf_counter() - clock


def _passes(model: torch.nn.Module, legs: tuple[Branch, Branch, float], point: FixedPoints) -> bool:
    """Whether a branch passes through ``point``: Newton from the branch at its current lands there.

    The start is the linear interpolant of the two branch points whose currents straddle the
    point's (exact inside one activation region, close across a region boundary).
    """
    x, u = point.xstar[0], float(point.u[0, 0])
    tolerance = BRANCH_CONTINUATION["on_branch"] * (1.0 + np.linalg.norm(x))
    for leg in legs[:2]:
        before, after = leg.u[:-1], leg.u[1:]
        spans = (np.minimum(before, after) <= u) & (u <= np.maximum(before, after))
        for i in np.flatnonzero(spans):
            span = after[i] - before[i]
            weight = 0.0 if span == 0 else (u - before[i]) / span
            between = leg.xstar[i] + weight * (leg.xstar[i + 1] - leg.xstar[i])
            found = find_fixed_points(model, between[None], [u], warmup_iters=0, progress=False)
            if len(found) and np.linalg.norm(found.xstar[0] - x) <= tolerance:
                return True
    return False


def _summary(run: FHNRNNRun, down: Branch, up: Branch, seconds: float) -> BranchSummary:
    xstar = np.concatenate([down.xstar[::-1], up.xstar[1:]])
    eigenvalues = np.concatenate([down.eigenvalues[::-1], up.eigenvalues[1:]])
    events = sorted(
        ((event, leg) for leg in (down, up) for event in leg.bifurcations),
        key=lambda pair: pair[0].u,
    )
    return BranchSummary(
        u=np.concatenate([down.u[::-1], up.u[1:]]),
        vstar=translate(run.model, xstar)[:, 0],
        n_unstable=(np.abs(eigenvalues) > 1.0).sum(axis=1),
        leading=eigenvalues[:, : BRANCH_CONTINUATION["n_leading"]],
        bifurcations=tuple(
            {
                "kind": event.kind,
                "u": float(event.u),
                "vstar": float(translate(run.model, event.x[None])[0, 0]),
                "modulus": float(abs(event.critical)),
                "angle": float(np.angle(event.critical)),
                "unstable": leg.n_unstable[event.index - 1 : event.index + 1].tolist(),
            }
            for event, leg in events
        ),
        stop_reasons=(down.stop_reason, up.stop_reason),
        seconds=seconds,
    )


def _stored_form(summaries: tuple[BranchSummary, ...]) -> tuple[dict[str, torch.Tensor], dict]:
    """One tensor per field over all branches, with ``branch`` telling which each row is."""
    columns = {
        "u": [s.u for s in summaries],
        "vstar": [s.vstar for s in summaries],
        "n_unstable": [s.n_unstable.astype(np.int64) for s in summaries],
        "leading_real": [s.leading.real for s in summaries],
        "leading_imag": [s.leading.imag for s in summaries],
        "branch": [np.full(len(s.u), index) for index, s in enumerate(summaries)],
    }
    tensors = {field: torch.from_numpy(np.ascontiguousarray(np.concatenate(parts)))
               for field, parts in columns.items()}
    fields = {
        "continuation": BRANCH_CONTINUATION,
        "branch_version": BRANCH_VERSION,
        "bifurcations": [list(s.bifurcations) for s in summaries],
        "stop_reasons": [list(s.stop_reasons) for s in summaries],
        "continuation_seconds": [round(s.seconds, 1) for s in summaries],
    }
    return tensors, fields


def _from_stored(tensors: dict[str, torch.Tensor], manifest: dict) -> tuple[BranchSummary, ...]:
    arrays = {field: tensor.numpy() for field, tensor in tensors.items()}
    summaries = []
    for index, events in enumerate(manifest["bifurcations"]):
        rows = arrays["branch"] == index
        part = {field: arrays[field][rows] for field in _ARRAYS}
        summaries.append(BranchSummary(
            u=part["u"],
            vstar=part["vstar"],
            n_unstable=part["n_unstable"],
            leading=part["leading_real"] + 1j * part["leading_imag"],
            bifurcations=tuple(events),
            stop_reasons=tuple(manifest["stop_reasons"][index]),
            seconds=float(manifest["continuation_seconds"][index]),
        ))
    return tuple(summaries)
