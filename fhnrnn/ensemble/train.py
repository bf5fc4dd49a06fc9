"""Training one run of the ensemble, with the study's schedule (:mod:`fhnrnn.recipes`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from fhnrnn.ensemble.factors import RunSpec
from fhnrnn.models import GRUAdapter, LSTMAdapter, PaperRNN, RNNCell, TanhRNN, fold_normalisation
from fhnrnn.tasks import FHNVoltageTask, fhn_grid, fhn_voltage
from fhnrnn.training import FitResult, fit

__all__ = ["TrainedRun", "new_cell", "parameter_count", "train_run"]


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
        The training outcome (in normalised units).
    train, held_out : FHNVoltageTask
        The training conditions and the held-out ones (midpoints of the training currents).
    """

    spec: RunSpec
    model: RNNCell
    fit: FitResult
    train: FHNVoltageTask
    held_out: FHNVoltageTask


def new_cell(spec: RunSpec) -> RNNCell:
    """The untrained cell of a run, drawn from the run's seed."""
    recipe = spec.recipe()
    size = recipe["hidden_size"]
    if spec.cell == "paper":
        options = {key: recipe[key] for key in ("init", "period_range") if key in recipe}
        return PaperRNN(hidden_size=size, n_layers=recipe["n_layers"], seed=spec.seed, **options)
    if spec.cell == "tanh":
        return TanhRNN(1, 1, size, spectral_radius=recipe["spectral_radius"],
                       readout_scale=recipe["readout_scale"], seed=spec.seed)
    adapter = {"gru": GRUAdapter, "lstm": LSTMAdapter}[spec.cell]
    return adapter.create(1, 1, size, seed=spec.seed)


def train_run(spec: RunSpec, *, progress: bool = False) -> TrainedRun:
    """Train the network of ``spec`` (or load it from the training cache).

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
    currents, midpoints = fhn_grid(recipe["n_currents"], recipe["I_range"])
    train, held_out = fhn_voltage(currents), fhn_voltage(midpoints)
    u_mean, u_std = float(currents.mean()), float(currents.std())
    voltages = train.targets.double()
    y_mean, y_std = float(voltages.mean()), float(voltages.std(correction=0))
    model = new_cell(spec)
    result = fit(
        model,
        ((train.inputs.double() - u_mean) / u_std).float(),
        ((voltages - y_mean) / y_std).float(),
        seed=spec.seed,
        progress=progress,
        **_fit_settings(recipe, y_std),
    )
    folded = fold_normalisation(result.model, u_mean, u_std, y_mean, y_std)
    return TrainedRun(spec=spec, model=folded, fit=result, train=train, held_out=held_out)


def _fit_settings(recipe: dict[str, Any], y_std: float) -> dict[str, Any]:
    return {
        "max_epochs": recipe["updates"],
        "target_loss": recipe["target_mse"] / y_std**2,
        "lr": recipe["lr"],
        "clip": 1.0,
        "batch_size": recipe["batch_size"],
        "sampling": "sample",
        "lr_schedule": "cosine",
        "lr_end": recipe["lr_end"],
        "length_ramp": recipe["length_ramp"],
        "guard": recipe["guard"],
        "threads": recipe["threads"],
    }


def parameter_count(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
