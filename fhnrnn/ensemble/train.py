"""Training one run of the ensemble with the study's schedule, and its shipped network.

The data, their normalisation and the call of :func:`fhnrnn.training.fit` are those of the
example run's recipe (:func:`fhnrnn.recipes.fhn_voltage.fit_fhn_voltage`); a run only brings
its own cell and settings.

Every trained network is shipped (:func:`ship_run`) in ``artifacts/ensemble/`` as
``<run_id>.safetensors`` and its manifest ``<run_id>.json`` (the format of
:mod:`fhnrnn.artifacts`: the weights in normalised units, the recipe key, the training
environment and errors). The measurement starts from the shipped network (:func:`load_run`),
so that anyone can re-measure the ensemble without training it; training again
(:func:`train_run`) is the separate path, compared against the shipped networks
(:func:`compare_networks`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fhnrnn._store import entry_paths, read_manifest
from fhnrnn.artifacts import ArtifactWarning, artifacts_dir, load_network, recipe_key, ship
from fhnrnn.ensemble.factors import RunSpec
from fhnrnn.models import GRUAdapter, LSTMAdapter, PaperRNN, RNNCell, TanhRNN, fold_normalisation
from fhnrnn.recipes.fhn_voltage import (
    FHNVoltageData,
    fhn_voltage_data,
    fit_fhn_voltage,
    voltage_mse,
)
from fhnrnn.tasks import FHNVoltageTask
from fhnrnn.training import FitResult

__all__ = [
    "TrainedRun",
    "check_no_network",
    "compare_networks",
    "load_run",
    "networks_dir",
    "new_cell",
    "parameter_count",
    "run_key",
    "ship_run",
    "train_run",
]

_CELL_CLASSES: dict[str, type[RNNCell]] = {
    "paper": PaperRNN, "tanh": TanhRNN, "gru": GRUAdapter, "lstm": LSTMAdapter,
}


@dataclass(frozen=True)
class TrainedRun:
    """A trained network of the ensemble.

    Attributes
    ----------
    spec : RunSpec
        The run.
    model : RNNCell
        The trained network with the normalisation folded in (raw current -> raw voltage).
    fit : FitResult
        The training outcome (in normalised units); for a shipped network, ``fit.artifact``
        is its run id.
    train, held_out : FHNVoltageTask
        The training conditions and the held-out ones (midpoints of the training currents).
    """

    spec: RunSpec
    model: RNNCell
    fit: FitResult
    train: FHNVoltageTask
    held_out: FHNVoltageTask


def networks_dir() -> Path:
    """``artifacts/ensemble``: the shipped networks of the ensemble."""
    return artifacts_dir() / "ensemble"


def run_key(spec: RunSpec) -> str:
    """The recipe key of a run (:func:`fhnrnn.artifacts.recipe_key`): what its network is."""
    return recipe_key(spec.run_id, spec.recipe(), _CELL_CLASSES[spec.cell], spec.seed)


def new_cell(spec: RunSpec) -> RNNCell:
    """The untrained cell of a run, drawn from the run's seed."""
    recipe = spec.recipe()
    size = recipe["hidden_size"]
    if spec.cell == "paper":
        options = {key: recipe[key] for key in ("init", "period_range") if key in recipe}
        return PaperRNN(hidden_size=size, n_layers=recipe["n_layers"], seed=spec.seed, **options)
    if spec.cell == "tanh":
        options = {key: recipe[key] for key in ("spectral_radius", "readout_scale", "input_scale",
                                                "init", "period_range") if key in recipe}
        return TanhRNN(1, 1, size, seed=spec.seed, **options)
    return _CELL_CLASSES[spec.cell].create(1, 1, size, seed=spec.seed)


def train_run(spec: RunSpec, *, progress: bool = False) -> TrainedRun:
    """Train the network of ``spec`` (or take it from the training cache).

    Inputs and targets are normalised to zero mean and unit variance for training, and the
    normalisation is folded into the returned model (:func:`fhnrnn.models.fold_normalisation`).

    Parameters
    ----------
    spec : RunSpec
        The run.
    progress : bool
        Show a progress bar over the updates.

    Returns
    -------
    TrainedRun
    """
    recipe = spec.recipe()
    data = fhn_voltage_data(recipe)
    result = fit_fhn_voltage(new_cell(spec), data, recipe, spec.seed, progress=progress)
    return _trained(spec, result, data)


def ship_run(run: TrainedRun, folder: Path | None = None, *, overwrite: bool = False) -> Path:
    """Write the network of ``run`` as ``FOLDER/<run_id>.safetensors`` and its manifest.

    Parameters
    ----------
    run : TrainedRun
        A run trained by :func:`train_run`.
    folder : Path, optional
        Where the network goes; :func:`networks_dir` by default.
    overwrite : bool
        Replace a network already there; otherwise that is an error.

    Returns
    -------
    Path
        The tensor file written.
    """
    folder = networks_dir() if folder is None else Path(folder)
    check_no_network(run.spec.run_id, folder, overwrite=overwrite)
    errors = {"train_mse": voltage_mse(run.model, run.train),
              "held_out_mse": voltage_mse(run.model, run.held_out)}
    ship(run.spec.run_id, run.fit, run_key(run.spec), recipe=run.spec.recipe(),
         seed=run.spec.seed, errors=errors, folder=folder)
    return entry_paths(folder, run.spec.run_id)[0]


def check_no_network(run_id: str, folder: Path, *, overwrite: bool = False) -> None:
    """Raise ValueError if ``folder`` already has the network of ``run_id`` (unless overwrite)."""
    if not overwrite and entry_paths(Path(folder), run_id)[1].exists():
        raise ValueError(f"run {run_id!r} already has a network in {folder}; pass overwrite")


def load_run(spec: RunSpec, folder: Path | None = None) -> TrainedRun:
    """The shipped network of ``spec``, with its data.

    Raises
    ------
    ValueError
        If ``FOLDER/<run_id>.json`` is missing, was trained by another recipe (its key
        differs from :func:`run_key`), or its weights fail their checksum; the message names
        the file.
    """
    folder = networks_dir() if folder is None else Path(folder)
    recipe = spec.recipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArtifactWarning)
        result = load_network(spec.run_id, new_cell(spec), run_key(spec), folder=folder)
    if result is None:
        raise ValueError(
            f"run {spec.run_id!r} has no network in {folder}: train it with "
            f"`python -m fhnrnn ensemble train {spec.run_id} --networks-dir {folder}`"
        )
    return _trained(spec, result, fhn_voltage_data(recipe))


def _trained(spec: RunSpec, result: FitResult, data: FHNVoltageData) -> TrainedRun:
    folded = fold_normalisation(result.model, *data.normalisation)
    return TrainedRun(spec=spec, model=folded, fit=result, train=data.train,
                      held_out=data.held_out)


def parameter_count(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)


def compare_networks(retrained: Path, shipped: Path | None = None) -> list[dict[str, Any]]:
    """Each network trained again in ``retrained`` against the shipped one of its run.

    Training is deterministic on one machine and thread count, but not across CPUs (see
    :mod:`fhnrnn.artifacts`), so a retrained network is compared by its bits and its errors.

    Parameters
    ----------
    retrained : Path
        A networks folder written by ``python -m fhnrnn ensemble train``.
    shipped : Path, optional
        The shipped networks; :func:`networks_dir` by default.

    Returns
    -------
    list of dict
        One row per retrained network: ``run_id``, ``identical`` (same weights, bit for
        bit), ``train_mse_shipped``, ``train_mse_retrained`` (NaN for a run not shipped).
    """
    shipped = networks_dir() if shipped is None else Path(shipped)
    rows = []
    for path in sorted(Path(retrained).glob("*.json")):
        again = read_manifest(Path(retrained), path.stem)
        if again is None:
            continue
        before = read_manifest(shipped, path.stem) or {}
        rows.append({
            "run_id": path.stem,
            "identical": before.get("sha256") == again["sha256"],
            "train_mse_shipped": before.get("errors", {}).get("train_mse", float("nan")),
            "train_mse_retrained": again["errors"]["train_mse"],
        })
    return rows
