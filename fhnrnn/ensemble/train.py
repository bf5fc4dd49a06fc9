"""Training one run of the ensemble, with the study's schedule.

The data, their normalisation and the call of :func:`fhnrnn.training.fit` are those of the
example run's recipe (:func:`fhnrnn.recipes.fhn_voltage.fit_fhn_voltage`); a run only brings
its own cell and settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fhnrnn.ensemble.factors import RunSpec
from fhnrnn.models import GRUAdapter, LSTMAdapter, PaperRNN, RNNCell, TanhRNN, fold_normalisation
from fhnrnn.recipes.fhn_voltage import fhn_voltage_data, fit_fhn_voltage
from fhnrnn.tasks import FHNVoltageTask
from fhnrnn.training import FitResult

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
    data = fhn_voltage_data(recipe)
    result = fit_fhn_voltage(new_cell(spec), data, recipe, spec.seed, progress=progress)
    folded = fold_normalisation(result.model, *data.normalisation)
    return TrainedRun(spec=spec, model=folded, fit=result, train=data.train,
                      held_out=data.held_out)


def parameter_count(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
