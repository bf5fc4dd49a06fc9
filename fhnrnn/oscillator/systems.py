"""The maps whose oscillation is measured: :class:`MapSystem` and its two constructors.

A :class:`MapSystem` is a discrete map ``x_{t+1} = F(x_t, I)`` with a scalar current ``I``,
a voltage read out of the state, and the time step ``dt`` that turns steps into time. The
map is a torch function in float64 (batched rows, shapes (B, d) and (B, 1) -> (B, d)), so
that the fixed-point engine (:mod:`fhnrnn.fixedpoints`) can minimise its speed; Jacobian
products come from reverse-mode autograd unless the system gives them in closed form.

- :func:`fhn_euler_system`: the forward-Euler map of the FHN model, the map the training data
  come from, with its Jacobian in closed form; the voltage is the first coordinate.
- :func:`network_system`: any model with ``step(x, u)`` and ``readout(x)`` (the contract of
  :mod:`fhnrnn.models`), copied in float64, never modified; the voltage is its first output.
  A piecewise-affine cell (:class:`~fhnrnn.fixedpoints.PiecewiseAffine`) brings its
  Jacobian products in closed form, through its ReLU stack.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from fhnrnn._validation import finite_positive, positive_int, real_array
from fhnrnn.fhn import FHN
from fhnrnn.fixedpoints.relu import PiecewiseAffine

__all__ = ["MapSystem", "fhn_euler_system", "network_system"]

TorchStep = Callable[[Tensor, Tensor], Tensor]
TangentMap = Callable[[np.ndarray, float, np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class MapSystem:
    """A map ``x -> F(x, I)`` with a voltage readout, in float64.

    Attributes
    ----------
    step : callable
        ``step(x (B, d), u (B, 1)) -> (B, d)``, float64 torch tensors, rows independent,
        differentiable in ``x``.
    voltage : callable
        ``voltage(x (B, d)) -> (B,)``, the voltage of each state (torch, float64).
    dim : int
        State dimension d.
    dt : float
        Time per step: periods in steps times ``dt`` are periods in time units.
    initial_state : ndarray, shape (d,)
        Where free runs start (the state the training sequences start from).
    name : str
        A label for figures and messages.
    tangent : callable or None
        ``tangent(x (d,), I, Q (d, k)) -> J(x, I) Q (d, k)`` in closed form; None: by
        reverse-mode autograd through ``step``.
    """

    step: TorchStep
    voltage: Callable[[Tensor], Tensor]
    dim: int
    dt: float
    initial_state: np.ndarray
    name: str = "map"
    tangent: TangentMap | None = None

    def __post_init__(self) -> None:
        if not callable(self.step) or not callable(self.voltage):
            raise ValueError("step and voltage must be callables on torch tensors")
        object.__setattr__(self, "dim", positive_int(self.dim, "dim"))
        object.__setattr__(self, "dt", finite_positive(self.dt, "dt"))
        start = real_array(self.initial_state, "initial_state")
        if start.shape != (self.dim,):
            raise ValueError(
                f"initial_state must have shape ({self.dim},), got {start.shape}"
            )
        object.__setattr__(self, "initial_state", start)

    def advance(self, x: np.ndarray, currents: np.ndarray) -> np.ndarray:
        """One step of every row: states (B, d) and currents (B,) -> states (B, d)."""
        with torch.no_grad():
            out = self.step(torch.from_numpy(x), torch.from_numpy(currents)[:, None])
        return out.numpy()

    def voltages(self, x: np.ndarray) -> np.ndarray:
        """Voltages (B,) of states (B, d)."""
        with torch.no_grad():
            return self.voltage(torch.from_numpy(x)).numpy()

    def jacobian_product(self, x: np.ndarray, current: float, q: np.ndarray) -> np.ndarray:
        """``J(x, I) Q`` for one state ``x`` (d,) and directions ``q`` (d, k); shape (d, k)."""
        if self.tangent is not None:
            return self.tangent(x, current, q)
        return _reverse_mode_product(self.step, x, current, q)


def _reverse_mode_product(step: TorchStep, x: np.ndarray, current: float,
                          q: np.ndarray) -> np.ndarray:
    """``J(x, I) Q`` (d, k) by double reverse mode, one batch row per column of ``q``.

    ``g(w) = J^T w`` is built once with its graph and is linear in w, so the gradient of
    ``<g(w), q>`` with respect to w is ``J q``. Forward mode (``torch.func.jvp``) gives the
    same product, but on the CPU it routes ``linear`` through Python decompositions and is
    tens of times slower.
    """
    k = q.shape[1]
    with torch.enable_grad():
        states = torch.from_numpy(np.repeat(x[None], k, axis=0)).requires_grad_(True)
        out = step(states, torch.full((k, 1), float(current), dtype=torch.float64))
        dummy = torch.zeros_like(out, requires_grad=True)
        (pulled,) = torch.autograd.grad(out, states, dummy, create_graph=True)
        if not pulled.requires_grad:  # F does not depend on x
            return np.zeros((out.shape[1], k))
        (product,) = torch.autograd.grad(pulled, dummy, torch.from_numpy(q.T.copy()))
    return product.numpy().T


def fhn_euler_system(model: FHN | None = None, dt: float = 0.3) -> MapSystem:
    """The forward-Euler map ``x + dt f(x, I)`` of the FHN model, the training data's map.

    Parameters
    ----------
    model : FHN, optional
        The constants; ``FHN()`` by default.
    dt : float
        The Euler step (0.3, the study's).

    Returns
    -------
    MapSystem
        State ``(v, w)``, voltage ``v``, start ``(0, 0)``, Jacobian in closed form.
    """
    fhn = FHN() if model is None else model
    if not isinstance(fhn, FHN):
        raise ValueError(f"model must be an fhnrnn.fhn.FHN, got {type(model).__name__}")
    dt = finite_positive(dt, "dt")
    a, b, tau = fhn.a, fhn.b, fhn.tau

    def step(x: Tensor, u: Tensor) -> Tensor:
        v, w = x[:, 0], x[:, 1]
        dv = v - v**3 / 3.0 - w + u[:, 0]
        dw = (v + a - b * w) / tau
        return x + dt * torch.stack([dv, dw], dim=1)

    def tangent(x: np.ndarray, _current: float, q: np.ndarray) -> np.ndarray:
        jacobian = np.eye(2) + dt * np.array([[1.0 - x[0] ** 2, -1.0], [1.0 / tau, -b / tau]])
        return jacobian @ q

    return MapSystem(
        step=step,
        voltage=lambda x: x[:, 0],
        dim=2,
        dt=dt,
        initial_state=np.zeros(2),
        name="FHN Euler map",
        tangent=tangent,
    )


def network_system(model: torch.nn.Module, dt: float = 0.3, name: str = "network") -> MapSystem:
    """A trained network's hidden-state map, with its first output as the voltage.

    Parameters
    ----------
    model : torch.nn.Module
        Anything with ``step(x (B, d), u (B, 1))``, ``readout(x) -> (B, p)`` and
        ``state_size`` (an :class:`fhnrnn.models.RNNCell`); it is deep-copied in float64.
    dt : float
        Time per step of the data it was trained on.
    name : str
        A label.

    Returns
    -------
    MapSystem
        Starting from the zero state, as the training sequences do.
    """
    for attribute in ("step", "readout", "state_size"):
        if not hasattr(model, attribute):
            raise ValueError(
                f"model must have step(x, u), readout(x) and state_size, lacks {attribute!r}"
            )
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    network = copy.deepcopy(model).to(dtype=torch.float64).eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    tangent = None
    if isinstance(network, PiecewiseAffine):
        stack = network.relu_stack()

        def tangent(x: np.ndarray, current: float, q: np.ndarray) -> np.ndarray:
            return stack.jacobian_product(x, np.array([current]), q)

    return MapSystem(
        step=network.step,
        voltage=lambda x: network.readout(x)[:, 0],
        dim=network.state_size,
        dt=finite_positive(dt, "dt"),
        initial_state=np.zeros(network.state_size),
        name=name,
        tangent=tangent,
    )
