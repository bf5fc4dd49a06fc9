"""The oscillation a map settles on at a constant current: :func:`find_cycles`.

A trained map's oscillation is an invariant closed curve whose rotation is in general not a
whole number of steps, so the cycle is measured on a free run rather than solved for as a
k-cycle: the map is iterated past a transient, then over a window, and the window is read.

- *Spikes* are the upward crossings of a voltage threshold (by default the middle of the
  window's voltage range), timed by linear interpolation between the two steps around each.
- *Period*: the mean time between spikes, in steps and in time units (steps times ``dt``).
- *Convergence*: the window is split in halves; the run has converged to a cycle when each
  half holds at least ``min_spikes`` spikes and the halves' mean periods and voltage ranges
  agree to ``rtol``. A run whose voltage range is below ``rest_tol`` and whose last step moved
  the state by less than ``rest_tol`` has come to rest (a stable fixed point). Anything else
  is "not converged", with the reason in :attr:`Cycle.message`; a run that overflows is
  "diverged".
- *Locking*: a cycle whose states repeat exactly (to ``lock_tol`` times the state's size)
  after a whole number N of steps is a periodic orbit of the map, of N steps
  (:attr:`Cycle.locked_steps`; 0 when the rotation is not locked). Its spikes then repeat
  every N steps, and, unlike on an invariant curve with irrational rotation, no Lyapunov
  exponent need be 0: a locked orbit can attract in every direction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from fhnrnn._validation import finite_positive, positive_int, real_array
from fhnrnn.oscillator.systems import MapSystem

__all__ = ["Cycle", "CycleStatus", "find_cycles", "upward_crossings"]


class CycleStatus(enum.Enum):
    """What a free run settled on."""

    CYCLE = "cycle"
    REST = "rest"
    NOT_CONVERGED = "not converged"
    DIVERGED = "diverged"


@dataclass(frozen=True, eq=False)
class Cycle:
    """The outcome of one free run at one current.

    Attributes
    ----------
    I : float
        The current.
    status : CycleStatus
        Cycle, rest, not converged or diverged.
    message : str
        What was checked and found, in words.
    period_steps, period : float
        Mean time between spikes in steps, and in time units; NaN unless ``status`` is
        ``CYCLE``.
    v_min, v_max : float
        The window's voltage range (NaN when diverged).
    threshold : float
        The spike threshold used.
    spike_times : ndarray, shape (n,)
        Spike times in steps from the window's start.
    voltage : ndarray, shape (T,)
        The window's voltages.
    orbit : ndarray, shape (m, d)
        The states of the window from its first spike on, at least one period plus one step
        long for a cycle (the last state for other outcomes, m = 1).
    orbit_phase : ndarray, shape (m,)
        Phase of each orbit state in cycles since the first spike (NaN unless a cycle).
    dt : float
        Time per step.
    locked_steps : int
        Steps after which the window's states repeat exactly, when the cycle is a periodic
        orbit of the map; 0 otherwise.
    """

    I: float
    status: CycleStatus
    message: str
    period_steps: float
    v_min: float
    v_max: float
    threshold: float
    spike_times: np.ndarray
    voltage: np.ndarray
    orbit: np.ndarray
    orbit_phase: np.ndarray
    dt: float
    locked_steps: int = 0

    @property
    def period(self) -> float:
        """Mean time between spikes in time units (``period_steps * dt``)."""
        return self.period_steps * self.dt

    @property
    def amplitude(self) -> float:
        """Peak-to-peak voltage of the window, ``v_max - v_min``."""
        return self.v_max - self.v_min

    @property
    def oscillates(self) -> bool:
        """Whether the run converged to a cycle."""
        return self.status is CycleStatus.CYCLE


def upward_crossings(voltage: ArrayLike, threshold: float) -> np.ndarray:
    """Times (in steps) where ``voltage`` crosses ``threshold`` upwards, interpolated.

    Parameters
    ----------
    voltage : array_like, shape (T,)
        A voltage sampled once per step.
    threshold : float
        The level.

    Returns
    -------
    ndarray, shape (n,)
        ``t + (threshold - v_t) / (v_{t+1} - v_t)`` for each t with ``v_t < threshold <=
        v_{t+1}``.
    """
    v = real_array(voltage, "voltage")
    if v.ndim != 1:
        raise ValueError(f"voltage must be 1-D, got shape {v.shape}")
    level = float(real_array(threshold, "threshold"))
    index = np.flatnonzero((v[:-1] < level) & (v[1:] >= level))
    return index + (level - v[index]) / (v[index + 1] - v[index])


def _free_run(
    system: MapSystem, currents: np.ndarray, transient: int, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voltages (B, window + 1), states (B, window + 1, d) and last steps' norms (B,)."""
    x = np.repeat(system.initial_state[None], currents.size, axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(transient):
            x = system.advance(x, currents)
        states = np.empty((currents.size, window + 1, system.dim))
        states[:, 0] = x
        for t in range(window):
            states[:, t + 1] = system.advance(states[:, t], currents)
        last = system.advance(states[:, -1], currents) - states[:, -1]
    voltages = system.voltages(states.reshape(-1, system.dim)).reshape(currents.size, -1)
    return voltages, states, np.linalg.norm(last, axis=1)


def _period_of(spikes: np.ndarray) -> float:
    return float(np.mean(np.diff(spikes))) if spikes.size >= 2 else np.nan


def _verdict(
    voltage: np.ndarray, last_step: float, spikes: np.ndarray, settings: dict
) -> tuple[CycleStatus, str]:
    if not np.isfinite(voltage).all() or not np.isfinite(last_step):
        return CycleStatus.DIVERGED, "the free run overflowed (NaN or inf)"
    extent = float(voltage.max() - voltage.min())
    if extent < settings["rest_tol"] and last_step < settings["rest_tol"]:
        return CycleStatus.REST, (
            f"at rest: voltage range {extent:.2e} and last step {last_step:.2e} are below "
            f"rest_tol = {settings['rest_tol']:.0e}"
        )
    half = voltage.size // 2
    first, second = spikes[spikes < half], spikes[spikes >= half]
    if min(first.size, second.size) < settings["min_spikes"]:
        return CycleStatus.NOT_CONVERGED, (
            f"{first.size} and {second.size} spikes in the window's halves, fewer than "
            f"min_spikes = {settings['min_spikes']}"
        )
    halves = (voltage[: half + 1], voltage[half:])
    ranges = [float(h.max() - h.min()) for h in halves]
    periods = [_period_of(first), _period_of(second)]
    range_change = abs(ranges[1] - ranges[0]) / max(ranges)
    period_change = abs(periods[1] - periods[0]) / periods[1]
    if max(range_change, period_change) > settings["rtol"]:
        return CycleStatus.NOT_CONVERGED, (
            f"the halves of the window differ: range by {range_change:.1e}, period by "
            f"{period_change:.1e} (rtol = {settings['rtol']:.0e})"
        )
    return CycleStatus.CYCLE, (
        f"converged: the halves' ranges agree to {range_change:.1e} and periods to "
        f"{period_change:.1e} (rtol = {settings['rtol']:.0e})"
    )


def _locked_steps(states: np.ndarray, period_steps: float, lock_tol: float) -> int:
    """The smallest whole multiple-of-the-period lag after which ``states`` (T, d) repeat."""
    tolerance = lock_tol * (1.0 + float(np.abs(states).max()))
    for multiple in range(1, int(len(states) / 2 / period_steps) + 1):
        centre = round(multiple * period_steps)
        for lag in (centre - 1, centre, centre + 1):
            if 0 < lag < len(states) and np.abs(states[lag:] - states[:-lag]).max() <= tolerance:
                return lag
    return 0


def _measure(
    system: MapSystem, current: float, voltage: np.ndarray, states: np.ndarray,
    last_step: float, settings: dict,
) -> Cycle:
    finite = np.isfinite(voltage).all()
    v_min, v_max = (float(voltage.min()), float(voltage.max())) if finite else (np.nan, np.nan)
    threshold = settings["threshold"]
    if threshold is None:
        threshold = 0.5 * (v_min + v_max) if finite else np.nan
    spikes = upward_crossings(voltage, threshold) if finite else np.empty(0)
    status, message = _verdict(voltage, last_step, spikes, settings)
    period = _period_of(spikes) if status is CycleStatus.CYCLE else np.nan
    if status is CycleStatus.CYCLE:
        begin = int(np.ceil(spikes[0]))
        orbit = states[begin : begin + int(np.ceil(period)) + 2]
        phase = (begin + np.arange(len(orbit)) - spikes[0]) / period
        locked = _locked_steps(states, period, settings["lock_tol"])
    else:
        orbit, phase, locked = states[-1:], np.full(1, np.nan), 0
    return Cycle(
        I=current, status=status, message=message, period_steps=period, v_min=v_min,
        v_max=v_max, threshold=float(threshold), spike_times=spikes, voltage=voltage,
        orbit=orbit, orbit_phase=phase, dt=system.dt, locked_steps=locked,
    )


def find_cycles(
    system: MapSystem,
    currents: ArrayLike,
    *,
    transient: float = 600.0,
    window: float = 600.0,
    threshold: float | None = None,
    rtol: float = 1e-3,
    rest_tol: float = 1e-8,
    min_spikes: int = 3,
    lock_tol: float = 1e-10,
) -> list[Cycle]:
    """Free-run ``system`` at each current (all at once) and measure what it settles on.

    Parameters
    ----------
    system : MapSystem
        The map.
    currents : array_like, shape (n,)
        Currents, one free run each.
    transient, window : float
        Lengths of the discarded transient and the measured window, in time units.
    threshold : float, optional
        Spike threshold; by default the middle of each window's voltage range.
    rtol : float
        Largest relative change of the period and of the voltage range between the window's
        halves for a cycle.
    rest_tol : float
        A run is at rest when the voltage range and the last step's length are below this.
    min_spikes : int
        Spikes each half of the window must hold for a cycle.
    lock_tol : float
        A cycle is locked when its states repeat to ``lock_tol * (1 + max |x|)`` (max norm).

    Returns
    -------
    list of Cycle
        One per current, in order.
    """
    if not isinstance(system, MapSystem):
        raise ValueError(f"system must be a MapSystem, got {type(system).__name__}")
    values = np.atleast_1d(real_array(currents, "currents"))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"currents must be a non-empty 1-D array, got shape {values.shape}")
    transient_steps = round(finite_positive(transient, "transient", allow_zero=True) / system.dt)
    window_steps = round(finite_positive(window, "window") / system.dt)
    settings = {
        "threshold": None if threshold is None else float(real_array(threshold, "threshold")),
        "rtol": finite_positive(rtol, "rtol"),
        "rest_tol": finite_positive(rest_tol, "rest_tol"),
        "min_spikes": positive_int(min_spikes, "min_spikes"),
        "lock_tol": finite_positive(lock_tol, "lock_tol"),
    }
    if window_steps < 4:
        raise ValueError(f"window must span at least 4 steps of dt = {system.dt}, got {window}")
    voltages, states, last = _free_run(system, values, transient_steps, window_steps)
    return [
        _measure(system, float(values[i]), voltages[i], states[i], float(last[i]), settings)
        for i in range(values.size)
    ]
