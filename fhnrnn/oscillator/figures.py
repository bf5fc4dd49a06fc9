"""Figures of notebook 08: one function per panel kind, drawn on axes the caller gives.

Each takes the measurements of several maps keyed by a label (the FHN Euler map first, then
the networks) and draws them in the colours of :data:`COLORS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from fhnrnn.fhn import FHN
from fhnrnn.oscillator.compare import Oscillation
from fhnrnn.oscillator.cycle import Cycle
from fhnrnn.oscillator.prc import PhaseResponse

__all__ = ["COLORS", "plot_cycle_measures", "plot_exponents", "plot_prc", "plot_slow_manifold"]

COLORS = ("black", "#D55E00", "#0072B2", "#009E73")
"""Colour of the first, second, ... map of a figure (FHN in black)."""
_MARKERS = ("o", "s", "^", "D")


def plot_cycle_measures(
    period_ax: Axes, amplitude_ax: Axes, cycles: Mapping[str, Sequence[Cycle]]
) -> None:
    """Period and peak-to-peak voltage against the current; runs without a cycle as crosses.

    Parameters
    ----------
    period_ax, amplitude_ax : Axes
    cycles : mapping of str to sequence of Cycle
        Label -> the cycles of one map over the currents.
    """
    for k, (label, series) in enumerate(cycles.items()):
        current = np.array([c.I for c in series])
        period = np.array([c.period for c in series])
        amplitude = np.array([c.amplitude if c.oscillates else np.nan for c in series])
        style = {"color": COLORS[k], "marker": _MARKERS[k], "ms": 3.0, "lw": 1.0}
        period_ax.plot(current, period, label=label, **style)
        amplitude_ax.plot(current, amplitude, **style)
        missing = ~np.array([c.oscillates for c in series])
        if missing.any():
            floor = np.nanmin(period) if np.isfinite(period).any() else 0.0
            period_ax.plot(current[missing], np.full(missing.sum(), floor), "x",
                           color=COLORS[k], ms=4.0)
    period_ax.set(xlabel="current $I$", ylabel="period (time units)")
    amplitude_ax.set(xlabel="current $I$", ylabel="peak-to-peak $v$")
    period_ax.legend(loc="upper center")


def plot_exponents(
    transverse_ax: Axes, spectrum_ax: Axes, measured: Mapping[str, Sequence[Oscillation]],
    at: float,
) -> None:
    """Leading transverse exponent against the current, and the computed exponents at ``at``.

    Parameters
    ----------
    transverse_ax, spectrum_ax : Axes
    measured : mapping of str to sequence of Oscillation
    at : float
        The current whose exponents the right panel lists.
    """
    for k, (label, series) in enumerate(measured.items()):
        with_spectrum = [m for m in series if m.spectrum is not None]
        current = [m.current for m in with_spectrum]
        leading = [m.spectrum.leading_transverse for m in with_spectrum]
        transverse_ax.plot(current, leading, color=COLORS[k], marker=_MARKERS[k], ms=3.0,
                           lw=1.0, label=label)
        chosen = [m for m in with_spectrum if np.isclose(m.current, at)]
        if chosen:
            exponents = chosen[0].spectrum.exponents
            spectrum_ax.plot(np.arange(1, exponents.size + 1), exponents, color=COLORS[k],
                             marker=_MARKERS[k], ms=4.0, lw=0.8)
    transverse_ax.set(xlabel="current $I$", ylabel="leading transverse\nexponent (1/time)")
    transverse_ax.legend(loc="lower center")
    spectrum_ax.axhline(0.0, color="0.6", lw=0.6)
    spectrum_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    spectrum_ax.set(xlabel="exponent number", ylabel="exponent (1/time)",
                    title=f"$I = {at:g}$")


def plot_prc(ax: Axes, curves: Mapping[str, PhaseResponse | None]) -> None:
    """Phase-response curves (shift in cycles against phase in cycles) on one axes."""
    for k, (label, curve) in enumerate(curves.items()):
        if curve is None:
            continue
        order = np.argsort(curve.phase)
        ax.plot(curve.phase[order], curve.shift[order], color=COLORS[k], marker=_MARKERS[k],
                ms=2.5, lw=1.0, label=label)
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.set(xlabel="phase of the pulse (cycles)", xlim=(0.0, 1.0))


def plot_slow_manifold(ax: Axes, model: FHN, cycle: Cycle, v_range: tuple[float, float]) -> None:
    """The FHN Euler map's cycle in the phase plane, coloured by speed, over the v-nullcline."""
    v = np.linspace(*v_range, 200)
    w_v, w_w = model.nullclines(v, cycle.I)
    ax.plot(v, w_v, color="0.45", lw=1.0, label="$v$-nullcline")
    ax.plot(v, w_w, ":", color="0.45", lw=1.0, label="$w$-nullcline")
    orbit = cycle.orbit
    speed = np.linalg.norm(np.diff(orbit, axis=0), axis=1) / cycle.dt
    points = ax.scatter(orbit[:-1, 0], orbit[:-1, 1], c=speed, s=5, cmap="viridis")
    ax.figure.colorbar(points, ax=ax, label="speed (1/time)")
    ax.set(xlabel="$v$", ylabel="$w$", xlim=v_range)
    ax.legend(loc="upper left")
