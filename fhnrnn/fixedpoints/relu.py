"""The protocol of a piecewise-affine cell: its ReLU stack, and the affine piece of a pattern.

A cell whose step is a stack of ReLU layers with the state and the input entering linearly,

.. math::

    h_0 &= P x + Q u + c_0 \\
    h_l &= \\mathrm{relu}(W_l h_{l-1} + b_l), \\quad l = 1, \\dots, L \\
    F(x, u) &= R h_L + S u + c_{out}

is affine in ``(x, u)`` on each *activation region*: the set where the sign of every one of the
pre-activations ``z_l = W_l h_{l-1} + b_l`` is fixed. The engine solves such a cell exactly
(:mod:`fhnrnn.fixedpoints.exact`) when the cell declares itself through
:class:`PiecewiseAffine`: a method ``relu_stack()`` returning a :class:`ReLUStack`. The engine
never imports the cells; the cells import this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["PiecewiseAffine", "ReLUStack"]


@runtime_checkable
class PiecewiseAffine(Protocol):
    """A cell that is piecewise affine in ``(x, u)`` and can say so."""

    def relu_stack(self) -> ReLUStack:
        """The cell's weights as a :class:`ReLUStack` (float64 copies)."""


def _matrix(value: np.ndarray, name: str, shape: tuple[int | None, int | None]) -> np.ndarray:
    array = np.array(value, dtype=np.float64)
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        raise ValueError(f"{name} must have shape {shape} (None: any), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class ReLUStack:
    """The weights of a piecewise-affine cell (float64; see the module docstring).

    Attributes
    ----------
    state_in : ndarray, shape (n_0, d)
        ``P``.
    input_in : ndarray, shape (n_0, m)
        ``Q``.
    bias_in : ndarray, shape (n_0,)
        ``c_0``.
    weights : tuple of ndarray, shapes (n_l, n_{l-1})
        ``W_1 ... W_L``.
    biases : tuple of ndarray, shapes (n_l,)
        ``b_1 ... b_L``.
    state_out : ndarray, shape (d, n_L)
        ``R``.
    input_out : ndarray, shape (d, m)
        ``S``.
    bias_out : ndarray, shape (d,)
        ``c_out``.
    """

    state_in: np.ndarray
    input_in: np.ndarray
    bias_in: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    state_out: np.ndarray
    input_out: np.ndarray
    bias_out: np.ndarray

    def __post_init__(self) -> None:
        state_in = _matrix(self.state_in, "state_in", (None, None))
        width, d = state_in.shape
        m = np.shape(self.input_in)[1] if np.ndim(self.input_in) == 2 else -1
        fields = {
            "state_in": state_in,
            "input_in": _matrix(self.input_in, "input_in", (width, None)),
            "bias_in": _matrix(self.bias_in, "bias_in", (width,)),
        }
        if len(self.weights) < 1 or len(self.weights) != len(self.biases):
            raise ValueError(
                "weights and biases must be non-empty sequences of equal length, got "
                f"{len(self.weights)} and {len(self.biases)}"
            )
        weights, biases = [], []
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            weights.append(_matrix(weight, f"weights[{layer}]", (None, width)))
            width = weights[-1].shape[0]
            biases.append(_matrix(bias, f"biases[{layer}]", (width,)))
        fields |= {
            "weights": tuple(weights),
            "biases": tuple(biases),
            "state_out": _matrix(self.state_out, "state_out", (d, width)),
            "input_out": _matrix(self.input_out, "input_out", (d, m)),
            "bias_out": _matrix(self.bias_out, "bias_out", (d,)),
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @property
    def state_size(self) -> int:
        """State dimension d."""
        return self.state_in.shape[1]

    @property
    def input_size(self) -> int:
        """Input dimension m."""
        return self.input_in.shape[1]

    @property
    def widths(self) -> tuple[int, ...]:
        """Units per ReLU layer, ``(n_1, ..., n_L)``."""
        return tuple(weight.shape[0] for weight in self.weights)

    def preactivations(self, x: np.ndarray, u: np.ndarray) -> list[np.ndarray]:
        """The pre-activations ``z_1 ... z_L`` at states ``x`` (B, d), inputs ``u`` (B, m).

        Returns
        -------
        list of ndarray, shapes (B, n_l)
        """
        h = x @ self.state_in.T + u @ self.input_in.T + self.bias_in
        layers = []
        for weight, bias in zip(self.weights, self.biases, strict=True):
            layers.append(h @ weight.T + bias)
            h = np.maximum(layers[-1], 0.0)
        return layers

    def step(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``F(x, u)`` for states ``x`` (B, d) and inputs ``u`` (B, m); returns (B, d)."""
        last = np.maximum(self.preactivations(x, u)[-1], 0.0)
        return last @ self.state_out.T + u @ self.input_out.T + self.bias_out

    def jacobian_product(self, x: np.ndarray, u: np.ndarray, q: np.ndarray) -> np.ndarray:
        """``dF/dx Q`` at one state ``x`` (d,) and input ``u`` (m,), for ``q`` (d, k).

        ``R D_L W_L ... D_1 W_1 P Q`` with ``D_l`` the diagonal 0/1 mask of the units that
        are on, applied right to left: L products of width by k instead of a d x d Jacobian.

        Returns
        -------
        ndarray, shape (d, k)
        """
        layers = self.preactivations(x[None], u[None])
        product = self.state_in @ q
        for weight, z in zip(self.weights, layers, strict=True):
            product = (weight @ product) * (z[0] > 0)[:, None]
        return self.state_out @ product

    def pattern(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Activation pattern (True: unit on, ``z > 0``) at one state (d,) and input (m,).

        Returns
        -------
        ndarray of bool, shape (n_1 + ... + n_L,)
        """
        return np.concatenate([z[0] > 0 for z in self.preactivations(x[None], u[None])])

    def preactivation_maps(self, pattern: np.ndarray) -> list[np.ndarray]:
        """Each layer's pre-activations as an affine map of ``(x, u, 1)`` on a pattern's region.

        Parameters
        ----------
        pattern : ndarray of bool, shape (n_1 + ... + n_L,)

        Returns
        -------
        list of ndarray, shapes (n_l, d + m + 1)
            ``z_l = maps[l] @ [x, u, 1]`` on the region.
        """
        maps = [self.weights[0] @ np.hstack([self.state_in, self.input_in, self.bias_in[:, None]])]
        maps[0][:, -1] += self.biases[0]
        parts = self.split(pattern)
        for layer in range(1, len(self.weights)):
            active = np.flatnonzero(parts[layer - 1])  # the units that are off contribute 0
            maps.append(self.weights[layer][:, active] @ maps[-1][active])
            maps[-1][:, -1] += self.biases[layer]
        return maps

    def affine_piece(
        self, pattern: np.ndarray, maps: list[np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``F = A x + B u + c`` on the region of an activation pattern.

        Parameters
        ----------
        pattern : ndarray of bool, shape (n_1 + ... + n_L,)
        maps : list of ndarray, optional
            The pattern's :meth:`preactivation_maps`, when the caller has them already.

        Returns
        -------
        A : ndarray, shape (d, d)
        B : ndarray, shape (d, m)
        c : ndarray, shape (d,)
        """
        maps = self.preactivation_maps(pattern) if maps is None else maps
        last = self.state_out @ (maps[-1] * self.split(pattern)[-1][:, None])
        d, m = self.state_size, self.input_size
        return last[:, :d], last[:, d : d + m] + self.input_out, last[:, -1] + self.bias_out

    @cached_property
    def closing(self) -> np.ndarray:
        """``W_1 P R`` (n_1, n_L): the way from the last layer through the state to the first."""
        return self.weights[0] @ self.state_in @ self.state_out

    def split(self, pattern: np.ndarray) -> list[np.ndarray]:
        """A flat pattern (n_1 + ... + n_L,) cut into the layers' parts (n_l,)."""
        pattern = np.asarray(pattern)
        if pattern.shape != (sum(self.widths),):
            raise ValueError(
                f"pattern must have shape ({sum(self.widths)},), got {pattern.shape}"
            )
        return np.split(pattern, np.cumsum(self.widths)[:-1])
