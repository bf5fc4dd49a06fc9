"""One network's oscillation against the FHN map's, current by current, as a few numbers.

:func:`measure_oscillations` measures the cycle at each current and, where there is one, its
Lyapunov exponents and phase-response curve; :func:`comparison_statistics` reduces a
network's measurements and the reference's (the FHN Euler map's) at the same currents to the
per-run statistics an ensemble table can hold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from fhnrnn._validation import finite_positive, positive_int
from fhnrnn.oscillator.cycle import Cycle, find_cycles
from fhnrnn.oscillator.lyapunov import LyapunovSpectrum, cycle_exponents
from fhnrnn.oscillator.prc import PhaseResponse, phase_response, prc_distance
from fhnrnn.oscillator.systems import MapSystem

__all__ = ["Oscillation", "comparison_statistics", "measure_oscillations", "trivial_baselines"]


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


def trivial_baselines(reference: list[Oscillation]) -> dict[str, float]:
    """What trivial oscillators score in :func:`comparison_statistics` against ``reference``.

    The yardsticks of a network's statistics, over the reference's oscillating currents:

    - ``period_error`` and ``amplitude_error``: one cycle at every current, with the
      reference's mean period and mean amplitude (an oscillator that ignores the current);
    - ``exponent_error``: a neutral cycle (leading transverse exponent 0, a kick is never
      undone), i.e. the mean of ``|exponent|``;
    - ``prc_distance``: a flat phase-response curve (no pulse shifts the phase), i.e. the
      mean RMS of the reference's curves.

    Parameters
    ----------
    reference : list of Oscillation
        E.g. the FHN Euler map's, from :func:`measure_oscillations`.

    Returns
    -------
    dict
        The four statistics (NaN where the reference has nothing to compare).
    """
    if not reference or not all(isinstance(entry, Oscillation) for entry in reference):
        raise ValueError("reference must be a non-empty list of Oscillation objects")
    cycling = [entry for entry in reference if entry.cycle.oscillates]
    periods = np.array([entry.cycle.period for entry in cycling])
    amplitudes = np.array([entry.cycle.amplitude for entry in cycling])
    exponents = [abs(entry.spectrum.leading_transverse) for entry in cycling
                 if entry.spectrum is not None]
    curves = [prc_distance(replace(entry.prc, shift=np.zeros_like(entry.prc.shift)), entry.prc)
              for entry in cycling if entry.prc is not None]
    return {
        "period_error": _mean_or_nan(list(np.abs(periods.mean() / periods - 1.0)))
        if len(periods) else float("nan"),
        "amplitude_error": _mean_or_nan(list(np.abs(amplitudes.mean() / amplitudes - 1.0)))
        if len(amplitudes) else float("nan"),
        "exponent_error": _mean_or_nan(exponents),
        "prc_distance": _mean_or_nan(curves),
    }
