"""Recurrent cells that expose their hidden-state map.

Every cell is an :class:`RNNCell`: a :class:`torch.nn.Module` with

- ``step(x, u) -> x_next``, the hidden-state map :math:`F(x, u)`, shapes ``(B, d), (B, m) ->
  (B, d)``; a pure function of its arguments and the parameters, so ``torch.func.vmap``,
  ``jacrev`` and ``jacfwd`` work on it and it runs in float64 after ``.double()``;
- ``readout(x) -> y``, the linear read-out, ``(..., d) -> (..., p)``;
- ``rollout(u, x0) -> (states, outputs)``, the map iterated over an input sequence;
- ``initial_state(B)``, zeros of shape ``(B, d)``.

The fixed-point engine (:mod:`fhnrnn.fixedpoints`) only needs ``step``. The cells are

- :class:`PaperRNN`, the deep-ReLU cell of the original study (its Figure 1);
- :class:`TanhRNN`, the vanilla cell ``x' = tanh(W x + B u + b)``;
- :class:`RNNAdapter`, :class:`GRUAdapter` and :class:`LSTMAdapter`, which evaluate a
  wrapped single-layer :class:`torch.nn.RNN` / :class:`torch.nn.GRU` / :class:`torch.nn.LSTM`
  one step at a time from the module's own weights (the LSTM state is ``[h, c]`` flattened
  to one vector).

:func:`recurrent_step` gives the same ``step(x, u)`` for a bare torch recurrent module or
cell (``nn.RNN``, ``nn.GRU``, ``nn.LSTM``, ``nn.RNNCell``, ``nn.GRUCell``, ``nn.LSTMCell``),
which torch itself calls as ``module(u, h)``, input first.

Constructors that draw random initial weights take an explicit ``seed`` and draw from their
own :class:`torch.Generator`: building a cell never touches the global random state.
"""

from __future__ import annotations

import abc
import copy
import math
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from fhnrnn._validation import finite_positive, non_negative_int, positive_int, real_tensor
from fhnrnn.fixedpoints.relu import ReLUStack
from fhnrnn.fixedpoints.torch_cells import (
    check_single_layer,
    gru_map,
    lstm_map,
    recurrent_step,
    rnn_map,
)

__all__ = [
    "GRUAdapter",
    "LSTMAdapter",
    "PaperRNN",
    "RNNAdapter",
    "RNNCell",
    "ResidualMLPCell",
    "TanhRNN",
    "fold_normalisation",
    "recurrent_step",
]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(non_negative_int(seed, "seed"))


def _uninitialised_linear(in_features: int, out_features: int, bias: bool = True) -> nn.Linear:
    """An :class:`nn.Linear` whose construction draws nothing from the global RNG."""
    return torch.nn.utils.skip_init(nn.Linear, in_features, out_features, bias=bias)


def _init_linear_uniform(layer: nn.Linear, generator: torch.Generator) -> None:
    """PyTorch's default bound ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, drawn from ``generator``."""
    bound = layer.in_features**-0.5
    with torch.no_grad():
        nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
        if layer.bias is not None:
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


PAPER_INITS = ("identity", "default", "paired_rotation")
TANH_INITS = ("gaussian", "rotation")


def _plane_rotations(
    n_planes: int, period_range: tuple[float, float], generator: torch.Generator,
    n_layers: int = 1,
) -> Tensor:
    """Block-diagonal rotations of ``n_planes`` planes, float64 (2 n_planes, 2 n_planes).

    Each plane's period (in steps of ``n_layers`` applications) is drawn from
    ``U(period_range)``.
    """
    low, high = period_range
    periods = low + (high - low) * torch.rand(n_planes, generator=generator, dtype=torch.float64)
    angles = 2 * math.pi / (periods * n_layers)
    cos, sin = torch.cos(angles), torch.sin(angles)
    rotations = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    return torch.block_diag(*rotations)


def _check_period_range(period_range: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = (float(value) for value in period_range)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"period_range must be a pair (low, high) of numbers, got {period_range!r}"
        ) from error
    if not (math.isfinite(high) and 1.0 < low <= high):
        raise ValueError(f"period_range must satisfy 1 < low <= high < inf, got {period_range!r}")
    return low, high


class RNNCell(nn.Module, abc.ABC):
    """Base class of the recurrent cells: one hidden-state map, one linear read-out.

    Subclasses set ``state_size`` (d), ``input_size`` (m) and ``output_size`` (p) and implement
    :meth:`_step`, :meth:`_readout` and :meth:`config`. The public :meth:`step`,
    :meth:`readout` and :meth:`rollout` check their arguments and are implemented here once.

    Attributes
    ----------
    state_size : int
        Dimension d of the hidden state x.
    input_size : int
        Dimension m of the input u.
    output_size : int
        Dimension p of the output y.
    VERSION : int
        Version of the cell's definition (its map, read-out and initialisation). It enters
        the training cache key and the shipped networks' recipe keys, so that a changed cell
        is never served the weights of the old one: bump it with every change that changes
        numbers (``tests/test_models.py`` fails on a changed definition with an unchanged
        version).
    """

    VERSION: ClassVar[int] = 1
    state_size: int
    input_size: int
    output_size: int

    @abc.abstractmethod
    def _step(self, x: Tensor, u: Tensor) -> Tensor:
        """The hidden-state map on checked arguments, ``(B, d), (B, m) -> (B, d)``."""

    @abc.abstractmethod
    def _readout(self, x: Tensor) -> Tensor:
        """The read-out on a checked state, ``(..., d) -> (..., p)``."""

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """Constructor settings as a JSON-serialisable dict (part of the training cache key)."""

    def _check_tensor(self, value: Tensor, name: str, shape: str, last: int, ndim: int) -> None:
        if not isinstance(value, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor of shape {shape}, got {type(value)}")
        if value.ndim != ndim or value.shape[-1] != last:
            raise ValueError(
                f"{name} must have shape {shape} with last dimension {last}, "
                f"got {tuple(value.shape)}"
            )
        reference = next(self.parameters())
        if value.dtype != reference.dtype or value.device != reference.device:
            raise ValueError(
                f"{name} has dtype {value.dtype} on {value.device} but the model's parameters "
                f"are {reference.dtype} on {reference.device}; convert one of them with .to()"
            )

    def step(self, x: Tensor, u: Tensor) -> Tensor:
        """One application of the hidden-state map, ``x_next = F(x, u)``.

        Parameters
        ----------
        x : Tensor, shape (B, d)
            Hidden states.
        u : Tensor, shape (B, m)
            Inputs.

        Returns
        -------
        Tensor, shape (B, d)
            The next hidden states.
        """
        self._check_tensor(x, "x", "(B, d)", self.state_size, 2)
        self._check_tensor(u, "u", "(B, m)", self.input_size, 2)
        if x.shape[0] != u.shape[0]:
            raise ValueError(
                f"x and u must have the same batch size, got {x.shape[0]} and {u.shape[0]}"
            )
        return self._step(x, u)

    def readout(self, x: Tensor) -> Tensor:
        """Linear read-out of hidden states.

        Parameters
        ----------
        x : Tensor, shape (B, d)
            Hidden states.

        Returns
        -------
        Tensor, shape (B, p)
            Outputs.
        """
        self._check_tensor(x, "x", "(B, d)", self.state_size, 2)
        return self._readout(x)

    def initial_state(self, batch_size: int) -> Tensor:
        """Zero hidden states on the module's device and dtype.

        Parameters
        ----------
        batch_size : int
            Number B of states.

        Returns
        -------
        Tensor, shape (B, d)
        """
        batch_size = positive_int(batch_size, "batch_size")
        reference = next(self.parameters())
        return reference.new_zeros(batch_size, self.state_size)

    def rollout(self, u: Tensor, x0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Iterate the hidden-state map over an input sequence.

        ``states[:, t] = F(states[:, t - 1], u[:, t])`` with ``states[:, -1] := x0``, and
        ``outputs[:, t] = readout(states[:, t])``: the state at index t has already seen the
        input at index t.

        Parameters
        ----------
        u : Tensor, shape (B, T, m)
            Input sequences.
        x0 : Tensor, shape (B, d), optional
            Initial hidden states; zeros when omitted.

        Returns
        -------
        states : Tensor, shape (B, T, d)
        outputs : Tensor, shape (B, T, p)
        """
        self._check_tensor(u, "u", "(B, T, m)", self.input_size, 3)
        if u.shape[0] < 1:
            raise ValueError(f"u must hold at least one sequence (B >= 1), got {tuple(u.shape)}")
        if u.shape[1] < 1:
            raise ValueError(f"u must hold at least one time step, got shape {tuple(u.shape)}")
        if x0 is None:
            x0 = self.initial_state(u.shape[0])
        self._check_tensor(x0, "x0", "(B, d)", self.state_size, 2)
        if x0.shape[0] != u.shape[0]:
            raise ValueError(f"x0 must have the batch size of u ({u.shape[0]}), got {x0.shape[0]}")
        for name, value in (("u", u), ("x0", x0)):
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{name} must be finite (it holds NaN or infinity)")
        x = x0
        states = []
        for t in range(u.shape[1]):
            x = self._step(x, u[:, t])
            states.append(x)
        stacked = torch.stack(states, dim=1)
        return stacked, self._readout(stacked)


class PaperRNN(RNNCell):
    r"""The deep-ReLU cell of the original study (its Figure 1).

    The input enters the hidden state through a linear map, then L dense layers, each followed
    by a ReLU, produce the next hidden state; the output is a linear read-out of the state:

    .. math::

        h_0 &= x_t + W_{in} u_t + b_{in} \\
        h_l &= \mathrm{relu}(W_l h_{l-1} + b_l), \quad l = 1, \dots, L \\
        x_{t+1} &= h_L, \qquad y_{t+1} = W_{out} x_{t+1} + b_{out}

    so ``d = hidden_size`` and every state after the first step is non-negative.

    Initialisation. Unrolled over T steps the cell is a ReLU network L*T layers deep (1670
    layers for the FHN task's 334 steps), so its initial gain decides whether signals and
    gradients survive. With ``init="identity"`` (default) each hidden layer starts as
    ``W_l = g**(1/L) * A_l / ||A_l||_2`` with ``A_l = I + noise``, ``noise`` i.i.d.
    ``N(0, init_noise**2 / H)``, and ``b_l = 0`` (g = ``recurrent_gain``). Every layer then has
    spectral norm ``g**(1/L)`` and ReLU is 1-Lipschitz, so the initial map is Lipschitz in x
    with constant at most g; for g < 1 it is a contraction, states stay bounded over any
    sequence length, and the cell
    starts close to the leaky integrator ``x_{t+1} ~ g (x_t + W_in u_t + b_in)`` on
    non-negative states, with a memory of about ``1 / (1 - g)`` steps (the idea of the
    identity-initialised ReLU RNN of Le, Jaitly & Hinton, 2015; the noise breaks the symmetry
    between units). Without the normalisation, ``I + noise`` has spectral radius above 1 and
    the states of a 334-step rollout overflow. ``init="default"`` draws every hidden layer
    from PyTorch's default ``U(-1/sqrt(H), 1/sqrt(H))``, which shrinks a state by a factor of
    about 0.4 per layer, so the initial cell forgets its state within one step. ``W_in``,
    ``b_in`` and the read-out use PyTorch's default bounds with these two initialisations.

    ``init="paired_rotation"`` makes the initial cell an exactly linear, neutral oscillator.
    The state is read as sign pairs ``x = [relu(z), relu(-z)]`` with ``z`` of size H/2, and
    every hidden layer starts as ``W_l = [[A, -A], [-A, A]]``, ``b_l = 0``, where ``A`` is
    block-diagonal with H/4 rotations of the plane by ``2 pi / (L P_j)``, periods ``P_j``
    drawn from ``U(period_range)`` (in steps). Since ``relu(a) - relu(-a) = a``, each layer
    maps the pair of ``z`` to the pair of ``A z``: the ReLU stack is linear and one step rotates
    ``z`` by ``2 pi / P_j`` in plane j. Unrolled over hundreds of steps, signals and gradients
    then neither vanish nor explode. The input map starts as ``W_in = [B; -B]``,
    ``b_in = [c; -c]`` with ``B, c`` i.i.d. ``N(0, input_scale**2)``; the read-out uses
    PyTorch's default bounds. H must be divisible by 4.

    Parameters
    ----------
    input_size : int
        Input dimension m.
    output_size : int
        Output dimension p.
    hidden_size : int
        Hidden-state dimension H (= d).
    n_layers : int
        Number L of dense ReLU layers per step.
    init : {"identity", "default", "paired_rotation"}
        Initialisation of the hidden layers (see above).
    recurrent_gain : float
        g in ``(0, 1.5]``: bound on the initial cell's Lipschitz constant in x (identity init).
    init_noise : float
        Relative size of the random part of each identity-initialised layer.
    period_range : (float, float)
        Range ``(low, high)``, ``1 < low <= high``, of the rotation periods in steps
        (paired-rotation init).
    input_scale : float
        Standard deviation (>= 0) of the initial input weights and biases (paired-rotation
        init).
    seed : int
        Seed of the initial weights.
    """

    def __init__(
        self,
        input_size: int = 1,
        output_size: int = 1,
        hidden_size: int = 256,
        n_layers: int = 5,
        *,
        init: str = "identity",
        recurrent_gain: float = 0.95,
        init_noise: float = 0.1,
        period_range: tuple[float, float] = (90.0, 200.0),
        input_scale: float = 0.01,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.input_size = positive_int(input_size, "input_size")
        self.output_size = positive_int(output_size, "output_size")
        self.hidden_size = self.state_size = positive_int(hidden_size, "hidden_size")
        self.n_layers = positive_int(n_layers, "n_layers")
        if init not in PAPER_INITS:
            raise ValueError(f"init must be one of {PAPER_INITS}, got {init!r}")
        if init == "paired_rotation" and self.hidden_size % 4:
            raise ValueError(
                f"hidden_size must be divisible by 4 for init='paired_rotation', got {hidden_size}"
            )
        self.period_range = _check_period_range(period_range)
        self.input_scale = finite_positive(input_scale, "input_scale", allow_zero=True)
        self.recurrent_gain = finite_positive(recurrent_gain, "recurrent_gain")
        if self.recurrent_gain > 1.5:
            raise ValueError(f"recurrent_gain must lie in (0, 1.5], got {recurrent_gain!r}")
        self.init_noise = finite_positive(init_noise, "init_noise", allow_zero=True)
        self.init = init
        self.seed = non_negative_int(seed, "seed")

        self.input_layer = _uninitialised_linear(self.input_size, self.hidden_size)
        self.hidden_layers = nn.ModuleList(
            _uninitialised_linear(self.hidden_size, self.hidden_size) for _ in range(self.n_layers)
        )
        self.output_layer = _uninitialised_linear(self.hidden_size, self.output_size)
        self._initialise(_generator(self.seed))

    def _initialise(self, generator: torch.Generator) -> None:
        if self.init == "paired_rotation":
            self._initialise_paired_rotation(generator)
            return
        _init_linear_uniform(self.input_layer, generator)
        for layer in self.hidden_layers:
            if self.init == "default":
                _init_linear_uniform(layer, generator)
                continue
            size = self.hidden_size
            with torch.no_grad():
                noise = torch.randn(size, size, generator=generator, dtype=torch.float64)
                weight = torch.eye(size, dtype=torch.float64) + noise * (
                    self.init_noise / size**0.5
                )
                gain = self.recurrent_gain ** (1.0 / self.n_layers)
                layer.weight.copy_(weight * (gain / torch.linalg.matrix_norm(weight, ord=2)))
                layer.bias.zero_()
        _init_linear_uniform(self.output_layer, generator)

    def _initialise_paired_rotation(self, generator: torch.Generator) -> None:
        n_planes = self.hidden_size // 4
        half = _plane_rotations(n_planes, self.period_range, generator, self.n_layers)
        weight = torch.cat([torch.cat([half, -half], 1), torch.cat([-half, half], 1)], 0)
        in_weight = torch.randn(
            2 * n_planes, self.input_size, generator=generator, dtype=torch.float64
        )
        in_bias = torch.randn(2 * n_planes, generator=generator, dtype=torch.float64)
        with torch.no_grad():
            for layer in self.hidden_layers:
                layer.weight.copy_(weight)
                layer.bias.zero_()
            self.input_layer.weight.copy_(torch.cat([in_weight, -in_weight]) * self.input_scale)
            self.input_layer.bias.copy_(torch.cat([in_bias, -in_bias]) * self.input_scale)
        _init_linear_uniform(self.output_layer, generator)

    def config(self) -> dict[str, Any]:
        """Constructor settings (JSON-serialisable)."""
        config = {
            "input_size": self.input_size,
            "output_size": self.output_size,
            "hidden_size": self.hidden_size,
            "n_layers": self.n_layers,
            "init": self.init,
            "recurrent_gain": self.recurrent_gain,
            "init_noise": self.init_noise,
            "seed": self.seed,
        }
        if self.init == "paired_rotation":
            config["period_range"] = list(self.period_range)
            config["input_scale"] = self.input_scale
        return config

    def _step(self, x: Tensor, u: Tensor) -> Tensor:
        h = x + self.input_layer(u)
        for layer in self.hidden_layers:
            h = torch.relu(layer(h))
        return h

    def relu_stack(self) -> ReLUStack:
        """The cell as a stack of ReLU layers (float64 copies), for the exact fixed-point route.

        ``h_0 = x + W_in u + b_in``, ``h_l = relu(W_l h_{l-1} + b_l)``, ``F = h_L``: see
        :class:`fhnrnn.fixedpoints.ReLUStack`.
        """

        def numpy(tensor: Tensor) -> np.ndarray:
            return tensor.detach().to(device="cpu", dtype=torch.float64).numpy().copy()

        d, m = self.hidden_size, self.input_size
        return ReLUStack(
            state_in=np.eye(d),
            input_in=numpy(self.input_layer.weight),
            bias_in=numpy(self.input_layer.bias),
            weights=tuple(numpy(layer.weight) for layer in self.hidden_layers),
            biases=tuple(numpy(layer.bias) for layer in self.hidden_layers),
            state_out=np.eye(d),
            input_out=np.zeros((d, m)),
            bias_out=np.zeros(d),
        )

    def _readout(self, x: Tensor) -> Tensor:
        return self.output_layer(x)


class TanhRNN(RNNCell):
    r"""Vanilla tanh cell, :math:`x_{t+1} = \tanh(W x_t + B u_t + b)`, :math:`y = C x + c`.

    ``init="gaussian"``: ``W`` starts as a Gaussian matrix rescaled to the given spectral
    radius. ``init="rotation"``: ``W`` starts block-diagonal, ``H/2`` plane rotations with
    periods (in steps) drawn from ``U(period_range)``, times the spectral radius: near the
    origin, where tanh is the identity, the initial cell is a slow, neutral (radius 1)
    oscillator, as the paired-rotation start of :class:`PaperRNN` is. ``B``, ``b``, ``C`` and
    ``c`` start from PyTorch's default ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``; ``B`` and ``b``
    are then multiplied by ``input_scale`` and ``C`` by ``readout_scale``. A small input keeps
    the initial state where tanh is nearly linear (a saturated start does not learn the FHN
    task); a large read-out lets the network produce an output of order one from a small
    excursion of the hidden state.

    Parameters
    ----------
    input_size : int
        Input dimension m.
    output_size : int
        Output dimension p.
    hidden_size : int
        Hidden-state dimension H (= d).
    spectral_radius : float
        Largest eigenvalue modulus of the initial recurrent matrix ``W`` (> 0).
    readout_scale : float
        Factor (> 0) applied to the initial read-out weights ``C``.
    input_scale : float
        Factor (> 0) applied to the initial input weights ``B`` and bias ``b``.
    init : {"gaussian", "rotation"}
        How ``W`` starts (see above).
    period_range : (float, float)
        The band of the rotation periods, in steps (``init="rotation"``; needs an even H).
    seed : int
        Seed of the initial weights.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        hidden_size: int,
        *,
        spectral_radius: float = 1.0,
        readout_scale: float = 1.0,
        input_scale: float = 1.0,
        init: str = "gaussian",
        period_range: tuple[float, float] = (90.0, 200.0),
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.input_size = positive_int(input_size, "input_size")
        self.output_size = positive_int(output_size, "output_size")
        self.hidden_size = self.state_size = positive_int(hidden_size, "hidden_size")
        self.spectral_radius = finite_positive(spectral_radius, "spectral_radius")
        self.readout_scale = finite_positive(readout_scale, "readout_scale")
        self.input_scale = finite_positive(input_scale, "input_scale")
        if init not in TANH_INITS:
            raise ValueError(f"init must be one of {TANH_INITS}, got {init!r}")
        if init == "rotation" and self.hidden_size % 2:
            raise ValueError(
                f"hidden_size must be even for init='rotation', got {hidden_size}"
            )
        self.init = init
        self.period_range = _check_period_range(period_range)
        self.seed = non_negative_int(seed, "seed")

        self.recurrent_layer = _uninitialised_linear(self.hidden_size, self.hidden_size, bias=False)
        self.input_layer = _uninitialised_linear(self.input_size, self.hidden_size)
        self.output_layer = _uninitialised_linear(self.hidden_size, self.output_size)
        self._initialise(_generator(self.seed))

    def _initialise(self, generator: torch.Generator) -> None:
        if self.init == "rotation":
            rotations = _plane_rotations(self.hidden_size // 2, self.period_range, generator)
            weight = rotations * self.spectral_radius
        else:
            gaussian = torch.randn(self.hidden_size, self.hidden_size, generator=generator,
                                   dtype=torch.float64)
            radius = torch.linalg.eigvals(gaussian).abs().max()
            weight = gaussian * (self.spectral_radius / radius)
        with torch.no_grad():
            self.recurrent_layer.weight.copy_(weight)
        _init_linear_uniform(self.input_layer, generator)
        _init_linear_uniform(self.output_layer, generator)
        with torch.no_grad():
            self.input_layer.weight.mul_(self.input_scale)
            self.input_layer.bias.mul_(self.input_scale)
            self.output_layer.weight.mul_(self.readout_scale)

    def config(self) -> dict[str, Any]:
        """Constructor settings (JSON-serialisable); the scales and ``init`` only when set."""
        config = {
            "input_size": self.input_size,
            "output_size": self.output_size,
            "hidden_size": self.hidden_size,
            "spectral_radius": self.spectral_radius,
            "seed": self.seed,
        }
        if self.readout_scale != 1.0:
            config["readout_scale"] = self.readout_scale
        if self.input_scale != 1.0:
            config["input_scale"] = self.input_scale
        if self.init != "gaussian":
            config["init"] = self.init
            config["period_range"] = list(self.period_range)
        return config

    def _step(self, x: Tensor, u: Tensor) -> Tensor:
        return torch.tanh(self.recurrent_layer(x) + self.input_layer(u))

    def _readout(self, x: Tensor) -> Tensor:
        return self.output_layer(x)


def _check_recurrent_module(module: nn.Module, kind: type[nn.RNNBase], name: str) -> None:
    if not isinstance(module, kind):
        raise ValueError(f"{name} must be a torch.nn.{kind.__name__}, got {type(module).__name__}")
    check_single_layer(module, name)


def _check_readout(readout: nn.Module, hidden_size: int) -> None:
    if not isinstance(readout, nn.Linear) or readout.in_features != hidden_size:
        raise ValueError(
            f"readout must be a torch.nn.Linear with in_features={hidden_size}, got {readout!r}"
        )


def _default_recurrent_module(
    kind: type[nn.RNNBase], input_size: int, hidden_size: int, seed: int
) -> nn.RNNBase:
    """A single-layer RNN/GRU/LSTM with PyTorch's default bounds, drawn from ``seed``."""
    input_size = positive_int(input_size, "input_size")
    hidden_size = positive_int(hidden_size, "hidden_size")
    module = kind(input_size, hidden_size, batch_first=True, device="meta").to_empty(device="cpu")
    generator = _generator(seed)
    bound = hidden_size**-0.5
    with torch.no_grad():
        for weight in module.parameters():
            nn.init.uniform_(weight, -bound, bound, generator=generator)
    return module


class _RecurrentModuleAdapter(RNNCell):
    """Shared parts of the adapters around a single-layer :mod:`torch.nn` recurrent module."""

    module_type: type[nn.RNNBase]
    _map: Callable[[Any, Tensor, Tensor], Tensor]
    _name: str  # attribute of the wrapped module, the prefix of its state_dict keys

    def __init__(self, module: nn.RNNBase, readout: nn.Linear) -> None:
        super().__init__()
        _check_recurrent_module(module, self.module_type, "module")
        _check_readout(readout, module.hidden_size)
        setattr(self, self._name, module)
        self.output_layer = readout
        self.input_size = module.input_size
        self.hidden_size = module.hidden_size
        self.state_size = module.hidden_size
        self.output_size = readout.out_features

    @property
    def recurrent_module(self) -> nn.RNNBase:
        """The wrapped :class:`torch.nn.RNN`, :class:`torch.nn.GRU` or :class:`torch.nn.LSTM`."""
        return getattr(self, self._name)

    def _step(self, x: Tensor, u: Tensor) -> Tensor:
        return self._map(self.recurrent_module, x, u)

    def _readout(self, x: Tensor) -> Tensor:
        return self.output_layer(x[..., : self.hidden_size])

    @classmethod
    def create(
        cls: type[_Adapter], input_size: int, output_size: int, hidden_size: int, *, seed: int = 0
    ) -> _Adapter:
        """A new cell with PyTorch's default initial bounds, drawn from ``seed``.

        Parameters
        ----------
        input_size, output_size, hidden_size : int
            m, p and H.
        seed : int
            Seed of the initial weights (the global random state is not used).
        """
        module = _default_recurrent_module(cls.module_type, input_size, hidden_size, seed)
        output_size = positive_int(output_size, "output_size")
        readout = _uninitialised_linear(module.hidden_size, output_size)
        _init_linear_uniform(readout, _generator(seed + 1))
        return cls(module, readout)

    def config(self) -> dict[str, Any]:
        """Sizes and bias flags (JSON-serialisable)."""
        return {
            "input_size": self.input_size,
            "output_size": self.output_size,
            "hidden_size": self.hidden_size,
            "bias": bool(self.recurrent_module.bias),
            "readout_bias": self.output_layer.bias is not None,
        }


_Adapter = TypeVar("_Adapter", bound=_RecurrentModuleAdapter)


class RNNAdapter(_RecurrentModuleAdapter):
    r"""One-step view of a single-layer :class:`torch.nn.RNN` plus a linear read-out.

    The step is written out from the RNN's own parameters,
    :math:`h' = \mathrm{act}(W_{ih} u + b_{ih} + W_{hh} h + b_{hh})` with the module's
    ``nonlinearity`` (tanh or relu), so ``rollout`` reproduces ``rnn(u, h0)``.

    Parameters
    ----------
    module : torch.nn.RNN
        Single-layer, unidirectional RNN; input size m, hidden size H (= d).
    readout : torch.nn.Linear
        Read-out with ``in_features == H``; p = ``out_features``.
    """

    module_type, _name, _map = nn.RNN, "rnn", staticmethod(rnn_map)

    def config(self) -> dict[str, Any]:
        """Sizes, bias flags and the nonlinearity (JSON-serialisable)."""
        return {**super().config(), "nonlinearity": self.recurrent_module.nonlinearity}


class GRUAdapter(_RecurrentModuleAdapter):
    r"""One-step view of a single-layer :class:`torch.nn.GRU` plus a linear read-out.

    The step is written out from the GRU's own parameters (PyTorch's gate convention):

    .. math::

        r &= \sigma(W_{ir} u + b_{ir} + W_{hr} h + b_{hr}) \\
        z &= \sigma(W_{iz} u + b_{iz} + W_{hz} h + b_{hz}) \\
        n &= \tanh(W_{in} u + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
        h' &= (1 - z) \odot n + z \odot h

    so ``rollout`` reproduces ``gru(u, h0)`` and ``step`` works under ``torch.func``. The
    wrapped modules are parameters of the adapter (training the adapter trains them).

    Parameters
    ----------
    module : torch.nn.GRU
        Single-layer, unidirectional GRU; input size m, hidden size H (= d).
    readout : torch.nn.Linear
        Read-out with ``in_features == H``; p = ``out_features``.
    """

    module_type, _name, _map = nn.GRU, "gru", staticmethod(gru_map)


class LSTMAdapter(_RecurrentModuleAdapter):
    r"""One-step view of a single-layer :class:`torch.nn.LSTM` plus a linear read-out of h.

    The state is the concatenation ``x = [h, c]`` (d = 2H); :meth:`split_state` undoes it. The
    step uses the LSTM's own parameters (PyTorch's gate order i, f, g, o):

    .. math::

        (i, f, g, o) &= W_{ih} u + b_{ih} + W_{hh} h + b_{hh} \\
        c' &= \sigma(f) \odot c + \sigma(i) \odot \tanh(g), \qquad
        h' = \sigma(o) \odot \tanh(c')

    Parameters
    ----------
    module : torch.nn.LSTM
        Single-layer, unidirectional LSTM without projection; input size m, hidden size H.
    readout : torch.nn.Linear
        Read-out of h with ``in_features == H``; p = ``out_features``.
    """

    module_type, _name, _map = nn.LSTM, "lstm", staticmethod(lstm_map)

    def __init__(self, module: nn.LSTM, readout: nn.Linear) -> None:
        super().__init__(module, readout)
        self.state_size = 2 * module.hidden_size

    def split_state(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Split states ``[h, c]`` into their parts.

        Parameters
        ----------
        x : Tensor, shape (..., 2H)

        Returns
        -------
        h : Tensor, shape (..., H)
        c : Tensor, shape (..., H)
        """
        if not isinstance(x, Tensor) or x.ndim < 1 or x.shape[-1] != self.state_size:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x)
            raise ValueError(f"x must have shape (..., {self.state_size}), got {shape}")
        return x[..., : self.hidden_size], x[..., self.hidden_size :]


def _input_and_output_layers(model: RNNCell) -> tuple[Tensor, Tensor | None, nn.Linear]:
    """The weight and bias that multiply the raw input, and the read-out layer."""
    if isinstance(model, (PaperRNN, TanhRNN)):
        return model.input_layer.weight, model.input_layer.bias, model.output_layer
    if not isinstance(model, _RecurrentModuleAdapter):
        raise ValueError(
            "model must be a PaperRNN, TanhRNN, RNNAdapter, GRUAdapter or LSTMAdapter, "
            f"got {type(model).__name__}"
        )
    module = model.recurrent_module
    bias = module.bias_ih_l0 if module.bias else None
    return module.weight_ih_l0, bias, model.output_layer


def _affine_pair(mean: Any, std: Any, size: int, name: str) -> tuple[Tensor, Tensor]:
    values = []
    for value, label in ((mean, f"{name}_mean"), (std, f"{name}_std")):
        tensor = real_tensor(value, label, torch.float64, torch.device("cpu")).reshape(-1)
        if tensor.numel() == 1:
            tensor = tensor.expand(size)
        if tensor.shape != (size,) or not torch.isfinite(tensor).all():
            raise ValueError(f"{label} must be a finite scalar or have shape ({size},)")
        values.append(tensor)
    if not (values[1] > 0).all():
        raise ValueError(f"{name}_std must be > 0, got {std!r}")
    return values[0], values[1]


def fold_normalisation(model: RNNCell, u_mean: Any, u_std: Any, y_mean: Any, y_std: Any) -> RNNCell:
    r"""A copy of a model trained on normalised data that maps raw inputs to raw outputs.

    A model trained on ``u_n = (u - u_mean) / u_std`` and ``y_n = (y - y_mean) / y_std`` is
    rewritten so that it takes ``u`` and returns ``y`` directly: the weight ``W`` that
    multiplies the input becomes ``W / u_std`` and its bias ``b - W (u_mean / u_std)``; the
    read-out ``C x + c`` becomes ``y_std (C x + c) + y_mean``. The input enters every supported
    cell through one affine map and the read-out is affine, so the rewrite is exact (up to
    rounding): the hidden states, and with them the fixed points and their Jacobians in x,
    are unchanged.

    Parameters
    ----------
    model : PaperRNN, TanhRNN, RNNAdapter, GRUAdapter or LSTMAdapter
        The trained model; it is not modified. Its input map and read-out need biases.
    u_mean, u_std : float or array-like, shape (m,)
        Input normalisation (``u_std > 0``).
    y_mean, y_std : float or array-like, shape (p,)
        Output normalisation (``y_std > 0``).

    Returns
    -------
    RNNCell
        A deep copy of ``model`` (same class, dtype and device) with the folded weights.
    """
    if not isinstance(model, RNNCell):
        raise ValueError(f"model must be an fhnrnn.models.RNNCell, got {type(model).__name__}")
    u_mean, u_std = _affine_pair(u_mean, u_std, model.input_size, "u")
    y_mean, y_std = _affine_pair(y_mean, y_std, model.output_size, "y")
    folded = copy.deepcopy(model)
    weight, bias, output_layer = _input_and_output_layers(folded)
    if bias is None or output_layer.bias is None:
        raise ValueError("model's input map and read-out must have biases to fold a mean into")
    with torch.no_grad():
        raw = weight.double()
        bias.copy_(bias.double() - raw @ (u_mean / u_std))
        weight.copy_(raw / u_std)
        output_layer.weight.copy_(output_layer.weight.double() * y_std[:, None])
        output_layer.bias.copy_(output_layer.bias.double() * y_std + y_mean)
    return folded


class ResidualMLPCell(RNNCell):
    r"""Residual (Euler-like) cell, :math:`x_{t+1} = x_t + \Delta t \, \mathrm{MLP}([x_t, u_t])`.

    The MLP has ``depth`` hidden tanh layers of ``width`` units and a linear last layer that
    starts at zero, so the untrained cell is the identity map. The read-out is linear,
    :math:`y = C x + c`, and an affine encoder :meth:`encode` maps an observed output
    ``y0`` to a hidden state, so that a trajectory can start from a known state (an initial
    value problem). When ``state_size == output_size`` the encoder and the read-out start as
    the identity; otherwise they start from PyTorch's default uniform bound.

    Parameters
    ----------
    state_size : int
        Hidden-state dimension d.
    input_size : int
        Input dimension m.
    output_size : int
        Output dimension p (also the encoder's input dimension).
    width : int
        Units per hidden layer of the MLP.
    depth : int
        Number of hidden tanh layers (>= 1).
    dt : float
        Step factor of the residual update (> 0); the cell reads as an Euler step of a
        learned vector field with this step.
    seed : int
        Seed of the initial weights.
    """

    def __init__(
        self,
        state_size: int,
        input_size: int = 1,
        output_size: int = 2,
        width: int = 64,
        depth: int = 2,
        dt: float = 0.5,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.state_size = positive_int(state_size, "state_size")
        self.input_size = positive_int(input_size, "input_size")
        self.output_size = positive_int(output_size, "output_size")
        self.width = positive_int(width, "width")
        self.depth = positive_int(depth, "depth")
        self.dt = finite_positive(dt, "dt")
        self.seed = non_negative_int(seed, "seed")

        fan_ins = [self.state_size + self.input_size] + [self.width] * (self.depth - 1)
        self.hidden_layers = nn.ModuleList(_uninitialised_linear(n, self.width) for n in fan_ins)
        self.last_layer = _uninitialised_linear(self.width, self.state_size)
        self.encoder = _uninitialised_linear(self.output_size, self.state_size)
        self.output_layer = _uninitialised_linear(self.state_size, self.output_size)
        self._initialise(_generator(self.seed))

    def _initialise(self, generator: torch.Generator) -> None:
        for layer in self.hidden_layers:
            _init_linear_uniform(layer, generator)
        with torch.no_grad():
            self.last_layer.weight.zero_()
            self.last_layer.bias.zero_()
        if self.state_size == self.output_size:
            with torch.no_grad():
                for layer in (self.encoder, self.output_layer):
                    layer.weight.copy_(torch.eye(self.state_size))
                    layer.bias.zero_()
        else:
            _init_linear_uniform(self.encoder, generator)
            _init_linear_uniform(self.output_layer, generator)

    def config(self) -> dict[str, Any]:
        """Constructor settings (JSON-serialisable)."""
        return {
            "state_size": self.state_size,
            "input_size": self.input_size,
            "output_size": self.output_size,
            "width": self.width,
            "depth": self.depth,
            "dt": self.dt,
            "seed": self.seed,
        }

    def encode(self, y0: Tensor) -> Tensor:
        """Hidden state that starts a trajectory at the observed output ``y0``.

        Parameters
        ----------
        y0 : Tensor, shape (B, p)
            Observed outputs (e.g. the initial ``(v, w)``).

        Returns
        -------
        Tensor, shape (B, d)
        """
        self._check_tensor(y0, "y0", "(B, p)", self.output_size, 2)
        return self.encoder(y0)

    def _step(self, x: Tensor, u: Tensor) -> Tensor:
        h = torch.cat([x, u], dim=-1)
        for layer in self.hidden_layers:
            h = torch.tanh(layer(h))
        return x + self.dt * self.last_layer(h)

    def _readout(self, x: Tensor) -> Tensor:
        return self.output_layer(x)
