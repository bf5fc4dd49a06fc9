"""The network as an oscillator: cycles, Lyapunov exponents, phase response and slow points.

One set of tools measures the oscillation of any map ``x_{t+1} = F(x_t, I)`` with a voltage
readout (:class:`MapSystem`): the forward-Euler map of the FHN model the training data come
from (:func:`fhn_euler_system`) and a trained network alike (:func:`network_system`).

- :func:`find_cycles`: free runs, checked for convergence, read into spikes, period and
  amplitude (or an explicit "rest", "not converged", "diverged");
- :func:`lyapunov_exponents`, :func:`cycle_exponents`: exponents by QR iteration along an
  orbit, in 1/time;
- :func:`phase_response`: the phase-response curve to a current pulse; :func:`prc_distance`;
- :func:`slow_points`: Sussillo & Barak's slow points started from a cycle;
- :func:`measure_oscillations`, :func:`comparison_statistics`: all of it over currents, and
  a network against the FHN map as a few numbers per run; :func:`trivial_baselines`: what
  trivial oscillators (a fixed period, a neutral cycle, a flat curve) score there.

The accurate ODE's cycle keeps its own closed-form-aided code in
:meth:`fhnrnn.fhn.FHN.limit_cycle`.
"""

from fhnrnn.oscillator.compare import (
    Oscillation,
    comparison_statistics,
    measure_oscillations,
    trivial_baselines,
)
from fhnrnn.oscillator.cycle import Cycle, CycleStatus, find_cycles, upward_crossings
from fhnrnn.oscillator.lyapunov import LyapunovSpectrum, cycle_exponents, lyapunov_exponents
from fhnrnn.oscillator.prc import PhaseResponse, phase_response, prc_distance
from fhnrnn.oscillator.slow_points import SlowPoints, slow_points
from fhnrnn.oscillator.systems import MapSystem, fhn_euler_system, network_system

__all__ = [
    "Cycle",
    "CycleStatus",
    "LyapunovSpectrum",
    "MapSystem",
    "Oscillation",
    "PhaseResponse",
    "SlowPoints",
    "comparison_statistics",
    "cycle_exponents",
    "fhn_euler_system",
    "find_cycles",
    "lyapunov_exponents",
    "measure_oscillations",
    "network_system",
    "phase_response",
    "prc_distance",
    "slow_points",
    "trivial_baselines",
    "upward_crossings",
]
