"""How the engine evaluates torch's own recurrent modules: state first, from their weights.

Torch calls ``nn.RNN``, ``nn.GRU``, ``nn.LSTM`` and their ``*Cell`` forms input first
(``cell(u, h)``); the engine evaluates every map as ``step(x, u)``. The maps here are written
out from a module's own parameters, so that they run under ``torch.func`` and in the module's
dtype. :mod:`fhnrnn.models` builds its adapters on the same maps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["check_single_layer", "gru_map", "lstm_map", "recurrent_step", "rnn_map"]


def check_single_layer(module: nn.RNNBase, name: str) -> None:
    """Refuse a stacked, bidirectional or projected module, naming the argument ``name``."""
    if module.num_layers != 1 or module.bidirectional:
        raise ValueError(
            f"{name} must be a single-layer, unidirectional {type(module).__name__}, got "
            f"num_layers={module.num_layers}, bidirectional={module.bidirectional}"
        )
    if getattr(module, "proj_size", 0):
        raise ValueError(f"{name} must have proj_size=0, got {module.proj_size}")


_Recurrent = nn.RNNBase | nn.RNNCellBase


def _affine_parts(module: _Recurrent, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
    """``W_ih u + b_ih`` and ``W_hh h + b_hh`` of a single-layer module or a cell."""
    suffix = "_l0" if isinstance(module, nn.RNNBase) else ""
    weight_ih, weight_hh = (getattr(module, f"weight_{part}{suffix}") for part in ("ih", "hh"))
    bias_ih, bias_hh = (
        (getattr(module, f"bias_{part}{suffix}") for part in ("ih", "hh"))
        if module.bias
        else (None, None)
    )
    h = x[..., : module.hidden_size]
    return F.linear(u, weight_ih, bias_ih), F.linear(h, weight_hh, bias_hh)


def rnn_map(module: nn.RNN | nn.RNNCell, x: Tensor, u: Tensor) -> Tensor:
    """``h' = act(W_ih u + b_ih + W_hh h + b_hh)``, act = tanh or relu."""
    from_input, from_state = _affine_parts(module, x, u)
    activation = torch.tanh if module.nonlinearity == "tanh" else torch.relu
    return activation(from_input + from_state)


def gru_map(module: nn.GRU | nn.GRUCell, x: Tensor, u: Tensor) -> Tensor:
    """One GRU step in PyTorch's gate convention (see :class:`GRUAdapter`)."""
    from_input, from_state = _affine_parts(module, x, u)
    in_r, in_z, in_n = from_input.chunk(3, dim=-1)
    hid_r, hid_z, hid_n = from_state.chunk(3, dim=-1)
    reset = torch.sigmoid(in_r + hid_r)
    update = torch.sigmoid(in_z + hid_z)
    candidate = torch.tanh(in_n + reset * hid_n)
    return candidate + update * (x - candidate)


def lstm_map(module: nn.LSTM | nn.LSTMCell, x: Tensor, u: Tensor) -> Tensor:
    """One LSTM step on ``x = [h, c]`` (see :class:`LSTMAdapter`), returning ``[h', c']``."""
    from_input, from_state = _affine_parts(module, x, u)
    in_gate, forget_gate, cell_gate, out_gate = (from_input + from_state).chunk(4, dim=-1)
    c = x[..., module.hidden_size :]
    c_next = torch.sigmoid(forget_gate) * c + torch.sigmoid(in_gate) * torch.tanh(cell_gate)
    h_next = torch.sigmoid(out_gate) * torch.tanh(c_next)
    return torch.cat([h_next, c_next], dim=-1)


_MAPS: tuple[tuple[tuple[type[nn.Module], ...], Callable[[Any, Tensor, Tensor], Tensor]], ...] = (
    ((nn.RNN, nn.RNNCell), rnn_map),
    ((nn.GRU, nn.GRUCell), gru_map),
    ((nn.LSTM, nn.LSTMCell), lstm_map),
)


def recurrent_step(module: _Recurrent) -> Callable[[Tensor, Tensor], Tensor]:
    """The hidden-state map ``step(x, u)`` of a bare torch recurrent module or cell.

    Torch calls these modules input first (``cell(u, h)``); the returned function takes the
    state first, as the fixed-point engine does, and is written out from the module's own
    parameters (read at each call), so it runs under ``torch.func`` and in the module's dtype.

    Parameters
    ----------
    module : torch.nn.RNN, GRU, LSTM, RNNCell, GRUCell or LSTMCell
        A cell, or a single-layer, unidirectional module (an LSTM without projection).

    Returns
    -------
    callable
        ``step(x, u) -> x_next`` with ``x`` of shape (B, d), ``u`` of shape (B, m) and
        ``d = hidden_size``, or ``d = 2 * hidden_size`` for an LSTM, whose state is
        ``[h, c]`` flattened to one vector (as in :class:`LSTMAdapter`).
    """
    for kinds, map_ in _MAPS:
        if isinstance(module, kinds):
            if isinstance(module, nn.RNNBase):
                check_single_layer(module, "module")
            return lambda x, u: map_(module, x, u)
    raise ValueError(
        "module must be a torch.nn.RNN, GRU, LSTM, RNNCell, GRUCell or LSTMCell, "
        f"got {type(module).__name__}"
    )
