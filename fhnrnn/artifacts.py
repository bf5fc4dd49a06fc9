"""The trained networks the committed notebooks analyse, shipped with the paper.

Training a deep recurrent network is chaotic: a one-ulp difference in an early update (another
CPU's vector kernels, another thread count) gives a different network a few hundred updates
later. So, as ML papers release their checkpoints, the paper ships the networks it analyses,
in ``artifacts/`` (see :mod:`fhnrnn._store` for the format: safetensors + a JSON manifest).
An analysis that starts from them gives the same rounded outputs on any machine; retraining
is a separate path (``python -m fhnrnn reproduce --retrain``) whose numbers are compared with
the shipped ones.

A recipe (:mod:`fhnrnn.recipes`) names its artifact and computes its *recipe key*: the SHA-256
of the recipe's settings, the seed and the cell's class and ``VERSION``. :func:`trained`
loads the artifact when its manifest carries that key and its file matches its checksum;
otherwise it says why in an :class:`ArtifactWarning` and trains through
:func:`fhnrnn.training.fit` (whose own cache lives in ``build/cache``). A shipped file is
never overwritten, except by a run that asks for it: ``FHNRNN_REFRESH_ARTIFACTS=1``
(``reproduce --retrain --refresh-artifacts``).

Environment
-----------
FHNRNN_ARTIFACTS_DIR
    Folder of the artifacts (default: ``artifacts/`` in the checkout).
FHNRNN_RETRAIN
    ``1``: ignore the artifacts and train (used by ``reproduce --retrain``).
FHNRNN_REFRESH_ARTIFACTS
    ``1``: write every network trained by a recipe into the artifacts folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from fhnrnn._paths import project_root
from fhnrnn._schema import Field, Schema
from fhnrnn._store import (
    EntryError,
    load_state,
    pop_history,
    read_entry,
    read_manifest,
    write_entry,
)
from fhnrnn.models import RNNCell
from fhnrnn.training import DETERMINISTIC_ALGORITHMS, FitResult

__all__ = [
    "ARTIFACT_FORMAT",
    "ArtifactWarning",
    "artifacts_dir",
    "load_network",
    "load_results",
    "manifests",
    "obtain",
    "recipe_key",
    "refreshing",
    "retraining",
    "ship",
    "ship_results",
    "trained",
    "training_environment",
]

ARTIFACTS_DIR_ENV = "FHNRNN_ARTIFACTS_DIR"
RETRAIN_ENV = "FHNRNN_RETRAIN"
REFRESH_ENV = "FHNRNN_REFRESH_ARTIFACTS"
# Part of every recipe key: raise it when the meaning of a recipe's settings changes.
ARTIFACT_FORMAT = 1
_STATE_PREFIX = "state."


# What every shipped manifest holds: the entry, and what its bits depend on besides its inputs.
ENTRY_SCHEMA: dict[str, Field] = {
    "format": Field("int", allowed=(ARTIFACT_FORMAT,)),
    "name": Field("str"),
    "key": Field("sha256"),
    "sha256": Field("sha256"),
    "bytes": Field("count"),
    "torch": Field("str"),
    "cpu_capability": Field("str"),
    "threads": Field("count"),
    "deterministic_algorithms": Field("bool"),
    "machine": Field("str"),
    "processor": Field("str"),
    "python": Field("str"),
    "created": Field("str"),
}
# ... and what a shipped network's manifest adds (see ship).
NETWORK_SCHEMA: dict[str, Field] = {
    **ENTRY_SCHEMA,
    "fit_key": Field("sha256"),
    "cell": Field("str"),
    "cell_version": Field("int"),
    "config": Field("object"),
    "recipe": Field("object"),
    "seed": Field("count"),
    "updates": Field("count"),
    "train_seconds": Field("seconds"),
    "converged": Field("bool"),
    "errors": Field("object", items=Field("number", nullable=True)),
}


class ArtifactWarning(UserWarning):
    """A shipped network could not be used, so it is being trained anew."""


def artifacts_dir() -> Path:
    """Folder of the shipped networks (``artifacts/`` in the checkout by default)."""
    configured = os.environ.get(ARTIFACTS_DIR_ENV)
    return Path(configured) if configured else project_root() / "artifacts"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def retraining() -> bool:
    """Whether ``FHNRNN_RETRAIN`` asks to ignore the shipped networks."""
    return _flag(RETRAIN_ENV)


def refreshing() -> bool:
    """Whether ``FHNRNN_REFRESH_ARTIFACTS`` asks to write trained networks into the artifacts."""
    return _flag(REFRESH_ENV)


def recipe_key(name: str, recipe: Mapping[str, Any], cell: type[RNNCell], seed: int) -> str:
    """SHA-256 naming what a recipe trains, independent of the machine.

    Parameters
    ----------
    name : str
        The artifact's name.
    recipe : mapping
        Every setting of the recipe (JSON-serialisable).
    cell : type
        The cell's class; its qualified name and ``VERSION`` enter the key.
    seed : int
        The seed of the initial weights and of the training draws.
    """
    description = {
        "format": ARTIFACT_FORMAT,
        "name": name,
        "recipe": dict(recipe),
        "cell": f"{cell.__module__}.{cell.__qualname__}",
        "cell_version": cell.VERSION,
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode("utf-8")).hexdigest()


def trained(
    name: str, model: RNNCell, key: str, train: Callable[[], FitResult], *,
    folder: Path | None = None,
) -> FitResult:
    """The network of artifact ``name`` loaded into ``model``, or ``train()`` when unusable.

    Parameters
    ----------
    name : str
        The artifact (``FOLDER/NAME.safetensors`` and ``NAME.json``).
    model : RNNCell
        The recipe's untrained cell; the shipped weights are copied into it.
    key : str
        The recipe key (:func:`recipe_key`) the manifest must carry.
    train : callable
        Trains ``model`` in place (e.g. through :func:`fhnrnn.training.fit`) and returns the
        result; called when the artifact is missing, stale, corrupt, or ignored
        (``FHNRNN_RETRAIN=1``).
    folder : Path, optional
        The artifacts' folder; :func:`artifacts_dir` by default.

    Returns
    -------
    FitResult
        For a shipped network: its history, training time and updates from the manifest,
        ``from_cache=True`` and ``artifact=name``.
    """
    if retraining():
        return train()
    try:
        result = load_network(name, model, key, folder=folder)
    except EntryError as error:
        warnings.warn(f"{error}; training anew", ArtifactWarning, stacklevel=2)
        return train()
    return result if result is not None else train()


def load_network(
    name: str, model: RNNCell, key: str, *, folder: Path | None = None
) -> FitResult | None:
    """The shipped network ``name`` loaded into ``model``; None (with a warning) if missing.

    Raises :class:`fhnrnn._store.EntryError` (a ValueError) when the manifest carries another
    key, the file fails its checksum, or the manifest does not fit the schema.
    """
    folder = artifacts_dir() if folder is None else Path(folder)
    entry = read_entry(
        folder, name, {"key": key, "format": ARTIFACT_FORMAT},
        f"{folder / name}.json was trained by another version of its recipe (its key "
        f"differs); the shipped file is kept",
        NETWORK_SCHEMA,
    )
    if entry is None:
        warnings.warn(
            f"no shipped network {name!r} in {folder}: training it", ArtifactWarning, stacklevel=4
        )
        return None
    tensors, manifest = entry
    history = pop_history(tensors, folder / f"{name}.safetensors")
    state = {k.removeprefix(_STATE_PREFIX): v for k, v in tensors.items()}
    load_state(model, state, folder / f"{name}.safetensors")
    model.eval()
    return FitResult(
        model=model,
        history=history,
        seconds=float(manifest["train_seconds"]),
        epochs=len(history),
        from_cache=True,
        converged=bool(manifest["converged"]),
        key=key,
        artifact=name,
    )


def obtain(
    name: str | None,
    model: RNNCell,
    recipe: Mapping[str, Any],
    seed: int,
    train: Callable[[], FitResult],
    errors: Callable[[FitResult], Mapping[str, float | None]],
) -> FitResult:
    """A recipe's network: shipped when usable, else trained (and shipped when refreshing).

    Parameters
    ----------
    name : str or None
        The artifact's name; None for a run that is never shipped (a smoke test): it trains.
    model : RNNCell
        The recipe's untrained cell (weights are loaded or trained into it).
    recipe : mapping
        Every setting of the recipe, ``threads`` included (JSON-serialisable).
    seed : int
        The recipe's seed.
    train : callable
        Trains ``model`` in place and returns the result.
    errors : callable
        ``errors(result)`` gives the errors a manifest records (e.g. ``train_mse``,
        ``held_out_mse``); called only when a manifest is written.

    Returns
    -------
    FitResult
        See :func:`trained`.
    """
    if name is None:
        return train()
    key = recipe_key(name, recipe, type(model), seed)
    result = trained(name, model, key, train)
    if refreshing() and result.artifact is None:
        ship(name, result, key, recipe=recipe, seed=seed, errors=errors(result))
    return result


def ship(
    name: str,
    result: FitResult,
    key: str,
    *,
    recipe: Mapping[str, Any],
    seed: int,
    errors: Mapping[str, float | None],
    folder: Path | None = None,
) -> dict[str, Any]:
    """Write a trained network into the artifacts folder (over any artifact of that name).

    Parameters
    ----------
    name : str
        The artifact's name.
    result : FitResult
        The training outcome; ``result.model`` holds the weights to ship.
    key : str
        The recipe key.
    recipe : mapping
        The recipe's settings (with ``threads``), recorded in the manifest.
    seed : int
        The recipe's seed.
    errors : mapping
        The errors to record; a non-finite one (a network that diverges on those data) is
        recorded as null.
    folder : Path, optional
        The artifacts' folder; :func:`artifacts_dir` by default.

    Returns
    -------
    dict
        The manifest as written.
    """
    model = result.model
    tensors = {f"{_STATE_PREFIX}{k}": v for k, v in model.state_dict().items()}
    tensors["history"] = torch.tensor(result.history, dtype=torch.float64)
    manifest = {
        "format": ARTIFACT_FORMAT,
        "name": name,
        "key": key,
        "fit_key": result.key,
        "cell": type(model).__qualname__,
        "cell_version": type(model).VERSION,
        "config": model.config(),
        "recipe": dict(recipe),
        "seed": seed,
        "updates": result.epochs,
        "train_seconds": round(result.seconds, 1),
        "converged": result.converged,
        "errors": {k: _finite_or_none(v) for k, v in errors.items()},
        **training_environment(int(recipe["threads"])),
    }
    return write_entry(artifacts_dir() if folder is None else Path(folder), name, tensors,
                       manifest)


def load_results(
    name: str, key: str, fields: Schema
) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """Shipped arrays ``name`` (e.g. a fixed-point set) when their manifest carries ``key``.

    ``fields`` is the schema of the fields the results add to ``ENTRY_SCHEMA`` (those
    :func:`ship_results` was given). Returns ``(tensors, manifest)``, or None (with an
    :class:`ArtifactWarning` saying why) when they are missing, made from other inputs, fail
    their checksum, or their manifest does not fit the schema; None without a warning under
    ``FHNRNN_RETRAIN=1``.
    """
    if retraining():
        return None
    folder = artifacts_dir()
    try:
        entry = read_entry(
            folder, name, {"key": key, "format": ARTIFACT_FORMAT},
            f"{folder / name}.json was computed from other inputs (its key differs)",
            {**ENTRY_SCHEMA, **fields},
        )
        if entry is None:
            raise EntryError(f"no shipped results {name!r} in {folder}")
        return entry
    except EntryError as error:
        warnings.warn(f"{error}; computing them anew", ArtifactWarning, stacklevel=2)
        return None


def ship_results(
    name: str, key: str, tensors: Mapping[str, torch.Tensor], fields: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Write computed arrays into the artifacts folder, only under ``FHNRNN_REFRESH_ARTIFACTS=1``.

    Returns the manifest written (``fields`` plus the key, format and environment), or None.
    """
    if not refreshing():
        return None
    manifest = {
        "format": ARTIFACT_FORMAT,
        "name": name,
        "key": key,
        **fields,
        **training_environment(torch.get_num_threads()),
    }
    return write_entry(artifacts_dir(), name, dict(tensors), manifest)


def training_environment(threads: int) -> dict[str, Any]:
    """What a trained network's bits depend on besides its recipe."""
    return {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": threads,
        "deterministic_algorithms": DETERMINISTIC_ALGORITHMS,
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "python": platform.python_version(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def manifests() -> list[dict[str, Any]]:
    """The manifests of every shipped network, by name."""
    folder = artifacts_dir()
    return [
        manifest
        for path in sorted(folder.glob("*.json"))
        if (manifest := read_manifest(folder, path.stem)) is not None
    ]


def _finite_or_none(value: float | None) -> float | None:
    """An error as the manifest records it: null when missing or not finite."""
    return float(value) if value is not None and math.isfinite(value) else None
