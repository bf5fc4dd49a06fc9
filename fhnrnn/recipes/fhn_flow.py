"""The training recipe of the FHN flow network (notebook 06).

A small residual MLP cell (:class:`fhnrnn.models.ResidualMLPCell`, width 64, depth 2, one
update per ``dt = 0.5``) with an encoder of the observed ``(v, w)`` learns the FHN flow from
many short free-run windows of accurate trajectories: 36 currents on [0, 1.75], 12 random
starts and 8 starts near the fixed point each, 150 time units. Training is
:func:`fhnrnn.training.fit_windows` with windows of 5, 10, 20 and 40 steps and 18 000 Adam
steps. The network is shipped as ``artifacts/fhn-flow-seed<seed>``.

The held-out-band variant (``variant="band"``, issue 23) trains the same network without the
currents within ``HOPF_BAND`` = 0.15 of either Hopf point of FHN (0.331 and 1.419): 12 of the
36 currents (0.2-0.45 and 1.3-1.55) are removed, so the nearest training currents on either
side (0.15 | 0.5 and 1.25 | 1.6) rest or oscillate clearly (Re lambda = -0.142 | +0.144) and
the network must place each Hopf point itself. Five seeds (``BAND_SEEDS``) with 6 000 Adam
steps (a third of the full schedule, to fit five seeds on two shared cores) are shipped as
``artifacts/fhn-flow-band-seed<seed>``; seed 0 with the full 18 000 steps
(``variant="band-full"``) as ``artifacts/fhn-flow-band-full-seed0``, to measure what the
shorter schedule costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fhnrnn.analysis import rollout_float64
from fhnrnn.artifacts import obtain, recipe_key
from fhnrnn.fhn import FHN
from fhnrnn.models import ResidualMLPCell
from fhnrnn.tasks import FHNFlowTask, fhn_flow
from fhnrnn.training import FitResult, fit_windows

__all__ = [
    "BAND_SEEDS",
    "FLOW_BAND_RECIPE",
    "FLOW_RECIPE",
    "FLOW_VARIANTS",
    "HOPF_BAND",
    "FlowRun",
    "flow_artifact_keys",
    "flow_band_artifact_keys",
    "train_fhn_flow",
    "without_bands",
]

FLOW_RECIPE = {
    "dt": 0.5,
    "train_currents": np.round(0.05 * np.arange(36), 4).tolist(),  # 0, 0.05, ..., 1.75
    "held_out_currents": [0.1, 0.425, 0.725, 1.025, 1.325, 1.6],
    "n_random": 12,
    "n_near": 8,
    "t_max": 150.0,
    "width": 64,
    "depth": 2,
    "n_iters": 18_000,
    "window_lengths": [5, 10, 20, 40],
    "batch_size": 256,
    "lr": 3e-3,
    "lr_end": 6e-5,
    "clip": 1.0,
    "early_fraction": 0.3,
    # The network is tiny: one thread is as fast, and immune to contention.
    "threads": 1,
}
FLOW_QUICK_CHANGES = {"n_iters": 300}
# Half-width of the band of training currents left out around each Hopf point of FHN.
HOPF_BAND = 0.15
BAND_SEEDS = (0, 1, 2, 3, 4)


def without_bands(
    currents: list[float], centres: tuple[float, ...], half_width: float
) -> list[float]:
    """The currents farther than ``half_width`` from every centre.

    Parameters
    ----------
    currents : list of float
        Training currents ``(n,)``.
    centres : tuple of float
        Band centres (the Hopf points).
    half_width : float
        Half-width of each band (> 0); a current at distance <= half_width is removed.

    Returns
    -------
    list of float
        The kept currents, in their order.
    """
    if not half_width > 0.0:
        raise ValueError(f"half_width must be a positive number, got {half_width!r}")
    return [c for c in currents if all(abs(c - centre) > half_width for centre in centres)]


FLOW_BAND_RECIPE = {
    **FLOW_RECIPE,
    "train_currents": without_bands(FLOW_RECIPE["train_currents"], FHN().hopf_points(), HOPF_BAND),
    "hopf_band": HOPF_BAND,
    "n_iters": 6_000,
}
# Variant -> recipe; artifacts: ``fhn-flow-seed<s>``, ``fhn-flow-<variant>-seed<s>``.
FLOW_VARIANTS = {
    "full-data": FLOW_RECIPE,
    "band": FLOW_BAND_RECIPE,
    "band-full": {**FLOW_BAND_RECIPE, "n_iters": FLOW_RECIPE["n_iters"]},
}
# Held-out error of the manifest: RMSE of v over the first 10 time units of a free run.
_HELD_OUT_TIME = 10.0


@dataclass(frozen=True)
class FlowRun:
    """A trained FHN flow network and its data.

    Attributes
    ----------
    model : ResidualMLPCell
        The trained network; ``model.encode`` maps an observed ``(v, w)`` to a hidden state.
    fit : FitResult
        The training outcome (``history``: the loss of every Adam step).
    task, held_out : FHNFlowTask
        Training trajectories, and held-out ones at other currents (seed + 100).
    recipe : dict
        The settings used.
    """

    model: ResidualMLPCell
    fit: FitResult
    task: FHNFlowTask
    held_out: FHNFlowTask
    recipe: dict

    def encode(self, observed: np.ndarray) -> np.ndarray:
        """Hidden states ``(K, d)`` starting the network at observed ``(v, w)`` rows ``(K, 2)``."""
        with torch.no_grad():
            start = torch.as_tensor(observed, dtype=torch.float32)
            return self.model.encode(start).double().numpy()


def train_fhn_flow(
    quick: bool = False, seed: int = 0, *, progress: bool = True, variant: str = "full-data"
) -> FlowRun:
    """Train (or load the shipped) FHN flow network.

    Parameters
    ----------
    quick : bool
        Smoke-test settings (300 Adam steps); never shipped.
    seed : int
        Seed of the initial weights, the random starts and the window draws.
    progress : bool
        Show a progress bar while training.
    variant : str
        A key of :data:`FLOW_VARIANTS`: ``"full-data"`` (notebook 06's network), ``"band"``
        (the held-out-band variant) or ``"band-full"`` (the same with 18 000 steps).

    Returns
    -------
    FlowRun
    """
    if variant not in FLOW_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(FLOW_VARIANTS)}, got {variant!r}")
    recipe = {**FLOW_VARIANTS[variant], **(FLOW_QUICK_CHANGES if quick else {})}
    flow = {key: recipe[key] for key in ("n_random", "n_near", "t_max", "dt")}
    task = fhn_flow(np.array(recipe["train_currents"]), seed=seed, **flow)
    held_flow = {**flow, "n_random": 4, "n_near": 4}
    held_out = fhn_flow(np.array(recipe["held_out_currents"]), seed=seed + 100, **held_flow)
    model = ResidualMLPCell(
        2,
        input_size=1,
        output_size=2,
        width=recipe["width"],
        depth=recipe["depth"],
        dt=recipe["dt"],
        seed=seed,
    )

    def train_model() -> FitResult:
        return fit_windows(
            model,
            task,
            seed=seed,
            n_iters=recipe["n_iters"],
            window_lengths=tuple(recipe["window_lengths"]),
            batch_size=recipe["batch_size"],
            lr=recipe["lr"],
            lr_end=recipe["lr_end"],
            clip=recipe["clip"],
            early_fraction=recipe["early_fraction"],
            progress=progress,
            threads=recipe["threads"],
        )

    def errors(result: FitResult) -> dict[str, float]:
        return _errors(result, held_out, recipe["dt"])

    name = None if quick else _artifact_name(seed, variant)
    result = obtain(name, model, recipe, seed, train_model, errors)
    return FlowRun(model, result, task, held_out, recipe)


def flow_artifact_keys(seed: int = 0) -> dict[str, str]:
    """Artifact name -> recipe key of the flow network of ``seed``."""
    return _keys("full-data", (seed,))


def flow_band_artifact_keys(seeds: tuple[int, ...] = BAND_SEEDS) -> dict[str, str]:
    """Artifact name -> recipe key of the held-out-band networks: each seed, and full seed 0."""
    return {**_keys("band", seeds), **_keys("band-full", (0,))}


def _keys(variant: str, seeds: tuple[int, ...]) -> dict[str, str]:
    names = {seed: _artifact_name(seed, variant) for seed in seeds}
    recipe = FLOW_VARIANTS[variant]
    return {
        name: recipe_key(name, recipe, ResidualMLPCell, seed) for seed, name in names.items()
    }


def _artifact_name(seed: int, variant: str) -> str:
    infix = "" if variant == "full-data" else f"{variant}-"
    return f"fhn-flow-{infix}seed{seed}"


def _errors(result: FitResult, held_out: FHNFlowTask, dt: float) -> dict[str, float]:
    """Final training loss (mean of the last 100 steps) and held-out free-run RMSE of v."""
    steps = int(_HELD_OUT_TIME / dt)
    with torch.no_grad():
        x0 = result.model.encode(torch.as_tensor(held_out.starts, dtype=torch.float32))
    _, outputs = rollout_float64(result.model, held_out.currents, steps, x0.double().numpy())
    error = outputs[:, :, 0] - held_out.trajectories[:, 1 : steps + 1, 0]
    return {
        "train_loss": float(np.mean(result.history[-100:])),
        "held_out_rmse_v_10": float(np.sqrt(np.mean(error**2))),
    }
