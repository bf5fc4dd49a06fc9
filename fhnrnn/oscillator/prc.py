"""The phase-response curve of a map's cycle: :func:`phase_response`.

At each of ``n_phases`` states of one period of the cycle, the current is raised by ``pulse``
for ``pulse_steps`` steps; the pulsed run and an unpulsed reference then run on for
``settle_periods`` periods, and the asymptotic phase shift is read from the last spikes:
``(t_reference - t_pulsed) / period``, in cycles, wrapped to [-1/2, 1/2), positive when the
pulse advances the next spikes. It is averaged over the last ``measured_spikes`` spikes, and
their spread tells whether the run has settled.

Type I curves (of oscillators that start at a saddle-node on the cycle) keep one sign; type II
curves (of oscillators that start at a Hopf bifurcation) advance in one part of the cycle and
delay in another (Ermentrout & Terman 2010, ch. 8; Izhikevich 2007, ch. 10).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fhnrnn._validation import finite_positive, positive_int, probability, real_array
from fhnrnn.oscillator.cycle import Cycle, upward_crossings
from fhnrnn.oscillator.systems import MapSystem

__all__ = ["PhaseResponse", "phase_response", "prc_distance"]


@dataclass(frozen=True, eq=False)
class PhaseResponse:
    """A phase-response curve.

    Attributes
    ----------
    phase : ndarray, shape (N,)
        Phase, in cycles since a spike, of the state at which each pulse starts.
    shift : ndarray, shape (N,)
        Asymptotic phase shift in cycles (positive: advance).
    spread : ndarray, shape (N,)
        Range of the shift over the spikes it was averaged over.
    pulse_states : ndarray, shape (N, d)
        The states at which the pulses start.
    pulse : float
        The current step.
    pulse_steps : int
        Its duration in steps.
    """

    phase: np.ndarray
    shift: np.ndarray
    spread: np.ndarray
    pulse_states: np.ndarray
    pulse: float
    pulse_steps: int

    def kind(self, tolerance: float = 0.05) -> str:
        """``"type II"`` when the curve takes both signs, each beyond ``tolerance`` times
        its largest magnitude, else ``"type I"``."""
        scale = float(np.abs(self.shift).max())
        both = self.shift.min() < -tolerance * scale and self.shift.max() > tolerance * scale
        return "type II" if both else "type I"


def _pulsed_runs(
    system: MapSystem, cycle: Cycle, starts: np.ndarray, pulse: float, pulse_steps: int,
    total: int,
) -> np.ndarray:
    """Voltages (N + 1, total + 1) of runs from the orbit's first state; the last unpulsed."""
    n = starts.size
    x = np.repeat(cycle.orbit[:1], n + 1, axis=0)
    voltages = np.empty((n + 1, total + 1))
    voltages[:, 0] = system.voltages(x)
    base = np.full(n + 1, cycle.I)
    for t in range(total):
        on = np.append((starts <= t) & (t < starts + pulse_steps), False)
        x = system.advance(x, base + pulse * on)
        voltages[:, t + 1] = system.voltages(x)
    return voltages


def _shifts(voltages: np.ndarray, cycle: Cycle, measured: int) -> tuple[np.ndarray, np.ndarray]:
    reference = upward_crossings(voltages[-1], cycle.threshold)[-measured:]
    shift = np.empty((voltages.shape[0] - 1, measured))
    for row, voltage in enumerate(voltages[:-1]):
        spikes = upward_crossings(voltage, cycle.threshold)
        nearest = spikes[np.abs(spikes[:, None] - reference[None]).argmin(0)]
        delta = (reference - nearest) / cycle.period_steps
        shift[row] = (delta + 0.5) % 1.0 - 0.5
    return shift.mean(1), np.ptp(shift, axis=1)


def phase_response(
    system: MapSystem,
    cycle: Cycle,
    *,
    n_phases: int = 24,
    pulse: float = 0.1,
    pulse_steps: int = 1,
    settle_periods: float = 10.0,
    measured_spikes: int = 3,
    max_spread: float = 0.05,
) -> PhaseResponse:
    """The phase-response curve of ``cycle`` to a current pulse.

    Parameters
    ----------
    system : MapSystem
        The map the cycle was measured on.
    cycle : Cycle
        A converged cycle.
    n_phases : int
        Pulses, at evenly spread steps of one period (at most one per step).
    pulse : float
        The current added during the pulse (non-zero).
    pulse_steps : int
        Its length in steps.
    settle_periods : float
        Periods the runs continue after the last pulse before the shift is read.
    measured_spikes : int
        Last spikes the shift is averaged over.
    max_spread : float
        Largest spread (in cycles, in (0, 1]) of the shift over those spikes; a larger one
        means the runs have not settled, a ValueError.

    Returns
    -------
    PhaseResponse
    """
    if not isinstance(cycle, Cycle) or not cycle.oscillates:
        raise ValueError("cycle must be a Cycle that converged to an oscillation")
    pulse = float(real_array(pulse, "pulse"))
    if pulse == 0.0:
        raise ValueError("pulse must be non-zero")
    pulse_steps = positive_int(pulse_steps, "pulse_steps")
    measured = positive_int(measured_spikes, "measured_spikes")
    steps_per_period = int(np.floor(cycle.period_steps))
    n = min(positive_int(n_phases, "n_phases"), steps_per_period)
    starts = np.unique(np.floor(np.arange(n) * cycle.period_steps / n).astype(int))
    settle = finite_positive(settle_periods, "settle_periods") + measured + 1
    total = int(starts[-1] + pulse_steps + np.ceil(settle * cycle.period_steps))
    voltages = _pulsed_runs(system, cycle, starts, pulse, pulse_steps, total)
    if not np.isfinite(voltages).all():
        raise ValueError(f"a pulse of {pulse} makes the map diverge; use a smaller pulse")
    shift, spread = _shifts(voltages, cycle, measured)
    if spread.max() > probability(max_spread, "max_spread"):
        raise ValueError(
            f"the phase shifts have not settled after settle_periods = {settle_periods}: they "
            f"vary by up to {spread.max():.3f} cycles over the last spikes"
        )
    states = np.array([_state_at(system, cycle, s) for s in starts])
    return PhaseResponse(
        phase=np.interp(starts, np.arange(len(cycle.orbit)), cycle.orbit_phase) % 1.0,
        shift=shift,
        spread=spread,
        pulse_states=states,
        pulse=pulse,
        pulse_steps=pulse_steps,
    )


def _state_at(system: MapSystem, cycle: Cycle, step: int) -> np.ndarray:
    if step < len(cycle.orbit):
        return cycle.orbit[step]
    x = cycle.orbit[-1:]
    for _ in range(step - len(cycle.orbit) + 1):
        x = system.advance(x, np.array([cycle.I]))
    return x[0]


def prc_distance(first: PhaseResponse, second: PhaseResponse, n_grid: int = 200) -> float:
    """Root-mean-square difference of two curves over phase, in cycles.

    Both are interpolated periodically onto ``n_grid`` even phases.
    """
    for name, curve in (("first", first), ("second", second)):
        if not isinstance(curve, PhaseResponse):
            raise ValueError(f"{name} must be a PhaseResponse, got {type(curve).__name__}")
    grid = np.arange(positive_int(n_grid, "n_grid")) / n_grid
    values = [np.interp(grid, c.phase, c.shift, period=1.0) for c in (first, second)]
    return float(np.sqrt(np.mean((values[0] - values[1]) ** 2)))
