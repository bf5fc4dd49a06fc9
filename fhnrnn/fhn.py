"""The FitzHugh–Nagumo (FHN) neuron and its analytic fixed-point structure.

The model, with a constant external current ``I``::

    dv/dt = v - v**3 / 3 - w + I
    dw/dt = (v + a - b * w) / tau

:class:`FHN` holds the constants (``a = 0.7``, ``b = 0.8``, ``tau = 12.5`` by default) and
offers

* the right-hand side and two integrators: forward Euler on a fixed grid (the original
  study's training data: step 0.3 from ``(0, 0)`` for 100 time units) and an accurate
  adaptive Runge–Kutta solution sampled on the same grid;
* the unique fixed point in closed form (Cardano), its Jacobian, eigenvalues and type;
* the Hopf points where the fixed point changes stability and the points where its
  eigenvalues turn from real to complex, both in closed form;
* the limit cycle (period, extent and mean of ``v``) reached from a given start;
* the same linear analysis for the forward-Euler map ``x -> x + dt * f(x)``, which is the
  map a recurrent network trained on Euler data learns.

Everything that takes ``I`` is vectorised over arrays of currents, except
:meth:`FHN.limit_cycle`, which follows one trajectory. The current keeps its usual name
``I`` throughout.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import solve_ivp

from fhnrnn._validation import real_array

METHODS = ("euler", "rk45")
"""Integrators accepted by :meth:`FHN.simulate`."""

CLASSES = ("stable node", "stable focus", "unstable node", "unstable focus", "center")
"""Labels returned by :meth:`FHN.classify`. ``"center"`` only occurs when the trace of the
Jacobian is exactly zero (at a Hopf point)."""

FloatArray = NDArray[np.float64]


def _real_scalar(value: float, name: str) -> float:
    array = real_array(value, name)
    if array.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got an array of shape {array.shape}")
    return float(array)


def _positive_scalar(value: float, name: str) -> float:
    number = _real_scalar(value, name)
    if number <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return number


def _state_array(state: ArrayLike, name: str) -> FloatArray:
    array = real_array(state, name)
    if array.ndim == 0 or array.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (..., 2) holding (v, w), got {array.shape}")
    return array


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _no_overflow(*names: str) -> Callable[[_Method], _Method]:
    """Make a method refuse, by a ValueError naming ``names``, a result that overflowed.

    Finite arguments of huge magnitude (``|v|`` beyond about 1e102, say) overflow float64 in
    ``v**3``; the method then raises instead of returning infinities or NaN.
    """

    def wrap(method: _Method) -> _Method:
        @functools.wraps(method)
        def checked(*args: Any, **kwargs: Any) -> Any:
            with np.errstate(over="ignore", invalid="ignore"):
                result = method(*args, **kwargs)
            arrays = [np.asarray(part) for part in (result if isinstance(result, tuple) else
                                                    (result,))]
            if not all(np.isfinite(a).all() for a in arrays if a.dtype.kind in "fc"):
                raise ValueError(
                    f"{' or '.join(names)} too large in magnitude: the result overflows float64"
                )
            return result

        return checked  # type: ignore[return-value]

    return wrap


def _depressed_cubic_root(h: FloatArray, r: float) -> FloatArray:
    """The real root of ``v**3 + 3 r v + 2 h = 0`` for ``r >= 0``, without cancellation."""
    s = np.hypot(h, r**1.5)
    u = np.cbrt(-np.copysign(np.abs(h) + s, h))
    safe_u = np.where(u == 0.0, 1.0, u)  # u = 0 only for h = r = 0, whose root is 0
    return np.where(u == 0.0, 0.0, -2.0 * h / (safe_u**2 + r + r**2 / safe_u**2))


@dataclass(frozen=True)
class LimitCycle:
    """One period of a stable limit cycle of the accurate ODE.

    Attributes
    ----------
    I : float
        The constant current.
    period : float
        Time between two successive upward crossings of ``v = v*``.
    v_min, v_max : float
        Extreme voltages over the cycle.
    v_mean : float
        Time average of ``v`` over exactly one period.
    start : tuple of float
        The state ``(v*, w)`` where the measured cycle starts, on the section ``v = v*``.
    """

    I: float
    period: float
    v_min: float
    v_max: float
    v_mean: float
    start: tuple[float, float]

    @property
    def amplitude(self) -> float:
        """Peak-to-peak voltage ``v_max - v_min``."""
        return self.v_max - self.v_min


@dataclass(frozen=True)
class FHN:
    """The FitzHugh–Nagumo model with constants ``a``, ``b`` and ``tau``.

    Parameters
    ----------
    a : float, default 0.7
        Offset of the ``w``-nullcline ``w = (v + a) / b``.
    b : float, default 0.8
        Slope factor of the recovery variable; must lie in ``(0, 1]``. Substituting the
        ``w``-nullcline into the ``v``-nullcline gives the cubic
        ``v**3 / 3 + (1/b - 1) v + a/b - I = 0``, whose linear coefficient is non-negative
        exactly when ``b <= 1``: the cubic is then monotone and the model has a single fixed
        point for every ``I``, which the closed-form analysis here relies on.
    tau : float, default 12.5
        Time scale of the recovery variable; must be positive.

    Raises
    ------
    ValueError
        If a constant is not finite, ``tau <= 0``, or ``b`` lies outside ``(0, 1]``.
    """

    a: float = 0.7
    b: float = 0.8
    tau: float = 12.5

    def __post_init__(self) -> None:
        for name in ("a", "b", "tau"):
            object.__setattr__(self, name, _real_scalar(getattr(self, name), name))
        if self.tau <= 0:
            raise ValueError(f"tau must be positive, got {self.tau!r}")
        if not 0 < self.b <= 1:
            raise ValueError(
                f"b must lie in (0, 1] so that the model has a single fixed point, got {self.b!r}"
            )

    # ------------------------------------------------------------------ dynamics

    @_no_overflow("state", "I")
    def rhs(self, state: ArrayLike, I: ArrayLike) -> FloatArray:
        """Time derivative ``(dv/dt, dw/dt)``.

        Parameters
        ----------
        state : array_like, shape (..., 2)
            States ``(v, w)``.
        I : array_like, broadcastable to ``state.shape[:-1]``
            Currents.

        Returns
        -------
        ndarray, shape (..., 2)
            The derivatives, with the broadcast shape of ``state[..., 0]`` and ``I``.
        """
        state = _state_array(state, "state")
        current = real_array(I, "I")
        return self._rhs(state, current)

    def _rhs(self, state: FloatArray, current: FloatArray) -> FloatArray:
        v, w = state[..., 0], state[..., 1]
        dv = v - v**3 / 3.0 - w + current
        dw = (v + self.a - self.b * w) / self.tau
        return np.stack(np.broadcast_arrays(dv, dw), axis=-1)

    @_no_overflow("v", "I")
    def nullclines(self, v: ArrayLike, I: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """The two nullclines as ``w`` over ``v``.

        Parameters
        ----------
        v : array_like, shape (n,)
            Voltages at which to evaluate them.
        I : array_like, broadcastable with ``v``
            Current (it shifts the ``v``-nullcline up by ``I``).

        Returns
        -------
        w_v : ndarray
            ``v``-nullcline (``dv/dt = 0``): ``w = v - v**3 / 3 + I``.
        w_w : ndarray
            ``w``-nullcline (``dw/dt = 0``): ``w = (v + a) / b``, independent of ``I``.
        """
        v = real_array(v, "v")
        current = real_array(I, "I")
        w_v = v - v**3 / 3.0 + current
        w_w = np.broadcast_to((v + self.a) / self.b, w_v.shape).copy()
        return w_v, w_w

    def simulate(
        self,
        I: ArrayLike,
        state0: ArrayLike = (0.0, 0.0),
        t_max: float = 100.0,
        dt: float = 0.3,
        method: str = "euler",
        *,
        rtol: float = 1e-9,
        atol: float = 1e-12,
    ) -> tuple[FloatArray, FloatArray]:
        """Integrate the model from ``state0`` on the grid ``t_k = k * dt``, ``t_k <= t_max``.

        The defaults are the original study's data: forward Euler with step 0.3 from
        ``(0, 0)`` for 100 time units (334 samples, the last at ``t = 99.9``).

        Parameters
        ----------
        I : array_like, shape (...)
            Constant current(s); one trajectory per entry.
        state0 : array_like, shape (2,) or (..., 2)
            Initial ``(v, w)``, shared or one per current.
        t_max : float, default 100.0
            Length of the run; the grid stops at the last multiple of ``dt`` not after it.
        dt : float, default 0.3
            Sampling step, and the step of the Euler scheme.
        method : {"euler", "rk45"}, default "euler"
            ``"euler"``: forward Euler ``x_{k+1} = x_k + dt * f(x_k)`` (vectorised over
            ``I``). ``"rk45"``: :func:`scipy.integrate.solve_ivp` with the adaptive
            Runge–Kutta 4(5) method at tolerances ``rtol`` / ``atol``, sampled on the grid.
        rtol, atol : float
            Tolerances of ``"rk45"`` (ignored by ``"euler"``).

        Returns
        -------
        times : ndarray, shape (T,)
            ``dt * arange(T)``.
        states : ndarray, shape (..., T, 2)
            ``(v, w)`` at those times, with the leading shape of ``I``.

        Raises
        ------
        ValueError
            For non-finite ``I`` or ``state0``, a ``state0`` of the wrong shape, a
            non-positive ``t_max``, ``dt``, ``rtol`` or ``atol``, ``t_max < dt``, an
            unknown ``method``, or a run that diverges (forward Euler is unstable for large
            currents or steps) or overflows float64.
        """
        current = real_array(I, "I")
        t_max = _positive_scalar(t_max, "t_max")
        dt = _positive_scalar(dt, "dt")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        rtol = _positive_scalar(rtol, "rtol")
        atol = _positive_scalar(atol, "atol")
        state0 = _state_array(state0, "state0")
        try:
            start = np.broadcast_to(state0, (*current.shape, 2)).copy()
        except ValueError as exc:
            raise ValueError(
                f"state0 must have shape (2,) or {(*current.shape, 2)}, got {state0.shape}"
            ) from exc
        n_steps = math.floor(t_max / dt * (1 + 1e-12))
        if n_steps < 1:
            raise ValueError(f"t_max must be at least dt = {dt}, got {t_max}")
        times = dt * np.arange(n_steps + 1)
        with np.errstate(over="ignore", invalid="ignore"):  # checked below
            if method == "euler":
                states = self._euler(current, start, dt, n_steps)
            else:
                states = self._rk45(current, start, times, rtol, atol)
        diverged = ~np.isfinite(states).all(axis=(-2, -1))
        if diverged.any():
            what = "forward Euler step is unstable" if method == "euler" else "RK45 run overflows"
            raise ValueError(
                f"the {what} for I = {np.broadcast_to(current, diverged.shape)[diverged].tolist()} "
                f"with dt = {dt}: the state becomes NaN or inf (state0 {state0.tolist()}); use a "
                "smaller dt, or currents and a start closer to the model's range"
            )
        return times, states

    def _euler(self, current: FloatArray, start: FloatArray, dt: float, n_steps: int) -> FloatArray:
        states = np.empty((*current.shape, n_steps + 1, 2))
        states[..., 0, :] = start
        for k in range(n_steps):
            previous = states[..., k, :]
            states[..., k + 1, :] = previous + dt * self._rhs(previous, current)
        return states

    def _rk45(
        self, current: FloatArray, start: FloatArray, times: FloatArray, rtol: float, atol: float
    ) -> FloatArray:
        flat_current = current.reshape(-1)
        flat_start = start.reshape(-1, 2)
        states = np.empty((flat_current.size, times.size, 2))
        for index, value in enumerate(flat_current):
            solution = solve_ivp(
                self._ode(value),
                (times[0], times[-1]),
                flat_start[index],
                method="RK45",
                t_eval=times,
                rtol=rtol,
                atol=atol,
            )
            if not solution.success:
                raise RuntimeError(f"solve_ivp failed at I = {value}: {solution.message}")
            states[index] = solution.y.T
        return states.reshape(*current.shape, times.size, 2)

    def _ode(self, current: float) -> Callable[[float, FloatArray], list[float]]:
        a, b, tau = self.a, self.b, self.tau

        def f(_t: float, y: FloatArray) -> list[float]:
            v, w = y[0], y[1]
            return [v - v**3 / 3.0 - w + current, (v + a - b * w) / tau]

        return f

    # ------------------------------------------------------------------ fixed point

    @_no_overflow("I")
    def fixed_point(self, I: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """The unique fixed point ``(v*, w*)``, in closed form.

        ``v*`` is the real root of the depressed cubic ``v**3 + 3 r v + 2 h = 0`` with
        ``r = (1 - b) / b >= 0`` and ``h = 1.5 (a - b I) / b``. Cardano's formula writes it as
        ``v* = u - r / u`` with ``u = cbrt(-h - sign(h) s)`` and ``s = sqrt(h**2 + r**3)``;
        the equal form ``v* = -2 h / (u**2 + r + r**2 / u**2)`` (from ``u**3 + (-r/u)**3 =
        -2 h``) adds positive terms only, so nothing cancels, and ``np.cbrt`` keeps it real for
        every real ``I``. For ``b <= 1/2`` the cubic is first rescaled by ``sqrt(r)``, so that
        a tiny ``b`` neither overflows ``r**3`` nor divides by ``b``. Of the two equal forms
        of ``w*``, ``(v* + a) / b`` (the ``w``-nullcline) and ``v* - v***3 / 3 + I`` (the
        ``v``-nullcline), the one whose terms are smaller is used: for small ``b`` the first
        subtracts nearly equal numbers. Forward Euler with any step has the same fixed points,
        since ``x + dt f(x) = x`` exactly when ``f(x) = 0``.

        Parameters
        ----------
        I : array_like, shape (...)
            Currents.

        Returns
        -------
        v_star, w_star : ndarray, shape (...)
            The fixed point for each current (numpy scalars for a scalar ``I``).
        """
        current = real_array(I, "I")
        v_star = self._v_star(current)
        return v_star[()], self._w_star(v_star, current)[()]

    def _v_star(self, current: FloatArray) -> FloatArray:
        rest = 1.0 - self.b
        offset = self.a - self.b * current  # the cubic times b: b v^3/3 + rest v + offset = 0
        with np.errstate(over="ignore", invalid="ignore"):
            if rest >= self.b:  # r >= 1: v = sqrt(r) t with t^3 + 3 t + 2 g = 0
                g = 1.5 * offset * math.sqrt(self.b) / rest**1.5
                v_star = math.sqrt(rest) / math.sqrt(self.b) * _depressed_cubic_root(g, 1.0)
            else:
                v_star = _depressed_cubic_root(1.5 * offset / self.b, rest / self.b)
        if not np.isfinite(v_star).all():
            raise ValueError("I too large in magnitude: the fixed point overflows float64")
        return v_star

    def _w_star(self, v_star: FloatArray, current: FloatArray) -> FloatArray:
        # Either form may overflow where the other is chosen (huge |I|, or a tiny b).
        with np.errstate(over="ignore", invalid="ignore"):
            on_w_nullcline = (v_star + self.a) / self.b
            on_v_nullcline = v_star - v_star**3 / 3.0 + current
            w_terms = (np.abs(v_star) + abs(self.a)) / self.b
            v_terms = np.abs(v_star) + np.abs(v_star) ** 3 + np.abs(current)
        return np.where(w_terms <= v_terms, on_w_nullcline, on_v_nullcline)

    @_no_overflow("v_star")
    def current_at(self, v_star: ArrayLike) -> FloatArray:
        """The current whose fixed point has voltage ``v_star`` (inverse of ``v*(I)``).

        ``I = v**3 / 3 - v + (v + a) / b``: the ``v``-nullcline evaluated on the
        ``w``-nullcline.

        Parameters
        ----------
        v_star : array_like, shape (...)

        Returns
        -------
        ndarray, shape (...)
        """
        v = real_array(v_star, "v_star")
        return (v**3 / 3.0 - v + (v + self.a) / self.b)[()]

    def _trace_det(self, current: FloatArray) -> tuple[FloatArray, FloatArray]:
        return self._trace_det_at(self._v_star(current) ** 2)

    def _trace_det_at(self, v_squared: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Trace and determinant of the Jacobian at a fixed point with voltage² ``v_squared``."""
        trace = 1.0 - v_squared - self.b / self.tau
        det = (1.0 - self.b + self.b * v_squared) / self.tau
        return trace, det

    @_no_overflow("I")
    def jacobian(self, I: ArrayLike) -> FloatArray:
        """Jacobian of the vector field at the fixed point.

        Parameters
        ----------
        I : array_like, shape (...)

        Returns
        -------
        ndarray, shape (..., 2, 2)
            ``[[1 - v*^2, -1], [1/tau, -b/tau]]``.
        """
        v_star = self._v_star(real_array(I, "I"))
        jac = np.empty((*v_star.shape, 2, 2))
        jac[..., 0, 0] = 1.0 - v_star**2
        jac[..., 0, 1] = -1.0
        jac[..., 1, 0] = 1.0 / self.tau
        jac[..., 1, 1] = -self.b / self.tau
        return jac

    @_no_overflow("I")
    def eigenvalues(self, I: ArrayLike) -> NDArray[np.complex128]:
        """Eigenvalues of :meth:`jacobian`, ``trace/2 ± sqrt(trace²/4 - det)``.

        Parameters
        ----------
        I : array_like, shape (...)

        Returns
        -------
        ndarray of complex, shape (..., 2)
            The larger real eigenvalue first; for a complex pair, the one with positive
            imaginary part first.
        """
        trace, det = self._trace_det(real_array(I, "I"))
        root = np.sqrt((trace**2 / 4.0 - det).astype(np.complex128))
        return np.stack([trace / 2.0 + root, trace / 2.0 - root], axis=-1)

    def classify(self, I: ArrayLike) -> str | NDArray[np.str_]:
        """Type of the fixed point: one of :data:`CLASSES`.

        The determinant ``(1 - b + b v*^2) / tau`` is never negative for ``b <= 1``, so the
        fixed point is never a saddle: its type follows from the sign of the trace
        (stable / unstable) and of ``trace² - 4 det`` (node when ``>= 0``, focus when ``< 0``).

        Parameters
        ----------
        I : array_like, shape (...)

        Returns
        -------
        str or ndarray of str, shape (...)
            A plain string for a scalar ``I``.
        """
        trace, det = self._trace_det(real_array(I, "I"))
        stability = np.where(trace < 0, "stable", "unstable")
        with np.errstate(over="ignore"):  # an infinite trace² still says "node"
            kind = np.where(trace**2 - 4.0 * det >= 0, "node", "focus")
        labels = np.char.add(np.char.add(stability, " "), kind)
        labels = np.where(trace == 0, "center", labels).astype("<U14")
        return str(labels) if labels.ndim == 0 else labels

    # ------------------------------------------------------------------ bifurcations

    def hopf_points(self) -> tuple[float, float]:
        """The two currents at which the fixed point changes stability (Hopf bifurcations).

        The trace vanishes where ``v*^2 = 1 - b/tau``; there the determinant is positive, so
        the eigenvalues are a purely imaginary pair. The currents follow from
        :meth:`current_at` at ``v* = ∓ sqrt(1 - b/tau)``. The fixed point is unstable
        strictly between them and stable outside.

        Returns
        -------
        (I_low, I_high) : tuple of float

        Raises
        ------
        ValueError
            If ``tau <= b``: the trace is then negative for every ``I`` and the fixed point
            never loses stability.
        """
        if self.tau <= self.b:
            raise ValueError(
                f"tau must exceed b for a Hopf bifurcation, got tau={self.tau}, b={self.b}"
            )
        v_hopf = math.sqrt(1.0 - self.b / self.tau)
        return float(self.current_at(-v_hopf)), float(self.current_at(v_hopf))

    def node_focus_points(self) -> FloatArray:
        """Currents at which the eigenvalues turn from a complex pair to two real ones.

        ``trace² = 4 det`` is a quadratic in ``v*^2`` with roots
        ``v*^2 = 1 + b/tau ± 2 / sqrt(tau)``; each positive root gives two currents.

        Returns
        -------
        ndarray, shape (k,)
            Sorted currents, ``k`` in {2, 4} (4 for the default constants:
            about -0.138, 0.581, 1.169 and 1.888).
        """
        roots = 1.0 + self.b / self.tau + np.array([-2.0, 2.0]) / math.sqrt(self.tau)
        v = np.sqrt(roots[roots > 0])
        return np.sort(self.current_at(np.concatenate([-v, v])))

    # ------------------------------------------------------------------ Euler map

    @_no_overflow("I", "dt")
    def euler_jacobian(self, I: ArrayLike, dt: float = 0.3) -> FloatArray:
        """Jacobian of the forward-Euler map ``x -> x + dt f(x)`` at the fixed point.

        It is ``identity + dt * jacobian(I)``, so its eigenvalues are ``1 + dt * λ``: the map
        is stable when every ``|1 + dt λ| < 1``, a stricter test than ``Re λ < 0``.

        Parameters
        ----------
        I : array_like, shape (...)
        dt : float, default 0.3

        Returns
        -------
        ndarray, shape (..., 2, 2)
        """
        dt = _positive_scalar(dt, "dt")
        return np.eye(2) + dt * self.jacobian(I)

    def euler_hopf_points(self, dt: float = 0.3) -> tuple[float, float]:
        """Currents at which the fixed point of the Euler map changes stability.

        For a complex pair, ``|1 + dt λ|² = 1 + dt trace + dt² det``, so the map's fixed
        point loses stability (a Neimark–Sacker bifurcation) where ``trace + dt det = 0``,
        i.e. ``v*^2 = (1 - b/tau + dt (1 - b)/tau) / (1 - dt b/tau)``. These currents lie
        outside :meth:`hopf_points` and tend to them as ``dt -> 0``.

        Parameters
        ----------
        dt : float, default 0.3

        Returns
        -------
        (I_low, I_high) : tuple of float

        Raises
        ------
        ValueError
            If ``dt`` is not positive, or is so large that the map never has a complex pair
            on the unit circle (``dt >= tau / b`` or no complex pair at that point).
        """
        dt = _positive_scalar(dt, "dt")
        denominator = 1.0 - dt * self.b / self.tau
        if self.tau <= self.b or denominator <= 0:
            raise ValueError(f"dt must be below tau / b = {self.tau / self.b}, got {dt}")
        v_squared = (1.0 - self.b / self.tau + dt * (1.0 - self.b) / self.tau) / denominator
        trace, det = self._trace_det_at(v_squared)
        if trace**2 >= 4.0 * det:
            raise ValueError(f"dt = {dt} is too large: the Euler map has no Neimark-Sacker point")
        v_ns = math.sqrt(v_squared)
        return float(self.current_at(-v_ns)), float(self.current_at(v_ns))

    # ------------------------------------------------------------------ limit cycle

    def limit_cycle(
        self,
        I: float,
        state0: ArrayLike = (0.0, 0.0),
        *,
        t_transient: float = 200.0,
        t_limit: float = 10_000.0,
        tol: float = 1e-7,
        settle_tol: float = 1e-4,
        rtol: float = 1e-10,
        atol: float = 1e-12,
    ) -> LimitCycle | None:
        """The limit cycle that the accurate ODE reaches from ``state0``, or None.

        The trajectory is integrated (DOP853) past ``t_transient``; then the upward crossings
        of the section ``v = v*`` are located by root finding on the dense output. The
        cycle has converged when the last three periods and the last three crossing points
        agree to ``tol`` (relative). One more period is then integrated from the last crossing,
        together with ``∫ v dt``, to measure the period, the extreme voltages (where
        ``dv/dt = 0``) and the mean voltage over exactly one period.

        The answer depends on ``state0`` near the Hopf points: both Hopf bifurcations of
        the default model are subcritical, so just outside ``hopf_points()`` a stable fixed
        point coexists with a stable limit cycle. There ``(0, 0)`` ends on the cycle while
        a start close to the fixed point comes to rest (see :meth:`oscillation_range`).

        Parameters
        ----------
        I : float
            Constant current.
        state0 : array_like, shape (2,), default (0, 0)
            Start of the trajectory.
        t_transient : float, default 200.0
            Time integrated before crossings are recorded.
        t_limit : float, default 10000.0
            Give up (RuntimeError) when neither a cycle nor rest is reached by this time.
        tol : float, default 1e-7
            Relative agreement of successive periods and crossing points.
        settle_tol : float, default 1e-4
            The trajectory counts as resting when the fixed point is stable and the state
            comes within this distance of it.
        rtol, atol : float
            Tolerances of the integrator.

        Returns
        -------
        LimitCycle or None
            None when the trajectory comes to rest on the fixed point.

        Raises
        ------
        ValueError
            For a non-scalar or non-finite ``I``, a bad ``state0`` or a non-positive option.
        RuntimeError
            When the trajectory has neither converged to a cycle nor come to rest by
            ``t_limit``.
        """
        current = _real_scalar(I, "I")
        start = _state_array(state0, "state0")
        if start.shape != (2,):
            raise ValueError(f"state0 must have shape (2,), got {start.shape}")
        options = {
            "t_transient": t_transient,
            "t_limit": t_limit,
            "tol": tol,
            "settle_tol": settle_tol,
            "rtol": rtol,
            "atol": atol,
        }
        for name, value in options.items():
            _positive_scalar(value, name)
        v_star, w_star = (float(x) for x in self.fixed_point(current))
        fixed = np.array([v_star, w_star])
        stable = bool(self._trace_det(np.asarray(current))[0] < 0)
        ode = self._ode(current)
        solver = {"method": "DOP853", "rtol": rtol, "atol": atol}

        def section(_t: float, y: FloatArray) -> float:
            return y[0] - v_star

        section.direction = 1.0

        state = solve_ivp(ode, (0.0, t_transient), start, **solver).y[:, -1]
        t, crossings = t_transient, []
        while t < t_limit:
            window = solve_ivp(ode, (t, t + 100.0), state, events=section, **solver)
            crossing_w = np.reshape(window.y_events[0], (-1, 2))[:, 1]
            crossings.extend(zip(window.t_events[0], crossing_w, strict=True))
            t, state = window.t[-1], window.y[:, -1]
            if stable and np.linalg.norm(state - fixed) < settle_tol:
                return None
            if self._cycle_converged(crossings, tol):
                period_guess = crossings[-1][0] - crossings[-2][0]
                return self._measure_cycle(current, crossings[-1][1], period_guess, section, solver)
        raise RuntimeError(
            f"limit_cycle: no cycle and no rest by t_limit = {t_limit} at I = {current}; "
            "raise t_limit or start elsewhere"
        )

    @staticmethod
    def _cycle_converged(crossings: list[tuple[float, float]], tol: float) -> bool:
        if len(crossings) < 4:
            return False
        times, ws = np.array(crossings[-4:]).T
        periods = np.diff(times)
        return bool(
            np.ptp(periods) <= tol * periods[-1] and np.ptp(ws[1:]) <= tol * max(1.0, abs(ws[-1]))
        )

    def _measure_cycle(
        self,
        current: float,
        w_start: float,
        period_guess: float,
        section: Callable[[float, FloatArray], float],
        solver: dict,
    ) -> LimitCycle:
        """Integrate one period from ``(v*, w_start)`` with ``∫ v dt`` and the extrema of v."""
        ode = self._ode(current)
        v_star = float(self._v_star(np.asarray(current)))

        def with_integral(t: float, y: FloatArray) -> list[float]:
            return [*ode(t, y[:2]), y[0]]

        def extremum(_t: float, y: FloatArray) -> float:
            return ode(_t, y[:2])[0]

        start = np.array([v_star, w_start, 0.0])
        run = solve_ivp(
            with_integral, (0.0, 1.5 * period_guess), start, events=[section, extremum], **solver
        )
        returns = run.t_events[0] > 0.5 * period_guess
        period = float(run.t_events[0][returns][0])
        integral = float(run.y_events[0][returns][0][2])
        in_cycle = run.t_events[1] < period
        extremes = np.append(run.y_events[1][in_cycle][:, 0], v_star)
        return LimitCycle(
            I=current,
            period=period,
            v_min=float(extremes.min()),
            v_max=float(extremes.max()),
            v_mean=integral / period,
            start=(v_star, float(w_start)),
        )

    def oscillation_range(
        self, state0: ArrayLike = (0.0, 0.0), *, xtol: float = 1e-4
    ) -> tuple[float, float]:
        """The currents between which the trajectory from ``state0`` ends on a limit cycle.

        Each end is found by bisection on whether :meth:`limit_cycle` returns a cycle,
        between a Hopf point (where the fixed point is unstable just inside, so a cycle
        exists) and a current a tenth of the Hopf interval further out (where the trajectory
        must come to rest). Because both Hopf bifurcations are subcritical for the default
        constants, the range is wider than :meth:`hopf_points`.

        Parameters
        ----------
        state0 : array_like, shape (2,), default (0, 0)
            Start of the trajectories (the original study's start by default).
        xtol : float, default 1e-4
            Width of the final bisection brackets.

        Returns
        -------
        (I_on, I_off) : tuple of float
            The lowest and the highest current, to within ``xtol``, at which the trajectory
            still ends on a cycle.

        Raises
        ------
        RuntimeError
            If the outer end of a bracket does not come to rest or the inner end does not
            oscillate (the outcome is then not a single switch on that side).
        """
        xtol = _positive_scalar(xtol, "xtol")
        i_low, i_high = self.hopf_points()
        reach = 0.1 * (i_high - i_low)
        ends = []
        for inner, outer in ((i_low, i_low - reach), (i_high, i_high + reach)):
            ends.append(self._bisect_onset(state0, inner, outer, xtol))
        return ends[0], ends[1]

    def _bisect_onset(self, state0: ArrayLike, inner: float, outer: float, xtol: float) -> float:
        """Bisect between ``inner`` (oscillates) and ``outer`` (rests); return the inner end."""

        def oscillates(current: float) -> bool:
            return self.limit_cycle(current, state0) is not None

        if not oscillates(inner) or oscillates(outer):
            raise RuntimeError(
                f"oscillation_range: expected a cycle at I = {inner} and rest at I = {outer}"
            )
        while abs(outer - inner) > xtol:
            middle = 0.5 * (inner + outer)
            if oscillates(middle):
                inner = middle
            else:
                outer = middle
        return inner
