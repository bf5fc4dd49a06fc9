"""The fixed points of the FHN networks at many currents (notebooks 03-05).

The search (:func:`fhnrnn.analysis.fixed_points_by_input` with ``FIXED_POINT_SEARCH``: Newton
from 24 states along the trajectory at each current, then every point found followed along the
currents both ways) is slow (minutes on two cores) and its counts of converged starts sit on
knife edges that another CPU's rounding can tip. So the set found on a shipped network is
shipped beside it (``artifacts/<network>-fixedpoints``: the points, their residuals and the
search's record, without the Jacobians); loading it recomputes the Jacobians and eigenvalues at
the shipped points (:func:`fhnrnn.fixedpoints.linearise`), which is fast and gives the same
rounded numbers on any machine. Other networks are searched, and cached in
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
from fhnrnn.analysis import fixed_points_by_input
from fhnrnn.artifacts import load_results, ship_results
from fhnrnn.fixedpoints import FixedPoints, linearise
from fhnrnn.recipes.fhn_voltage import FHNRNNRun, fhn_rnn_artifact_keys

__all__ = [
    "FIXED_POINT_SEARCH",
    "SEARCH_VERSION",
    "SHIPPED_CURRENTS",
    "fhn_rnn_fixed_points",
    "fixed_point_artifact_keys",
]

# Part of the fixed-point keys: raise it when a change to the engine changes its results.
SEARCH_VERSION = 2
FIXED_POINT_SEARCH = {"n_per_input": 24, "n_steps": 334, "max_halvings": 6, "tol_unique": 1e-3}
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
        Currents, in increasing order (the continuation follows them).
    cache : bool
        Load a cached result when present and store a new one.
    progress : bool
        Show a progress bar over the continuation.

    Returns
    -------
    FixedPoints
        ``u[:, 0]`` is the current of each point.
    """
    values = np.asarray(currents, dtype=np.float64)
    if values.ndim != 1 or values.size < 1 or not np.all(np.diff(values) > 0):
        raise ValueError(f"currents must be a 1-D increasing array, got {currents!r}")
    key = _search_key(run.key, values)
    name = None if run.name is None else f"{run.name}-fixedpoints"
    if name is not None and (shipped := load_results(name, key, SEARCH_SCHEMA)) is not None:
        return _from_stored(run, *shipped)
    folder = cache_dir() / "fixedpoints"
    if cache and (cached := _read_cache(folder, key)) is not None:
        return _from_stored(run, *cached)
    start = time.perf_counter()
    points = fixed_points_by_input(
        run.model, values, route="smooth", progress=progress, **FIXED_POINT_SEARCH
    )
    tensors, fields = _stored_form(points, values, time.perf_counter() - start)
    if cache:
        write_entry(folder, key, tensors, {"key": key, **fields})
    if name is not None:
        ship_results(name, key, tensors, fields)
    return points


def fixed_point_artifact_keys(seed: int = 0) -> dict[str, str]:
    """Artifact name -> key of the fixed points of the study's cell of ``seed`` at 41 currents."""
    network, key = next(iter(fhn_rnn_artifact_keys(seed).items()))
    return {f"{network}-fixedpoints": _search_key(key, SHIPPED_CURRENTS)}


def _search_key(network_key: str, currents: np.ndarray) -> str:
    digest = hashlib.sha256(network_key.encode())
    digest.update(currents.tobytes())
    digest.update(repr((SEARCH_VERSION, sorted(FIXED_POINT_SEARCH.items()))).encode())
    return digest.hexdigest()


def _stored_form(
    points: FixedPoints, currents: np.ndarray, seconds: float
) -> tuple[dict[str, torch.Tensor], dict]:
    """The arrays and manifest fields under which a search is shipped or cached.

    The points, their inputs and residuals, and the search's record; not the Jacobians and
    eigen-decompositions, which are recomputed on loading.
    """
    record_arrays, scalars = points.search_record()
    arrays = {"xstar": points.xstar, "u": points.u, "q": points.q, **record_arrays}
    tensors = {field: torch.from_numpy(np.asarray(value)) for field, value in arrays.items()}
    fields = {
        "currents": currents.tolist(),
        "search": FIXED_POINT_SEARCH,
        "search_version": SEARCH_VERSION,
        "search_seconds": round(seconds, 1),
        "scalars": scalars,
    }
    return tensors, fields


# The manifest fields of a stored search (see _stored_form).
SEARCH_SCHEMA = {
    "currents": Field("list", items=Field("number")),
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


def _from_stored(run: FHNRNNRun, tensors: dict, manifest: dict) -> FixedPoints:
    arrays = {field: tensor.numpy() for field, tensor in tensors.items()}
    characterised = linearise(run.model, arrays["xstar"], arrays["u"])
    return FixedPoints(**arrays, **characterised, **manifest["scalars"])
