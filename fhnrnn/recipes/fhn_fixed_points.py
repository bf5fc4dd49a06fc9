"""The fixed points of the FHN networks at many currents (notebooks 03-05).

The study's cell is piecewise affine, so its fixed points are searched by the exact route
(:func:`fhnrnn.fixedpoints.find_fixed_points_exact` with ``EXACT_FIXED_POINT_SEARCH``: a
piecewise-linear homotopy from each of 24 states along the trajectory at each current, every
one of them run, and every component reached traced exactly across the currents). Any other
cell takes the smooth search (:func:`fhnrnn.analysis.fixed_points_by_input` with
``FIXED_POINT_SEARCH``: Newton from 24 trajectory states, then continuation along the
currents). Either takes minutes on two cores, so the set found on a shipped network is shipped
beside it (``artifacts/<network>-fixedpoints``: the points, their residuals, the search's
record and its account, without the Jacobians); loading it recomputes the Jacobians and
eigenvalues at the shipped points (:func:`fhnrnn.fixedpoints.linearise`), which is fast and
gives the same rounded numbers on any machine. Other networks are searched, and cached in
``build/cache/fixedpoints`` in the same form (safetensors + manifest, :mod:`fhnrnn._store`,
as the training cache).
"""

from __future__ import annotations

import hashlib
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from fhnrnn._paths import cache_dir
from fhnrnn._schema import Field
from fhnrnn._store import EntryError, read_entry, write_entry
from fhnrnn.analysis import exact_search_by_input, fixed_points_by_input
from fhnrnn.artifacts import load_results, ship_results
from fhnrnn.ensemble.dynamics import central_points, free_run
from fhnrnn.fixedpoints import FixedPoints, PiecewiseAffine, linearise
from fhnrnn.recipes.fhn_voltage import FHNRNNRun, fhn_rnn_artifact_keys

__all__ = [
    "EXACT_FIXED_POINT_SEARCH",
    "FIXED_POINT_SEARCH",
    "SEARCH_VERSION",
    "SHIPPED_CURRENTS",
    "central_fixed_points",
    "fhn_rnn_fixed_points",
    "fhn_rnn_search_account",
    "fixed_point_artifact_keys",
]

# Part of the fixed-point keys: raise it when a change to the engine changes its results.
SEARCH_VERSION = 3
FIXED_POINT_SEARCH = {"n_per_input": 24, "n_steps": 334, "max_halvings": 6, "tol_unique": 1e-3}
EXACT_FIXED_POINT_SEARCH = {"n_per_input": 24, "n_steps": 334, "patience": None}
# The currents of the shipped set: notebooks 03-05's grid.
SHIPPED_CURRENTS = np.linspace(0.4, 1.4, 41)


def fhn_rnn_fixed_points(
    run: FHNRNNRun, currents: np.ndarray, *, cache: bool = True, progress: bool = True
) -> FixedPoints:
    """Fixed points of the trained network with the input held at each current.

    The search runs on the folded float64 model, so the points live in the space of raw
    currents. For a shipped network the shipped set is used when it was found at these
    currents with these settings; otherwise the result is searched, and cached (keyed by the
    network, the currents and the search settings; an unreadable entry is searched again).

    Parameters
    ----------
    run : FHNRNNRun
        Output of :func:`fhnrnn.recipes.train_fhn_rnn`.
    currents : ndarray, shape (K,)
        Currents, in increasing order.
    cache : bool
        Load a cached result when present and store a new one.
    progress : bool
        Show a progress bar over the search.

    Returns
    -------
    FixedPoints
        ``u[:, 0]`` is the current of each point; ``method`` is ``"exact"`` for the study's
        cell.
    """
    return _searched(run, currents, cache, progress)[0]


def fhn_rnn_search_account(
    run: FHNRNNRun, currents: np.ndarray, *, cache: bool = True, progress: bool = True
) -> dict:
    """How :func:`fhn_rnn_fixed_points` found its set (from the same shipped or cached entry).

    Returns
    -------
    dict
        ``route`` ("exact" or "smooth"), ``search`` (the settings), ``search_seconds``; for
        the exact route also ``components`` (their number), ``homotopy_ends`` (how many
        homotopies ended how) and ``reasons`` (current -> why it has no point).
    """
    return _searched(run, currents, cache, progress)[1]


def _searched(run: FHNRNNRun, currents: np.ndarray, cache: bool,
              progress: bool) -> tuple[FixedPoints, dict]:
    values = np.asarray(currents, dtype=np.float64)
    if values.ndim != 1 or values.size < 1 or not np.all(np.diff(values) > 0):
        raise ValueError(f"currents must be a 1-D increasing array, got {currents!r}")
    exact = isinstance(run.model, PiecewiseAffine)
    key = _search_key(run.key, values, exact)
    name = None if run.name is None else f"{run.name}-fixedpoints"
    if name is not None and (shipped := load_results(name, key, SEARCH_SCHEMA)) is not None:
        return _from_stored(run, *shipped)
    folder = cache_dir() / "fixedpoints"
    if cache and (cached := _read_cache(folder, key)) is not None:
        return _from_stored(run, *cached)
    start = time.perf_counter()
    points, account = (_exact_search if exact else _smooth_search)(run, values, progress)
    tensors, fields = _stored_form(points, values, time.perf_counter() - start, account)
    if cache:
        write_entry(folder, key, tensors, {"key": key, **fields})
    if name is not None:
        ship_results(name, key, tensors, fields)
    return points, _account(fields)


def _exact_search(run: FHNRNNRun, values: np.ndarray, progress: bool) -> tuple[FixedPoints, dict]:
    search = exact_search_by_input(run.model, values, progress=progress,
                                   **EXACT_FIXED_POINT_SEARCH)
    ends = {end: search.homotopy_ends.count(end) for end in sorted(set(search.homotopy_ends))}
    account = {"route": "exact", "search": EXACT_FIXED_POINT_SEARCH,
               "components": len(search.curves), "homotopy_ends": ends,
               "reasons": {f"{u:g}": why for u, why in search.reasons.items()}}
    return search.points, account


def _smooth_search(run: FHNRNNRun, values: np.ndarray, progress: bool) -> tuple[FixedPoints, dict]:
    points = fixed_points_by_input(run.model, values, route="smooth", progress=progress,
                                   **FIXED_POINT_SEARCH)
    return points, {"route": "smooth", "search": FIXED_POINT_SEARCH}


def central_fixed_points(run: FHNRNNRun, points: FixedPoints) -> FixedPoints:
    """One point per current: the one nearest the centroid of the network's own cycle.

    The rule of the ensemble (:func:`fhnrnn.ensemble.central_points`): where the network
    oscillates, the point its cycle is centred on; where it rests, the point it settles near.

    Parameters
    ----------
    run : FHNRNNRun
        The network.
    points : FixedPoints
        Its fixed points (e.g. :func:`fhn_rnn_fixed_points`), N of them at K currents.

    Returns
    -------
    FixedPoints
        K points, in increasing current.
    """
    currents = np.unique(points.u[:, 0])
    chosen = points[central_points(points, free_run(run.model, currents), currents)]
    return chosen[np.argsort(chosen.u[:, 0], kind="stable")]


def fixed_point_artifact_keys(seed: int = 0) -> dict[str, str]:
    """Artifact name -> key of the fixed points of the study's cell of ``seed`` at 41 currents."""
    network, key = next(iter(fhn_rnn_artifact_keys(seed).items()))
    return {f"{network}-fixedpoints": _search_key(key, SHIPPED_CURRENTS, exact=True)}


def _search_key(network_key: str, currents: np.ndarray, exact: bool) -> str:
    settings = EXACT_FIXED_POINT_SEARCH if exact else FIXED_POINT_SEARCH
    digest = hashlib.sha256(network_key.encode())
    digest.update(currents.tobytes())
    digest.update(repr((SEARCH_VERSION, exact, sorted(settings.items()))).encode())
    return digest.hexdigest()


def _stored_form(
    points: FixedPoints, currents: np.ndarray, seconds: float, account: dict
) -> tuple[dict[str, torch.Tensor], dict]:
    """The arrays and manifest fields under which a search is shipped or cached.

    The points, their inputs and residuals, the search's record and its account; not the
    Jacobians and eigen-decompositions, which are recomputed on loading.
    """
    record_arrays, scalars = points.search_record()
    arrays = {"xstar": points.xstar, "u": points.u, "q": points.q, **record_arrays}
    tensors = {field: torch.from_numpy(np.asarray(value)) for field, value in arrays.items()}
    fields = {
        "currents": currents.tolist(),
        **account,
        "search_version": SEARCH_VERSION,
        "search_seconds": round(seconds, 1),
        "scalars": scalars,
    }
    return tensors, fields


def _account(fields: dict) -> dict:
    """The account of a search from its manifest fields."""
    names = ("route", "search", "search_seconds", "components", "homotopy_ends", "reasons")
    return {name: fields[name] for name in names if name in fields}


# The manifest fields of a stored search (see _stored_form).
SEARCH_SCHEMA = {
    "currents": Field("list", items=Field("number")),
    "route": Field("str", allowed=("exact", "smooth")),
    "search": Field("object"),
    "search_version": Field("int"),
    "search_seconds": Field("seconds"),
    "scalars": Field("object"),
}


def _read_cache(folder: Path, key: str) -> tuple[dict[str, torch.Tensor], dict] | None:
    """A cached search, or None when there is none or it is unusable (with a warning)."""
    try:
        return read_entry(folder, key, {"key": key},
                          f"{folder / key}.json belongs to another search",
                          {"key": Field("sha256"), **SEARCH_SCHEMA})
    except EntryError as error:  # an unusable cache entry means: search again
        warnings.warn(f"ignoring unusable cache entry: {error}", stacklevel=3)
        return None


def _from_stored(run: FHNRNNRun, tensors: dict, manifest: dict) -> tuple[FixedPoints, dict]:
    arrays = {field: tensor.numpy() for field, tensor in tensors.items()}
    characterised = linearise(run.model, arrays["xstar"], arrays["u"])
    return FixedPoints(**arrays, **characterised, **manifest["scalars"]), _account(manifest)
