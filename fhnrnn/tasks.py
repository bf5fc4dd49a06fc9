"""Datasets for the recurrent networks: FHN voltage, sine-wave generator, 3-bit flip-flop.

Every generator returns a small frozen dataclass holding float32 tensors ``inputs`` (B, T, m)
and ``targets`` (B, T, p), the sample times (T,) as float64, and the parameters that define
the conditions; being containers of arrays, the dataclasses compare by identity. The time
convention matches :meth:`fhnrnn.models.RNNCell.rollout`: the network's output at index t,
computed after it has seen ``inputs[:, t]``, is compared with ``targets[:, t]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from fhnrnn._validation import (
    finite_positive,
    non_negative_int,
    positive_int,
    probability,
    real_array,
)
from fhnrnn.fhn import FHN

__all__ = [
    "FHNFlowTask",
    "FHNVoltageTask",
    "FlipFlopTask",
    "SineWaveTask",
    "Task",
    "fhn_flow",
    "fhn_grid",
    "fhn_voltage",
    "flip_flop",
    "sine_wave",
]


@dataclass(frozen=True, eq=False)
class Task:
    """Inputs and targets of a sequence task.

    Attributes
    ----------
    inputs : Tensor, shape (B, T, m), float32
    targets : Tensor, shape (B, T, p), float32
    times : numpy.ndarray, shape (T,), float64
        Time of each sample.
    """

    inputs: Tensor
    targets: Tensor
    times: np.ndarray


@dataclass(frozen=True, eq=False)
class FlipFlopTask(Task):
    """The n-bit flip-flop (see :func:`flip_flop`); m = p = ``n_bits``, ``times = arange(T)``."""

    n_bits: int
    p_pulse: float
    seed: int


@dataclass(frozen=True, eq=False)
class SineWaveTask(Task):
    """The sine-wave generator (see :func:`sine_wave`); m = p = 1.

    Attributes
    ----------
    omegas : numpy.ndarray, shape (B,)
        Angular frequency of each condition (radians per unit time).
    levels : numpy.ndarray, shape (B,)
        Static input of each condition.
    dt : float
        Sampling step.
    """

    omegas: np.ndarray
    levels: np.ndarray
    dt: float


@dataclass(frozen=True, eq=False)
class FHNVoltageTask(Task):
    """The FHN voltage task (see :func:`fhn_voltage`); m = p = 1.

    Attributes
    ----------
    currents : numpy.ndarray, shape (B,)
        External current I of each condition (unscaled).
    scale : float
        Factor applied to both the input current and the target voltage.
    dt : float
        Euler step and sampling step.
    """

    currents: np.ndarray
    scale: float
    dt: float


def _interval(bounds: tuple[float, float], name: str) -> tuple[float, float]:
    try:
        low, high = (float(bound) for bound in bounds)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a pair (low, high), got {bounds!r}") from error
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{name} must be finite with low < high, got {bounds!r}")
    return low, high


def _float32(array: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def flip_flop(
    n_bits: int = 3,
    *,
    n_trials: int = 64,
    n_steps: int = 100,
    p_pulse: float = 0.05,
    seed: int,
) -> FlipFlopTask:
    """The n-bit flip-flop task of Sussillo & Barak (2013).

    Each of the ``n_bits`` input channels receives, at every time step independently with
    probability ``p_pulse``, a one-step pulse of +1 or -1 (equally likely), and is 0 otherwise.
    Output channel k must hold the sign of the most recent pulse on input channel k, the pulse
    at the current step included, and is 0 before channel k's first pulse.

    Parameters
    ----------
    n_bits : int
        Number of independent channels (m = p = ``n_bits``).
    n_trials : int
        Number B of sequences.
    n_steps : int
        Number T of time steps per sequence.
    p_pulse : float
        Pulse probability per channel and step, in (0, 1].
    seed : int
        Seed of the :class:`numpy.random.Generator` drawing the pulses.

    Returns
    -------
    FlipFlopTask
        ``inputs`` and ``targets`` of shape (B, T, n_bits), values in {-1, 0, 1}.
    """
    n_bits = positive_int(n_bits, "n_bits")
    n_trials = positive_int(n_trials, "n_trials")
    n_steps = positive_int(n_steps, "n_steps")
    p_pulse = probability(p_pulse, "p_pulse")
    seed = non_negative_int(seed, "seed")
    rng = np.random.default_rng(seed)
    shape = (n_trials, n_steps, n_bits)
    pulses = rng.random(shape) < p_pulse
    signs = rng.choice(np.array([-1.0, 1.0]), size=shape)
    inputs = np.where(pulses, signs, 0.0)
    step_index = np.arange(n_steps)[None, :, None]
    last_pulse = np.maximum.accumulate(np.where(pulses, step_index, -1), axis=1)
    held = np.take_along_axis(inputs, np.maximum(last_pulse, 0), axis=1)
    targets = np.where(last_pulse >= 0, held, 0.0)
    return FlipFlopTask(
        inputs=_float32(inputs),
        targets=_float32(targets),
        times=np.arange(n_steps, dtype=np.float64),
        n_bits=n_bits,
        p_pulse=p_pulse,
        seed=seed,
    )


def sine_wave(
    n_conditions: int = 51,
    *,
    dt: float = 1.0,
    n_steps: int | None = None,
    omega_range: tuple[float, float] = (0.1, 0.6),
) -> SineWaveTask:
    """The sine-wave generator task of Sussillo & Barak (2013).

    Condition ``j = 0, ..., n - 1`` (n = ``n_conditions``) has the static input
    ``u_j = j / n + 0.25`` and the target ``sin(omega_j t)`` at ``t = k dt``,
    ``k = 0, ..., T - 1``, with ``omega_j`` evenly spaced over ``omega_range``.

    Parameters
    ----------
    n_conditions : int
        Number B of frequencies (51 in the original task).
    dt : float
        Sampling step (time units per network step).
    n_steps : int, optional
        Number T of samples. By default the smallest T whose last sample lies at or after two
        periods of the slowest wave.
    omega_range : (float, float)
        Smallest and largest angular frequency (radians per unit time), both > 0.

    Returns
    -------
    SineWaveTask
        ``inputs`` and ``targets`` of shape (B, T, 1), ``omegas`` and ``levels`` of shape (B,).
    """
    n_conditions = positive_int(n_conditions, "n_conditions")
    dt = finite_positive(dt, "dt")
    low, high = _interval(omega_range, "omega_range")
    if low <= 0:
        raise ValueError(f"omega_range must be positive, got {omega_range!r}")
    if n_steps is None:
        n_steps = math.ceil(2 * (2 * math.pi / low) / dt) + 1
    n_steps = positive_int(n_steps, "n_steps")
    omegas = np.linspace(low, high, n_conditions)
    levels = np.arange(n_conditions) / n_conditions + 0.25
    times = dt * np.arange(n_steps)
    inputs = np.broadcast_to(levels[:, None, None], (n_conditions, n_steps, 1))
    targets = np.sin(omegas[:, None] * times[None, :])[..., None]
    return SineWaveTask(
        inputs=_float32(inputs),
        targets=_float32(targets),
        times=times,
        omegas=omegas,
        levels=levels,
        dt=dt,
    )


def fhn_voltage(
    I_values: ArrayLike,
    *,
    dt: float = 0.3,
    t_max: float = 100.0,
    scale: float = 1.0,
    state0: tuple[float, float] = (0.0, 0.0),
    model: FHN | None = None,
) -> FHNVoltageTask:
    """The FHN voltage task: from a constant current I, produce the voltage v(t).

    Each condition integrates the FHN model with forward Euler (step ``dt``) from ``state0``
    for ``t_max`` time units (:meth:`fhnrnn.fhn.FHN.simulate`). The input is the constant
    ``scale * I`` and the target ``scale * v(t_k)``; the original study used ``scale = 0.5``
    (it halved both to make training converge).

    Parameters
    ----------
    I_values : array_like, shape (B,)
        External currents, one condition each (a scalar gives B = 1).
    dt : float
        Euler step and sampling step.
    t_max : float
        Duration; T = floor(t_max / dt) + 1 samples (334 with the defaults).
    scale : float
        Factor (> 0) applied to inputs and targets.
    state0 : (float, float)
        Initial (v, w) of every condition.
    model : FHN, optional
        FHN constants; ``FHN()`` (a = 0.7, b = 0.8, tau = 12.5) by default.

    Returns
    -------
    FHNVoltageTask
        ``inputs`` and ``targets`` of shape (B, T, 1), ``currents`` of shape (B,).
    """
    currents = np.atleast_1d(real_array(I_values, "I_values"))
    if currents.ndim != 1 or currents.size == 0:
        raise ValueError(
            f"I_values must be a non-empty 1-D array of currents, got shape {currents.shape}"
        )
    scale = finite_positive(scale, "scale")
    fhn = FHN() if model is None else model
    if not isinstance(fhn, FHN):
        raise ValueError(f"model must be an fhnrnn.fhn.FHN, got {type(model).__name__}")
    with np.errstate(over="ignore", invalid="ignore"):
        times, states = fhn.simulate(currents, state0=state0, t_max=t_max, dt=dt, method="euler")
        targets = (scale * states[..., :1]).astype(np.float32)
    _check_euler_stable(targets, currents, dt)
    inputs = np.broadcast_to(scale * currents[:, None, None], (currents.size, times.size, 1))
    return FHNVoltageTask(
        inputs=_float32(inputs),
        targets=_float32(targets),
        times=times,
        currents=currents,
        scale=scale,
        dt=float(dt),
    )


def _check_euler_stable(targets: np.ndarray, currents: np.ndarray, dt: float) -> None:
    """Refuse targets (B, T, 1) that diverged: forward Euler is unstable at those currents."""
    diverged = ~np.isfinite(targets).all(axis=(1, 2))
    if diverged.any():
        raise ValueError(
            f"the forward Euler step is unstable for I_values I = {currents[diverged].tolist()} "
            f"with dt = {dt}: the simulated voltage becomes NaN or inf; use a smaller dt or "
            "currents closer to the FHN model's range"
        )


def fhn_grid(
    n: int = 11, I_range: tuple[float, float] = (0.4, 1.4)
) -> tuple[np.ndarray, np.ndarray]:
    """Training currents on an even grid and held-out currents midway between them.

    Parameters
    ----------
    n : int
        Number of training currents (>= 2).
    I_range : (float, float)
        First and last training current (the original study's range by default).

    Returns
    -------
    train : numpy.ndarray, shape (n,)
        ``linspace(low, high, n)``.
    held_out : numpy.ndarray, shape (n - 1,)
        Midpoints of consecutive training currents.
    """
    if positive_int(n, "n") < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    low, high = _interval(I_range, "I_range")
    train = np.linspace(low, high, n)
    return train, (train[:-1] + train[1:]) / 2


@dataclass(frozen=True, eq=False)
class FHNFlowTask:
    """Accurate FHN trajectories from many starts at many currents (see :func:`fhn_flow`).

    Attributes
    ----------
    trajectories : numpy.ndarray, shape (N, T, 2), float64
        ``(v, w)`` sampled every ``dt``; ``trajectories[:, 0]`` equals ``starts``.
    currents : numpy.ndarray, shape (N,)
        Constant current I of each trajectory.
    starts : numpy.ndarray, shape (N, 2)
        Initial ``(v, w)`` of each trajectory.
    times : numpy.ndarray, shape (T,)
        ``dt * arange(T)``.
    dt : float
        Sampling step.
    seed : int
        Seed of the random starts.
    """

    trajectories: np.ndarray
    currents: np.ndarray
    starts: np.ndarray
    times: np.ndarray
    dt: float
    seed: int


def _phase_box(box: object) -> tuple[tuple[float, float], tuple[float, float]]:
    """``box`` checked as two ranges ``((v_low, v_high), (w_low, w_high))``."""
    try:
        v_range, w_range = box
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"box must be two ranges ((v_low, v_high), (w_low, w_high)), got {box!r}"
        ) from error
    return _interval(v_range, "box[0] (v range)"), _interval(w_range, "box[1] (w range)")


def _flow_starts(
    center: tuple[float, float],
    n_random: int,
    n_near: int,
    box: tuple[tuple[float, float], tuple[float, float]],
    near_radius: tuple[float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """``(0, 0)``, uniform starts in ``box`` and log-uniform-radius starts around ``center``."""
    (v_low, v_high), (w_low, w_high) = box
    uniform = np.column_stack(
        [rng.uniform(v_low, v_high, n_random), rng.uniform(w_low, w_high, n_random)]
    )
    radius = np.exp(rng.uniform(np.log(near_radius[0]), np.log(near_radius[1]), n_near))
    angle = rng.uniform(0.0, 2.0 * np.pi, n_near)
    near = np.asarray(center) + radius[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    return np.concatenate([np.zeros((1, 2)), uniform, near])


def fhn_flow(
    I_values: ArrayLike,
    *,
    n_random: int,
    n_near: int,
    t_max: float,
    dt: float,
    seed: int,
    box: tuple[tuple[float, float], tuple[float, float]] = ((-2.5, 2.5), (-1.0, 2.5)),
    near_radius: tuple[float, float] = (1e-3, 0.5),
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> FHNFlowTask:
    """Accurate trajectories of the FHN flow from starts that cover the phase plane.

    For every current, ``1 + n_random + n_near`` trajectories are integrated with
    :meth:`fhnrnn.fhn.FHN.simulate` (``method="rk45"``): one from ``(0, 0)``, ``n_random``
    from starts drawn uniformly in ``box``, and ``n_near`` from starts around the analytic
    fixed point at a distance drawn log-uniformly in ``near_radius`` and a uniform angle. The
    starts near the fixed point show how the flow leaves (or approaches) it on every scale,
    which is what a model needs to learn the fixed point's stability.

    Parameters
    ----------
    I_values : array_like, shape (K,)
        Currents (finite).
    n_random : int
        Uniform starts per current (>= 0).
    n_near : int
        Starts near the fixed point per current (>= 0).
    t_max : float
        Length of each trajectory (> 0); samples at ``k * dt <= t_max``.
    dt : float
        Sampling step (> 0).
    seed : int
        Seed of the starts (non-negative).
    box : ((float, float), (float, float))
        Ranges of ``v`` and ``w`` of the uniform starts.
    near_radius : (float, float)
        Smallest and largest distance from the fixed point (``0 < low < high``).
    rtol, atol : float
        Integrator tolerances.

    Returns
    -------
    FHNFlowTask
        N = K (1 + n_random + n_near) trajectories, grouped by current in the given order.
    """
    currents = real_array(I_values, "I_values")
    if currents.ndim != 1 or currents.size < 1:
        raise ValueError(f"I_values must be a non-empty 1-D array of currents, got {I_values!r}")
    n_random = non_negative_int(n_random, "n_random")
    n_near = non_negative_int(n_near, "n_near")
    seed = non_negative_int(seed, "seed")
    box = _phase_box(box)
    low, high = _interval(near_radius, "near_radius")
    if low <= 0:
        raise ValueError(f"near_radius must satisfy 0 < low < high, got {near_radius!r}")
    t_max = finite_positive(t_max, "t_max")
    dt = finite_positive(dt, "dt")
    model = FHN()
    rng = np.random.default_rng(seed)
    starts, trajectories = [], []
    for current in currents:
        center = model.fixed_point(current)
        group = _flow_starts(center, n_random, n_near, box, (low, high), rng)
        times, states = model.simulate(
            np.full(len(group), current),
            group,
            t_max=t_max,
            dt=dt,
            method="rk45",
            rtol=rtol,
            atol=atol,
        )
        starts.append(group)
        trajectories.append(states)
    n_per = 1 + n_random + n_near
    return FHNFlowTask(
        trajectories=np.concatenate(trajectories),
        currents=np.repeat(currents, n_per),
        starts=np.concatenate(starts),
        times=times,
        dt=float(dt),
        seed=seed,
    )
