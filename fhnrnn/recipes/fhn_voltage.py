"""The training recipe of the FHN network, shared by notebooks 03, 04 and 05.

One function, :func:`train_fhn_rnn`, holds every setting, so that the notebooks that analyse the
trained network all get the same model: the shipped network ``artifacts/fhn-<cell>-seed<seed>``
when it exists for the recipe (:mod:`fhnrnn.artifacts`), else one trained through
:func:`fhnrnn.training.fit` and its cache.

The recipe trains the paper's deep-ReLU cell (:class:`fhnrnn.models.PaperRNN`, 256 units, 5
layers) on the unscaled FHN voltage task (41 currents on [0.4, 1.4], 334 Euler steps of 0.3
from (v, w) = (0, 0)). What makes a 1670-layer-deep unrolled ReLU network trainable here:

- the paired-rotation initialisation (the initial cell is an exactly linear, neutral
  oscillator with periods of 90-200 steps, so gradients neither vanish nor explode);
- inputs and targets normalised to zero mean and unit variance (folded back into the weights
  afterwards with :func:`fhnrnn.models.fold_normalisation`, so the analysed network maps the
  raw current I to the raw voltage v);
- Adam with gradient clipping at 1, a cosine rate from 3e-4 to 1e-5, one update per epoch on
  8 random sequences, a linear ramp of the sequence length from 60 to 334 steps over the first
  40 % of the updates, and a divergence guard (restore and halve the rate);
- two torch threads (the setting the shipped networks were trained with).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from fhnrnn.artifacts import obtain, recipe_key
from fhnrnn.models import GRUAdapter, PaperRNN, RNNCell, fold_normalisation
from fhnrnn.tasks import FHNVoltageTask, fhn_grid, fhn_voltage
from fhnrnn.training import FitOptions, FitResult, evaluate, fit

__all__ = [
    "GRU_RECIPE",
    "RECIPE",
    "FHNRNNRun",
    "FHNVoltageData",
    "fhn_rnn_artifact_keys",
    "fhn_voltage_data",
    "fit_fhn_voltage",
    "train_fhn_rnn",
    "training_currents",
    "voltage_fit_options",
    "voltage_mse",
]

RECIPE = {
    "n_currents": 41,
    "I_range": (0.4, 1.4),
    "hidden_size": 256,
    "n_layers": 5,
    "period_range": (90.0, 200.0),
    "input_scale": 0.01,
    "lr": 3e-4,
    "lr_end": 1e-5,
    "updates": 600,
    "batch_size": 8,
    "length_ramp": (60, 0.4),
    "guard": 3.0,
    "target_mse": 1e-3,
    "threads": 2,
}
QUICK_CHANGES = {"n_currents": 11, "updates": 30, "hidden_size": 64}
# The comparison cell: a 64-unit GRU given the same data, schedule and about the same training
# time on this 2-core CPU as the paper's cell (its updates are ~7x cheaper, so it gets more).
GRU_RECIPE = {**RECIPE, "hidden_size": 64, "lr": 3e-3, "updates": 4000}
GRU_QUICK_CHANGES = {"n_currents": 11, "updates": 30, "hidden_size": 16}
_RECIPES = {"paper": (RECIPE, QUICK_CHANGES), "gru": (GRU_RECIPE, GRU_QUICK_CHANGES)}


@dataclass(frozen=True)
class FHNRNNRun:
    """A trained FHN network and its data.

    Attributes
    ----------
    model : RNNCell
        The trained network with the normalisation folded in: raw current -> raw voltage
        (a :class:`fhnrnn.models.PaperRNN`, or a :class:`fhnrnn.models.GRUAdapter`).
    fit : FitResult
        The training outcome (its model works on normalised data; history in normalised
        units).
    train : FHNVoltageTask
        Training conditions (raw units).
    held_out : FHNVoltageTask
        Held-out conditions, the midpoints of the training currents (raw units).
    normalisation : tuple of float
        ``(u_mean, u_std, y_mean, y_std)`` used in training.
    train_mse, held_out_mse : float
        Mean squared error of ``model`` in raw voltage units, over all conditions and steps.
    name : str or None
        The shipped network's name (``fhn-<cell>-seed<seed>``); None for a quick run.
    key : str
        What identifies the network: the recipe key (:func:`fhnrnn.artifacts.recipe_key`),
        or the training key for a quick run.
    """

    model: RNNCell
    fit: FitResult
    train: FHNVoltageTask
    held_out: FHNVoltageTask
    normalisation: tuple[float, float, float, float]
    train_mse: float
    held_out_mse: float
    name: str | None
    key: str


def train_fhn_rnn(
    quick: bool = False,
    seed: int = 0,
    *,
    cell: Literal["paper", "gru"] = "paper",
    progress: bool = True,
) -> FHNRNNRun:
    """Train (or load from the cache) the FHN network with the shared recipe.

    Parameters
    ----------
    quick : bool
        Smoke-test settings: 11 currents, 30 updates and a small cell (a poor fit, in
        seconds); never shipped, always trained (or taken from the training cache).
    seed : int
        Seed of the initial weights and of the minibatch draws.
    cell : {"paper", "gru"}
        ``"paper"``: the study's deep-ReLU cell with ``RECIPE``; ``"gru"``: the comparison
        cell, a GRU with ``GRU_RECIPE``.
    progress : bool
        Show a progress bar while training.

    Returns
    -------
    FHNRNNRun
        The trained (folded) model, the fit result, the data and the errors.
    """
    if cell not in _RECIPES:
        raise ValueError(f"cell must be 'paper' or 'gru', got {cell!r}")
    full, quick_changes = _RECIPES[cell]
    recipe = {**full, **(quick_changes if quick else {})}
    data = fhn_voltage_data(recipe)
    model = _new_cell(cell, recipe, seed)

    def train_model() -> FitResult:
        return fit_fhn_voltage(model, data, recipe, seed, progress=progress)

    def errors(result: FitResult) -> dict[str, float]:
        folded = fold_normalisation(result.model, *data.normalisation)
        return {"train_mse": voltage_mse(folded, data.train),
                "held_out_mse": voltage_mse(folded, data.held_out)}

    name = None if quick else f"fhn-{cell}-seed{seed}"
    result = obtain(name, model, recipe, seed, train_model, errors)
    folded = fold_normalisation(result.model, *data.normalisation)
    return FHNRNNRun(
        model=folded,
        fit=result,
        train=data.train,
        held_out=data.held_out,
        normalisation=data.normalisation,
        train_mse=voltage_mse(folded, data.train),
        held_out_mse=voltage_mse(folded, data.held_out),
        name=name,
        key=result.key if name is None else recipe_key(name, recipe, type(model), seed),
    )


_CELLS = {"paper": PaperRNN, "gru": GRUAdapter}


def fhn_rnn_artifact_keys(seed: int = 0) -> dict[str, str]:
    """Artifact name -> recipe key of the study's cell and the GRU of ``seed``."""
    names = {cell: f"fhn-{cell}-seed{seed}" for cell in _RECIPES}
    return {
        names[cell]: recipe_key(names[cell], _RECIPES[cell][0], _CELLS[cell], seed)
        for cell in _RECIPES
    }


def _new_cell(cell: str, recipe: dict[str, Any], seed: int) -> RNNCell:
    """The untrained cell of the recipe."""
    if cell == "gru":
        return GRUAdapter.create(1, 1, recipe["hidden_size"], seed=seed)
    return PaperRNN(
        hidden_size=recipe["hidden_size"],
        n_layers=recipe["n_layers"],
        init="paired_rotation",
        period_range=recipe["period_range"],
        input_scale=recipe["input_scale"],
        seed=seed,
    )


@dataclass(frozen=True)
class FHNVoltageData:
    """The FHN voltage task of a recipe, with the normalisation its training uses.

    Attributes
    ----------
    train : FHNVoltageTask
        ``recipe["n_currents"]`` currents evenly spaced on ``recipe["I_range"]`` (raw units).
    held_out : FHNVoltageTask
        The midpoints of the training currents (raw units).
    normalisation : tuple of float
        ``(u_mean, u_std, y_mean, y_std)`` of the training inputs and voltages.
    """

    train: FHNVoltageTask
    held_out: FHNVoltageTask
    normalisation: tuple[float, float, float, float]


def fhn_voltage_data(recipe: dict[str, Any]) -> FHNVoltageData:
    """The training and held-out conditions of ``recipe`` and their normalisation."""
    currents, midpoints = training_currents(recipe)
    train, held_out = fhn_voltage(currents), fhn_voltage(midpoints)
    voltages = train.targets.double()
    normalisation = (float(currents.mean()), float(currents.std()),
                     float(voltages.mean()), float(voltages.std(correction=0)))
    return FHNVoltageData(train=train, held_out=held_out, normalisation=normalisation)


def training_currents(recipe: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The training currents of ``recipe`` and the held-out ones.

    The grid ``fhn_grid(n_currents, I_range)``; with a ``held_out_band`` ``(low, high)`` the
    grid's currents strictly inside it are left out of training. The held-out currents are
    the midpoints of the whole grid, the band's included.

    Returns
    -------
    train : ndarray, shape (n_train,)
    held_out : ndarray, shape (n_currents - 1,)

    Raises
    ------
    ValueError
        If the band is not two finite numbers ``low < high``, or leaves fewer than two
        training currents.
    """
    currents, midpoints = fhn_grid(recipe["n_currents"], recipe["I_range"])
    band = recipe.get("held_out_band")
    if band is None:
        return currents, midpoints
    values = np.asarray(band, dtype=np.float64)
    if values.shape != (2,) or not np.all(np.isfinite(values)) or values[0] >= values[1]:
        raise ValueError(f"held_out_band must be (low, high) with low < high, got {band!r}")
    kept = currents[(currents <= values[0]) | (currents >= values[1])]
    if len(kept) < 2:
        raise ValueError(f"held_out_band {band!r} leaves {len(kept)} training current(s); "
                         "at least 2 are needed")
    return kept, midpoints


def fit_fhn_voltage(
    model: RNNCell, data: FHNVoltageData, recipe: dict[str, Any], seed: int, *,
    progress: bool = True,
) -> FitResult:
    """Train ``model`` on the normalised task with the study's schedule (cached by ``fit``).

    ``recipe`` gives ``updates``, ``target_mse`` (raw units), ``lr``, ``lr_end``,
    ``batch_size``, ``length_ramp``, ``guard`` and ``threads``; the schedule is one Adam update
    per epoch on sampled sequences, a cosine rate and gradient clipping at 1. The returned
    model works on normalised data: fold ``data.normalisation`` into it.
    """
    u_mean, u_std, y_mean, y_std = data.normalisation
    return fit(
        model,
        ((data.train.inputs.double() - u_mean) / u_std).float(),
        ((data.train.targets.double() - y_mean) / y_std).float(),
        voltage_fit_options(recipe, seed, y_std),
        progress=progress,
    )


def voltage_fit_options(recipe: dict[str, Any], seed: int, y_std: float) -> FitOptions:
    """The training settings of ``recipe`` on voltages normalised by ``y_std``.

    One Adam update per epoch on ``batch_size`` sampled sequences, a cosine rate from ``lr``
    to ``lr_end``, gradient clipping at 1, the recipe's length ramp and divergence guard, and
    the target ``target_mse`` (raw units) in normalised units.
    """
    return FitOptions(
        seed=seed,
        max_epochs=recipe["updates"],
        target_loss=recipe["target_mse"] / y_std**2,
        lr=recipe["lr"],
        clip=1.0,
        batch_size=recipe["batch_size"],
        sampling="sample",
        lr_schedule="cosine",
        lr_end=recipe["lr_end"],
        length_ramp=recipe["length_ramp"],
        guard=recipe["guard"],
        threads=recipe["threads"],
    )


def voltage_mse(model: RNNCell, task: FHNVoltageTask) -> float:
    """Mean squared error over all conditions and steps (conditions have equal length)."""
    with torch.no_grad():
        return float(np.mean(evaluate(model, task.inputs, task.targets)))
