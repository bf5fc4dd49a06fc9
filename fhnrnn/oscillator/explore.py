"""The "Try it" of notebook 08: phase-response curves over the pulse's size.

:func:`explore_phase_response` computes, once, the curves of several maps at one current for
each pulse on its slider; moving the slider redraws (:func:`draw_phase_response`). Its
static counterpart is :meth:`fhnrnn.explore.Explorer.scrubber`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from fhnrnn.explore import Explorer
from fhnrnn.oscillator.cycle import find_cycles
from fhnrnn.oscillator.figures import plot_prc
from fhnrnn.oscillator.prc import PhaseResponse, phase_response
from fhnrnn.oscillator.systems import MapSystem

__all__ = ["draw_phase_response", "explore_phase_response"]


def draw_phase_response(fig: Figure, curves: Mapping[str, PhaseResponse | None]) -> None:
    """The curves of one slider position on one axes of ``fig``."""
    ax = fig.subplots()
    plot_prc(ax, curves)
    ax.set(ylabel="phase shift (cycles)")
    ax.legend(loc="upper left")


def explore_phase_response(
    systems: Mapping[str, MapSystem],
    current: float,
    pulses: Sequence[float],
    *,
    n_phases: int = 16,
) -> Explorer:
    """Slider over the pulse: each map's phase-response curve at ``current``.

    Parameters
    ----------
    systems : mapping of str to MapSystem
        Label -> map; a map without a converged cycle at ``current`` is left out.
    current : float
        The current.
    pulses : sequence of float
        Slider positions: current pulses of one step (non-zero).
    n_phases : int
        Phases per curve.

    Returns
    -------
    Explorer
    """
    if not systems or not pulses:
        raise ValueError("systems and pulses must be non-empty")
    cycles = {label: find_cycles(system, [current])[0] for label, system in systems.items()}
    table = {
        pulse: {
            label: phase_response(system, cycles[label], pulse=pulse, n_phases=n_phases)
            if cycles[label].oscillates else None
            for label, system in systems.items()
        }
        for pulse in pulses
    }
    options = [(f"{pulse:+.2f}", table[pulse]) for pulse in pulses]
    return Explorer(
        "pulse", options, draw_phase_response, figsize=(5.0, 3.2),
        index=int(np.argmax(np.abs(pulses))),
    )
