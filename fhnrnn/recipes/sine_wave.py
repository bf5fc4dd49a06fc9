"""The training recipe of the sine-wave generator (notebook 02, Sussillo & Barak 2013).

A 200-unit :class:`fhnrnn.models.TanhRNN` learns the 51 frequencies of
:func:`fhnrnn.tasks.sine_wave` with full-batch L-BFGS (100 epochs). A small penalty on the
spread of the hidden states around their time average (``variance_penalty``) keeps each
frequency's orbit small, so that the orbit stays in the linear neighbourhood of its fixed
point; the control network is trained without it. Both are shipped networks
(``artifacts/sine-penalty-seed<seed>``, ``artifacts/sine-control-seed<seed>``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fhnrnn.artifacts import obtain, recipe_key
from fhnrnn.models import TanhRNN
from fhnrnn.tasks import SineWaveTask, sine_wave
from fhnrnn.training import FitOptions, FitResult, evaluate, fit

__all__ = [
    "SINE_RECIPE",
    "SineRun",
    "sine_artifact_keys",
    "sine_fit_options",
    "train_sine_generator",
]

SINE_RECIPE = {
    "hidden_size": 200,
    "spectral_radius": 1.1,
    "readout_scale": 8.0,
    "epochs": 100,
    "variance_penalty": 3e-3,
    "starts_per_input": 10,
    # 51 x 200 by 200 x 200 products are too small to gain from threads.
    "threads": 1,
}
SINE_QUICK_CHANGES = {"hidden_size": 32, "epochs": 4, "starts_per_input": 2}


@dataclass(frozen=True)
class SineRun:
    """A trained sine-wave generator.

    Attributes
    ----------
    model : TanhRNN
        The trained network (float32).
    fit : FitResult
        The training outcome.
    task : SineWaveTask
        The 51 conditions it was trained on.
    recipe : dict
        The settings used (``starts_per_input`` is the fixed-point search's).
    train_mse : float
        Mean squared error over all conditions and steps.
    """

    model: TanhRNN
    fit: FitResult
    task: SineWaveTask
    recipe: dict
    train_mse: float


def train_sine_generator(
    quick: bool = False, seed: int = 0, *, penalty: bool = True, progress: bool = True
) -> SineRun:
    """Train (or load the shipped) sine-wave generator.

    Parameters
    ----------
    quick : bool
        Smoke-test settings (32 units, 4 epochs); never shipped.
    seed : int
        Seed of the initial weights.
    penalty : bool
        Train with the state-spread penalty (True) or without it (the control).
    progress : bool
        Show a progress bar while training.

    Returns
    -------
    SineRun
    """
    recipe = _recipe(quick, penalty)
    task = sine_wave()
    model = TanhRNN(
        1,
        1,
        recipe["hidden_size"],
        spectral_radius=recipe["spectral_radius"],
        readout_scale=recipe["readout_scale"],
        seed=seed,
    )

    def train_model() -> FitResult:
        return fit(
            model, task.inputs, task.targets, sine_fit_options(recipe, seed), progress=progress
        )

    def errors(result: FitResult) -> dict[str, float | None]:
        # The task has no held-out conditions: its 51 frequencies are all trained.
        return {"train_mse": _mse(result.model, task), "held_out_mse": None}

    name = None if quick else _name(penalty, seed)
    result = obtain(name, model, recipe, seed, train_model, errors)
    return SineRun(model, result, task, recipe, _mse(result.model, task))


def sine_fit_options(recipe: dict, seed: int) -> FitOptions:
    """The training settings of ``recipe``: full-batch L-BFGS (step length 1, no clipping)
    for ``epochs`` epochs with the recipe's state-spread penalty, to no loss target."""
    return FitOptions(
        seed=seed,
        max_epochs=recipe["epochs"],
        target_loss=0.0,
        lr=1.0,
        clip=None,
        optimizer="lbfgs",
        variance_penalty=recipe["variance_penalty"],
        threads=recipe["threads"],
    )


def _recipe(quick: bool, penalty: bool) -> dict:
    recipe = {**SINE_RECIPE, **(SINE_QUICK_CHANGES if quick else {})}
    if not penalty:
        recipe["variance_penalty"] = 0.0
    return recipe


def _name(penalty: bool, seed: int) -> str:
    return f"sine-{'penalty' if penalty else 'control'}-seed{seed}"


def sine_artifact_keys(seed: int = 0) -> dict[str, str]:
    """Artifact name -> recipe key of the two sine-wave generators of ``seed``."""
    return {
        _name(penalty, seed): recipe_key(
            _name(penalty, seed), _recipe(False, penalty), TanhRNN, seed
        )
        for penalty in (True, False)
    }


def _mse(model: TanhRNN, task: SineWaveTask) -> float:
    with torch.no_grad():
        return float(np.mean(evaluate(model, task.inputs, task.targets)))
