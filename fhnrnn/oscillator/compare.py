"""One network's oscillation against the FHN map's, current by current, as a few numbers.

:func:`measure_oscillations` measures the cycle at each current and, where there is one, its
Lyapunov exponents and phase-response curve; :func:`comparison_statistics` reduces a
network's measurements and the reference's (the FHN Euler map's) at the same currents to the
per-run statistics an ensemble table can hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from fhnrnn._validation import finite_positive, positive_int
from fhnrnn.oscillator.cycle import Cycle, find_cycles
from fhnrnn.oscillator.lyapunov import LyapunovSpectrum, cycle_exponents
from fhnrnn.oscillator.prc import PhaseResponse, phase_response, prc_distance
from fhnrnn.oscillator.systems import MapSystem

__all__ = ["Oscillation", "comparison_statistics", "measure_oscillations"]


@dataclass(frozen=True, eq=False)
class Oscillation:
    """What was measured at one current.

    Attributes
    ----------
    cycle : Cycle
        The free run's outcome.
    spectrum : LyapunovSpectrum or None
        Exponents along the cycle (None when there is no cycle).
    prc : PhaseResponse or None
        Phase-response curve (None when there is no cycle or it was not asked for).
    """

    cycle: Cycle
    spectrum: LyapunovSpectrum | None
    prc: PhaseResponse | None

    @property
    def current(self) -> float:
        """The current I."""
        return self.cycle.I


def measure_oscillations(
    system: MapSystem,
    currents: ArrayLike,
    *,
    n_exponents: int = 3,
    n_periods: float = 10.0,
    pulse: float | None = 0.5,
    n_phases: int = 24,
    transient: float = 600.0,
    window: float = 600.0,
) -> list[Oscillation]:
    """Cycle, exponents and (unless ``pulse`` is None) phase response at each current.

    Parameters
    ----------
    system : MapSystem
        The map.
    currents : array_like, shape (n,)
        Currents.
    n_exponents : int
        Exponents to compute (at most the state dimension).
    n_periods : float
        Periods the exponents are averaged over.
    pulse : float or None
        Current pulse of the phase-response curve (one step); None: no curve.
    n_phases : int
        Pulses per curve.
    transient, window : float
        As in :func:`~fhnrnn.oscillator.find_cycles`.

    Returns
    -------
    list of Oscillation
        One per current, in order.
    """
    k = min(positive_int(n_exponents, "n_exponents"), system.dim)
    n_periods = finite_positive(n_periods, "n_periods")
    measured = []
    for cycle in find_cycles(system, currents, transient=transient, window=window):
        if not cycle.oscillates:
            measured.append(Oscillation(cycle, None, None))
            continue
        spectrum = cycle_exponents(system, cycle, n_periods=n_periods, n_exponents=k)
        prc = None if pulse is None else phase_response(
            system, cycle, pulse=pulse, n_phases=n_phases
        )
        measured.append(Oscillation(cycle, spectrum, prc))
    return measured


def _mean_or_nan(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def comparison_statistics(
    network: list[Oscillation], reference: list[Oscillation]
) -> dict[str, float]:
    """Per-run statistics of a network's oscillation against the reference's.

    Parameters
    ----------
    network, reference : list of Oscillation
        Measurements at the same currents, in the same order.

    Returns
    -------
    dict
        ``cycle_fraction``: share of the reference's oscillating currents at which the
        network oscillates too; ``n_compared``: how many such currents; over them (NaN when
        there are none) ``period_error`` (mean relative error of the period),
        ``amplitude_error`` (mean relative error of the voltage range),
        ``exponent_error`` (mean absolute error of the leading transverse exponent, 1/time)
        and ``prc_distance`` (mean RMS distance of the curves, in cycles; NaN when no curves).
    """
    if len(network) != len(reference) or not network:
        raise ValueError(
            f"network and reference must be non-empty and of equal length, got {len(network)} "
            f"and {len(reference)}"
        )
    for a, b in zip(network, reference, strict=True):
        if not (isinstance(a, Oscillation) and isinstance(b, Oscillation)):
            raise ValueError("network and reference must hold Oscillation objects")
        if not np.isclose(a.current, b.current):
            raise ValueError(
                f"network and reference differ in current: {a.current} and {b.current}"
            )
    expected = [(a, b) for a, b in zip(network, reference, strict=True) if b.cycle.oscillates]
    both = [(a, b) for a, b in expected if a.cycle.oscillates]
    curves = [(a.prc, b.prc) for a, b in both if a.prc is not None and b.prc is not None]
    return {
        "cycle_fraction": len(both) / len(expected) if expected else float("nan"),
        "n_compared": float(len(both)),
        "period_error": _mean_or_nan(
            [abs(a.cycle.period / b.cycle.period - 1.0) for a, b in both]
        ),
        "amplitude_error": _mean_or_nan(
            [abs(a.cycle.amplitude / b.cycle.amplitude - 1.0) for a, b in both]
        ),
        "exponent_error": _mean_or_nan(
            [abs(a.spectrum.leading_transverse - b.spectrum.leading_transverse)
             for a, b in both if a.spectrum is not None and b.spectrum is not None]
        ),
        "prc_distance": _mean_or_nan([prc_distance(a, b) for a, b in curves]),
    }
