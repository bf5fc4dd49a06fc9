"""Lyapunov exponents along an orbit of a map, by QR iteration: :func:`lyapunov_exponents`.

The tangent vectors ``Q`` (d, k) are carried along the orbit, ``Z = J(x_t) Q``, and
re-orthonormalised, ``Z = Q R`` (Benettin et al. 1980; Eckmann & Ruelle 1985). The sum of
``log |R_ii|`` over n steps, divided by ``n dt``, converges to the i-th exponent in units of
1/time. On a periodic orbit the exponents are the logs of the Floquet multipliers divided by
the period; on an invariant closed curve one of them (the direction along the curve) is 0.
The frame is first carried along ``warmup`` steps without counting, so that it aligns with the
orbit's own directions (the estimate's error then falls like 1/n instead of carrying the log
of the random start's projections). Convergence is reported as the change between the
estimate over the first half of the counted steps and over all of them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from fhnrnn._validation import finite_positive, non_negative_int, positive_int, real_array
from fhnrnn.oscillator.cycle import Cycle
from fhnrnn.oscillator.systems import MapSystem

__all__ = ["LyapunovSpectrum", "cycle_exponents", "lyapunov_exponents"]


@dataclass(frozen=True, eq=False)
class LyapunovSpectrum:
    """The k largest Lyapunov exponents along one orbit.

    Attributes
    ----------
    exponents : ndarray, shape (k,)
        In units of 1/time, largest first.
    change : ndarray, shape (k,)
        ``|estimate over the first half of the steps - estimate over all|``.
    n_steps : int
        Steps of the orbit used.
    dt : float
        Time per step.
    along_curve : bool
        Whether the orbit runs on an invariant curve with unlocked rotation, where one
        exponent belongs to the direction along the curve (and is 0); False for a locked
        periodic orbit of the map, whose exponents are all transverse.
    """

    exponents: np.ndarray
    change: np.ndarray
    n_steps: int
    dt: float
    along_curve: bool = True

    @property
    def flow_index(self) -> int | None:
        """Index of the exponent closest to 0, the one along the curve (None when locked)."""
        return int(np.argmin(np.abs(self.exponents))) if self.along_curve else None

    @property
    def transverse(self) -> np.ndarray:
        """The exponents other than the one along the curve, shape (k - 1,) or (k,)."""
        index = self.flow_index
        return self.exponents if index is None else np.delete(self.exponents, index)

    @property
    def leading_transverse(self) -> float:
        """The largest transverse exponent: the slowest return after a kick (if negative)."""
        return float(self.transverse.max())


def _random_frame(d: int, k: int, seed: int) -> np.ndarray:
    gaussian = np.random.default_rng(seed).standard_normal((d, k))
    return np.linalg.qr(gaussian)[0]


def lyapunov_exponents(
    system: MapSystem,
    start: ArrayLike,
    current: float,
    n_steps: int,
    *,
    n_exponents: int | None = None,
    warmup: int = 0,
    seed: int = 0,
) -> LyapunovSpectrum:
    """The ``n_exponents`` largest Lyapunov exponents along the orbit from ``start``.

    Parameters
    ----------
    system : MapSystem
        The map.
    start : array_like, shape (d,)
        First state of the orbit.
    current : float
        The constant current.
    n_steps : int
        Steps counted (>= 2).
    n_exponents : int, optional
        How many exponents (1 <= k <= d); all d by default.
    warmup : int
        Steps the frame is carried before the counted ones (the orbit continues through them).
    seed : int
        Seed of the random orthonormal frame the tangent vectors start from.

    Returns
    -------
    LyapunovSpectrum
    """
    if not isinstance(system, MapSystem):
        raise ValueError(f"system must be a MapSystem, got {type(system).__name__}")
    x = real_array(start, "start")
    if x.shape != (system.dim,):
        raise ValueError(f"start must have shape ({system.dim},), got {x.shape}")
    current = float(real_array(current, "current"))
    if positive_int(n_steps, "n_steps") < 2:
        raise ValueError(f"n_steps must be at least 2, got {n_steps}")
    k = system.dim if n_exponents is None else positive_int(n_exponents, "n_exponents")
    if k > system.dim:
        raise ValueError(f"n_exponents must be at most the state dimension {system.dim}, got {k}")
    frame = _random_frame(system.dim, k, non_negative_int(seed, "seed"))
    skip = non_negative_int(warmup, "warmup")
    logs = np.zeros((skip + n_steps, k))
    inputs = np.array([current])
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for t in range(skip + n_steps):
            frame, r = np.linalg.qr(system.jacobian_product(x, current, frame))
            logs[t] = np.log(np.abs(np.diag(r)))
            x = system.advance(x[None], inputs)[0]
    logs = logs[skip:]
    if not np.isfinite(logs).all():
        raise ValueError("the orbit from start diverges or its Jacobian is singular")
    full = logs.sum(0) / (n_steps * system.dt)
    half = logs[: n_steps // 2].sum(0) / ((n_steps // 2) * system.dt)
    order = np.argsort(-full)
    return LyapunovSpectrum(
        exponents=full[order], change=np.abs(full - half)[order], n_steps=n_steps, dt=system.dt
    )


def cycle_exponents(
    system: MapSystem,
    cycle: Cycle,
    *,
    n_periods: float = 20.0,
    warmup_periods: float = 5.0,
    n_exponents: int | None = None,
    seed: int = 0,
) -> LyapunovSpectrum:
    """Lyapunov exponents along a measured cycle, over ``n_periods`` of its periods.

    On a locked cycle (``cycle.locked_steps > 0``) the spectrum is marked as not along a
    curve: every exponent is transverse.

    Parameters
    ----------
    system : MapSystem
        The map the cycle was measured on.
    cycle : Cycle
        A converged cycle (``cycle.oscillates``).
    n_periods : float
        Length of the counted orbit in periods (rounded to whole steps).
    warmup_periods : float
        Periods the frame is carried before counting (rounded to whole steps).
    n_exponents, seed
        As in :func:`lyapunov_exponents`.

    Returns
    -------
    LyapunovSpectrum
    """
    if not isinstance(cycle, Cycle) or not cycle.oscillates:
        raise ValueError("cycle must be a Cycle that converged to an oscillation")
    steps = max(2, round(finite_positive(n_periods, "n_periods") * cycle.period_steps))
    warmup = finite_positive(warmup_periods, "warmup_periods", allow_zero=True)
    spectrum = lyapunov_exponents(
        system, cycle.orbit[0], cycle.I, steps, n_exponents=n_exponents,
        warmup=round(warmup * cycle.period_steps), seed=seed,
    )
    return dataclasses.replace(spectrum, along_curve=cycle.locked_steps == 0)
