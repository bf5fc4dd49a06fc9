"""Pivoting along the solution curve of a ReLU stack with one free parameter.

The curve is ``{y = (x, theta) : r(y) = 0}`` with ``r`` the residual of
:class:`ParameterisedStack`, piecewise affine in ``y``. On an activation region ``r(y) = J y + k``
with a constant ``J`` (d x (d+1)), so the curve there is a straight segment along the null
vector of J, and it ends where the first pre-activation reaches zero (a ratio test). Across
that facet one unit flips and J changes by a rank-one term ``alpha a b^T``; the null vector of
the new J comes from the inverse ``N`` of the bordered matrix ``M = [J; g^T]`` (g: the previous
direction), kept by Sherman-Morrison updates in O(d^2) instead of a fresh O(L H^3)
composition. Each vertex is corrected back onto the curve with N, and N is refreshed from a
fresh composition whenever ``J v`` drifts from zero.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations

import numpy as np
from scipy.linalg.blas import dger
from scipy.linalg.lapack import dgecon, dgetrf, dgetri

from fhnrnn.fixedpoints.relu import ReLUStack

_DRIFT = 1e-9  # refresh N when |J v| / (|J| |v|) exceeds this
_TIE = 1e-10  # units reaching zero within this fraction of the scale of one another: a tie
_MAX_TIE = 3  # ties of more units are not resolved
_REBORDER = 0.5  # the border row follows the direction once their cosine falls below this
_CONDITION = 1e12  # a bordered matrix worse conditioned than this takes a new border row


class End(enum.Enum):
    """Why a trace stopped; ``End.X.message`` says it in words."""

    PARAMETER = "reached an end of the parameter interval"
    BOX = "left the bounded box of states"
    LOOP = "came back to a region it had visited: the curve is a closed loop"
    TIE = "reached a corner where several units switch and no choice of region continues it"
    FACET = "continues inside a facet (a unit stays at zero along the curve)"
    SINGULAR = "the fixed points of a region are not a line (I - A is degenerate there)"
    SEGMENTS = "used up its segment budget"

    @property
    def message(self) -> str:
        """The reason, in words."""
        return self.value


@dataclass(frozen=True)
class ParameterisedStack:
    """A ReLU stack whose residual has one free parameter theta, ``y = (x, theta)``.

    ``h_0 = lin_in y + off_in``; ``z_l = W_l h_{l-1} + b_l``, ``h_l = relu(z_l)``;
    ``r(y) = R h_L + par_out theta + off_out - x``.
    """

    stack: ReLUStack
    lin_in: np.ndarray  # (n_0, d + 1)
    off_in: np.ndarray  # (n_0,)
    par_out: np.ndarray  # (d,)
    off_out: np.ndarray  # (d,)

    @classmethod
    def along_input(cls, stack: ReLUStack) -> ParameterisedStack:
        """Theta is the (scalar) input u: the fixed points of ``F(., u)`` as u varies."""
        return cls(
            stack,
            np.hstack([stack.state_in, stack.input_in[:, :1]]),
            stack.bias_in,
            stack.input_out[:, 0],
            stack.bias_out,
        )

    @classmethod
    def homotopy(cls, stack: ReLUStack, x0: np.ndarray, u: np.ndarray) -> ParameterisedStack:
        """Theta is s in ``F(x, u) - x - (1 - s)(F(x0, u) - x0)``: x0 at s = 0, fixed at 1."""
        start = stack.step(x0[None], u[None])[0] - x0
        return cls(
            stack,
            np.hstack([stack.state_in, np.zeros((stack.state_in.shape[0], 1))]),
            stack.input_in @ u + stack.bias_in,
            start,
            stack.input_out @ u + stack.bias_out - start,
        )

    @property
    def d(self) -> int:
        return self.stack.state_size

    @cached_property
    def slices(self) -> tuple[slice, ...]:
        """Each layer's part of a flat array over all units (n_1 + ... + n_L,)."""
        ends = np.cumsum(self.stack.widths)
        return tuple(slice(int(end - width), int(end))
                     for end, width in zip(ends, self.stack.widths, strict=True))

    def preactivations(self, y: np.ndarray) -> np.ndarray:
        """``z_1 ... z_L`` at y, flat, shape (n_1 + ... + n_L,)."""
        z = np.empty(self.slices[-1].stop)
        h = self.lin_in @ y + self.off_in
        for index, (part, bias) in enumerate(zip(self.slices, self.stack.biases, strict=True)):
            z[part] = self.stack.weights[index] @ h
            z[part] += bias
            h = np.maximum(z[part], 0.0)
        return z

    def residual(self, y: np.ndarray) -> np.ndarray:
        """``r(y)``, shape (d,)."""
        return self.residual_from(y, self.preactivations(y))

    def residual_from(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``r(y)`` from the (flat) pre-activations at y, shape (d,)."""
        last = np.maximum(z[self.slices[-1]], 0.0)
        return self.stack.state_out @ last + self.par_out * y[-1] + self.off_out - y[:-1]

    def jacobian(self, on: np.ndarray) -> np.ndarray:
        """``dr/dy`` on the region of the (flat) pattern ``on``, shape (d, d + 1).

        Composed over the active units only: ``W_l[a_l, a_{l-1}]`` blocks (a_l: the units on
        in layer l), a fraction of the dense products when about half the units are on.
        """
        active = [np.flatnonzero(on[part]) for part in self.slices]
        linear = self.stack.weights[0][active[0]] @ self.lin_in
        for layer in range(1, len(active)):
            block = self.stack.weights[layer][np.ix_(active[layer], active[layer - 1])]
            linear = block @ linear
        jacobian = self.stack.state_out[:, active[-1]] @ linear
        jacobian[:, :-1] -= np.eye(self.d)
        jacobian[:, -1] += self.par_out
        return jacobian

    def preactivations_and_rates(
        self, y: np.ndarray, on: np.ndarray, v: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`preactivations` at y and :meth:`directional` along v, in one pass.

        Each weight matrix is read once for both (a product with two columns), which costs
        little more than one of them: the products are bound by reading the weights.
        """
        z, rates = np.empty(self.slices[-1].stop), np.empty(self.slices[-1].stop)
        pair = np.empty((len(y), 2))  # columns: the point, the direction
        pair[:, 0], pair[:, 1] = y, v
        both = self.lin_in @ pair
        both[:, 0] += self.off_in
        for index, (part, bias) in enumerate(zip(self.slices, self.stack.biases, strict=True)):
            product = self.stack.weights[index] @ both
            z[part], rates[part] = product[:, 0] + bias, product[:, 1]
            both = product  # reused: relu of the values, the rates masked by the pattern
            np.maximum(z[part], 0.0, out=both[:, 0])
            np.multiply(rates[part], on[part], out=both[:, 1])
        return z, rates

    def directional(self, on: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Derivatives of ``z_1 ... z_L`` along v on the region of ``on``, flat."""
        rates = np.empty(self.slices[-1].stop)
        h = self.lin_in @ v
        for index, part in enumerate(self.slices):
            rates[part] = self.stack.weights[index] @ h
            h = rates[part] * on[part]
        return rates

    def unit_gradient(self, on: np.ndarray, unit: int) -> np.ndarray:
        """``dz_unit / dy`` on the region of ``on`` (unit: a flat index), shape (d + 1,)."""
        layer = self.layer_of(unit)
        row = self.stack.weights[layer][unit - self.slices[layer].start]
        for below in range(layer - 1, -1, -1):
            row = (row * on[self.slices[below]]) @ self.stack.weights[below]
        return row @ self.lin_in

    def unit_effect(self, on: np.ndarray, unit: int) -> np.ndarray:
        """``dr / dh_unit`` on the region of ``on`` (unit: a flat index), shape (d,)."""
        layer, index = self.unit_name(unit)
        if layer + 1 == len(self.slices):
            return self.stack.state_out[:, index].copy()
        column = self.stack.weights[layer + 1][:, index] * on[self.slices[layer + 1]]
        for above in range(layer + 2, len(self.slices)):
            column = (self.stack.weights[above] @ column) * on[self.slices[above]]
        return self.stack.state_out @ column

    @cached_property
    def stops(self) -> tuple[int, ...]:
        """Where each layer's part of a flat array ends."""
        return tuple(part.stop for part in self.slices)

    def layer_of(self, unit: int) -> int:
        """The layer of a flat unit index."""
        return bisect_right(self.stops, unit)

    def unit_name(self, unit: int) -> tuple[int, int]:
        """(layer, index within the layer) of a flat unit index."""
        layer = self.layer_of(unit)
        return layer, unit - self.slices[layer].start


@dataclass
class Trace:
    """The vertices and segments a trace passed, and how it ended.

    ``vertices[i]`` and ``vertices[i + 1]`` bound segment i, which lies in the region of
    ``patterns[i]``, along a unit direction whose theta-component is ``slopes[i]``;
    ``crossings[i]`` holds the units flipped between segments i and i + 1; ``ties`` counts
    the corners where several units reached zero at once, ``refreshes`` the fresh
    compositions of J (rounding drift or a near-singular update).
    """

    vertices: list[np.ndarray] = field(default_factory=list)
    patterns: list[np.ndarray] = field(default_factory=list)
    slopes: list[float] = field(default_factory=list)
    crossings: list[list[tuple[int, int]]] = field(default_factory=list)
    ties: int = 0
    refreshes: int = 0
    end: End = End.SEGMENTS


class Pivot:
    """One trace along the curve from a point on it, in one direction."""

    def __init__(self, system: ParameterisedStack, y: np.ndarray, direction: float):
        self.system = system
        self.y = np.array(y, dtype=np.float64)
        self.z = system.preactivations(self.y)
        self.on = self.z > 0
        self.weight_scale = max(_norm(weight) for weight in system.stack.weights)
        self.refreshes = 0
        self.border = np.zeros(system.d + 1)
        self.border[-1] = 1.0
        self.stopped: End | None = None  # the start itself is a stop (a degenerate region)
        try:
            self._refresh()
        except _Stop as stop:
            self.stopped = stop.end
            return
        self.v = self.inverse[:, -1] / _norm(self.inverse[:, -1])
        self.v *= 1.0 if self.v[-1] * direction >= 0 else -1.0
        self._set_border(self.v)
        self.rates = system.directional(self.on, self.v)

    def run(self, low: float, high: float, bound: float, max_segments: int) -> Trace:
        """Pivot until theta leaves [low, high], a state leaves the box |x| <= bound, or a stop.

        A start in a region where the curve is not a line ends at once, with that stop.
        """
        trace = Trace(vertices=[self.y.copy()])
        if self.stopped is not None:
            trace.end = self.stopped
            return trace
        seen: set[bytes] = set()
        try:
            for _ in range(max_segments):
                key = np.packbits(self.on).tobytes()
                if key in seen:
                    trace.end = End.LOOP
                    break
                seen.add(key)
                trace.patterns.append(self.on.copy())
                trace.slopes.append(float(self.v[-1]))
                units, limit = self._advance(low, high, bound)
                trace.vertices.append(self.y.copy())
                if limit is not None:
                    trace.end = limit
                    break
                trace.ties += len(units) > 1
                trace.crossings.append([self.system.unit_name(k) for k in self._cross(units)])
        except _Stop as stop:
            trace.end = stop.end
        trace.refreshes = self.refreshes
        return trace

    def _advance(self, low: float, high: float, bound: float) -> tuple[list[int], End | None]:
        """Move to the end of the segment; the units that reach zero there, or the limit met."""
        # each unit's distance to its facet, and the rate at which it closes (> 0: towards)
        gap = np.maximum(np.where(self.on, self.z, -self.z), 0.0)
        closing = np.where(self.on, -self.rates, self.rates)
        step = np.divide(gap, closing, out=np.full(gap.shape, np.inf), where=closing > 0)
        limits = {
            End.PARAMETER: _parameter_step(self.y[-1], self.v[-1], low, high),
            End.BOX: _box_step(self.y[:-1], self.v[:-1], bound),
        }
        first = float(step.min())
        limit = min(limits, key=limits.__getitem__)
        if limits[limit] <= first:
            if not np.isfinite(limits[limit]):
                raise _Stop(End.BOX)
            self._move(limits[limit])
            if limit is End.PARAMETER:  # exactly at the end (the correction moves theta a bit)
                self.y[-1] = high if self.v[-1] > 0 else low
            return [], limit
        hitting = np.flatnonzero(step <= first + _TIE * (1.0 + np.abs(self.y).max()))
        self.y = self.y + first * self.v  # settled after the crossing (_settle)
        return [int(k) for k in hitting], None

    def _move(self, step: float) -> None:
        """Step along v, then back onto the curve with one bordered Newton correction.

        The correction is tiny while N is accurate; a large one (rounding drift in N) makes N
        be recomputed. The pre-activations are those before the correction (off by its size).
        """
        self.y = self.y + step * self.v
        self.z = self.system.preactivations(self.y)
        residual = self.system.residual_from(self.y, self.z)
        if np.abs(residual).max() > _DRIFT * (1.0 + np.abs(self.y).max()):
            self._refresh()
        self.y = self.y - self.inverse[:, :-1] @ residual

    def _cross(self, units: list[int]) -> list[int]:
        """Flip the units (or, at a tie, the subset that continues the curve); the flipped."""
        if len(units) == 1:
            self._flip(units)
            return units
        if len(units) > _MAX_TIE:
            raise _Stop(End.TIE)
        saved = self._state()
        for size in range(1, len(units) + 1):
            for subset in combinations(units, size):
                try:
                    self._flip(list(subset), others=[u for u in units if u not in subset])
                    return list(subset)
                except _Stop:
                    self._restore(saved)
        raise _Stop(End.TIE)

    def _flip(self, units: list[int], others: list[int] = ()) -> None:
        """Flip units (flat indices), update N, and turn v into the new region."""
        for unit in units:
            gradient = self.system.unit_gradient(self.on, unit)
            effect = self.system.unit_effect(self.on, unit)
            sign = -1.0 if self.on[unit] else 1.0
            self.on[unit] = not self.on[unit]
            self._update_inverse(sign, effect, gradient)
        self._turn(units, others)

    def _update_inverse(self, sign: float, effect: np.ndarray, gradient: np.ndarray) -> None:
        left = self.inverse[:, :-1] @ effect
        right = gradient @ self.inverse
        denominator = 1.0 + sign * (gradient @ left)
        if abs(denominator) < 1e-8:
            self._refresh()
            return
        self.inverse = _rank_one(self.inverse, -sign / denominator, left, right)

    def _turn(self, units: list[int], others: list[int]) -> None:
        """The new direction: into the flipped units' new sides, off the other tied facets.

        A unit whose pre-activation does not depend on y in the new region (its gradient is
        zero: every path to it is switched off) constrains nothing and is left out.
        """
        direction, rates = self._settle()
        tiny = 1e-9 * self.weight_scale * _norm(direction)
        signed = [
            rates[unit] * (1.0 if self.on[unit] else -1.0)
            for unit in [*units, *others]
            if len(units) + len(others) == 1
            or np.abs(self.system.unit_gradient(self.on, unit)).max() > 1e-12 * self.weight_scale
        ]
        orientation = 1.0 if direction @ self.v >= 0 else -1.0
        if signed:
            orientation = 1.0 if signed[0] > 0 else -1.0
        if any(value * orientation <= tiny for value in signed):
            raise _Stop(End.FACET)
        self.v = direction * (orientation / _norm(direction))
        self.rates = rates * (orientation / _norm(direction))
        if abs(self.border @ self.v) < _REBORDER * _norm(self.border):
            self._set_border(self.v)

    def _settle(self) -> tuple[np.ndarray, np.ndarray]:
        """At a vertex just crossed: the new null direction and its rates, y back on the curve.

        The pre-activations at the vertex (the same on either side of the facet) and the rates
        along ``N[:, -1]`` come from one pass; a residual that has drifted makes N be
        recomputed (and the rates with it); one bordered Newton correction then puts y back
        on the curve (the pre-activations are those before it, off by its size).
        """
        direction = self.inverse[:, -1]
        self.z, rates = self.system.preactivations_and_rates(self.y, self.on, direction)
        residual = self.system.residual_from(self.y, self.z)
        if np.abs(residual).max() > _DRIFT * (1.0 + np.abs(self.y).max()):
            self._refresh()
            direction = self.inverse[:, -1]
            rates = self.system.directional(self.on, direction)
        self.y = self.y - self.inverse[:, :-1] @ residual
        return direction, rates

    def _set_border(self, border: np.ndarray) -> None:
        change = border - self.border
        column = self.inverse[:, -1].copy()
        denominator = 1.0 + change @ column
        if abs(denominator) < 1e-8:
            self.border = border
            self._refresh()
            return
        self.inverse = _rank_one(self.inverse, -1.0 / denominator, column, change @ self.inverse)
        self.border = border

    def _refresh(self) -> None:
        """N afresh from the pattern's J (rounding drift, or a near-singular update)."""
        jacobian = self.system.jacobian(self.on)
        inverse = _inverse(np.vstack([jacobian, self.border]))
        if inverse is None:
            self.border = _null_vector(jacobian)
            inverse = np.asfortranarray(np.linalg.inv(np.vstack([jacobian, self.border])))
        self.inverse = inverse
        self.refreshes += 1

    def _state(self) -> tuple:
        return (self.on.copy(), self.inverse.copy(order="F"), self.border.copy(), self.v.copy(),
                self.rates, self.y.copy(), self.z)

    def _restore(self, saved: tuple) -> None:
        on, inverse, border, v, rates, y, z = saved
        self.on, self.inverse = on.copy(), inverse.copy(order="F")
        self.border, self.v, self.rates = border.copy(), v.copy(), rates
        self.y, self.z = y.copy(), z


class _Stop(Exception):
    def __init__(self, end: End):
        super().__init__(end.message)
        self.end = end


def _null_vector(jacobian: np.ndarray) -> np.ndarray:
    """A unit null vector of J (d, d + 1), by SVD; stops where the null space is not a line."""
    _, singular, vt = np.linalg.svd(jacobian)
    if singular[-1] <= 1e-12 * singular[0]:
        raise _Stop(End.SINGULAR)
    return vt[-1]


def _inverse(matrix: np.ndarray) -> np.ndarray | None:
    """The inverse (Fortran order) of a square matrix, or None when its condition number
    (LAPACK's 1-norm estimate from the LU factors) exceeds ``_CONDITION``."""
    factors, pivots, info = dgetrf(matrix)
    if info != 0:
        return None
    reciprocal, _ = dgecon(factors, np.abs(matrix).sum(axis=0).max(), norm="1")
    if reciprocal * _CONDITION < 1.0:
        return None
    inverse, info = dgetri(factors, pivots)
    return np.asfortranarray(inverse) if info == 0 else None


def _rank_one(matrix: np.ndarray, alpha: float, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``matrix + alpha * left right^T``, in place for a Fortran-ordered matrix (BLAS dger)."""
    return dger(alpha, left, right, a=matrix, overwrite_a=True)


def _norm(array: np.ndarray) -> float:
    return float(np.abs(array).max()) or 1.0


def _parameter_step(theta: float, rate: float, low: float, high: float) -> float:
    if rate > 0:
        return max(high - theta, 0.0) / rate
    if rate < 0:
        return max(theta - low, 0.0) / -rate
    return np.inf


def _box_step(x: np.ndarray, rate: np.ndarray, bound: float) -> float:
    room = np.divide(np.copysign(bound, rate) - x, rate, out=np.full(x.shape, np.inf),
                     where=rate != 0)
    return float(np.maximum(room, 0.0).min())
