"""Checks and conversions of the arrays a finder is given: starts, inputs, paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from fhnrnn._validation import finite_positive, non_negative_int, real_tensor, torch_device
from fhnrnn.fixedpoints._map import StepFunction, resolve_step, to_numpy

# The keywords of a search that are not SearchOptions, with the defaults of find_fixed_points.
RUN_DEFAULTS: dict[str, Any] = {
    "device": None,
    "dtype": torch.float64,
    "noise_scale": 0.0,
    "seed": 0,
}


def check_starts(x0: Any, dtype: torch.dtype, device: torch.device, name: str = "x0") -> Tensor:
    """Starts (argument ``name``) as a finite tensor of shape (N, d) with N, d >= 1."""
    x = real_tensor(x0, name, dtype, device)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(
            f"{name} must hold starts as a 2-D array of shape (N, d) with N, d >= 1, "
            f"got shape {tuple(x.shape)}"
        )
    bad = ~torch.isfinite(x).all(dim=1)
    if bool(bad.any()):
        rows = bad.nonzero().squeeze(1)[:5].tolist()
        raise ValueError(
            f"{name} holds {int(bad.sum())} non-finite start(s) (NaN or inf), e.g. rows {rows}"
        )
    return x


def check_size(step: Any, columns: int, name: str, kind: str) -> None:
    """``columns`` of argument ``name`` match the model's ``{kind}_size`` attribute.

    A plain callable has no such attribute and is not checked (its own error will tell).
    """
    size = getattr(step, f"{kind}_size", None)
    if isinstance(size, int) and columns != size:
        raise ValueError(
            f"{name} must have {size} columns (the model's {kind}_size), got {columns}"
        )


def check_inputs(
    u: Any, n: int, dtype: torch.dtype, device: torch.device, name: str = "u"
) -> Tensor:
    """Inputs (argument ``name``) of shape (N, m): None -> (N, 0), a scalar -> (N, 1), (m,) ->
    broadcast."""
    if u is None:
        return torch.zeros(n, 0, dtype=dtype, device=device)
    inputs = real_tensor(u, name, dtype, device)
    if inputs.ndim == 0:
        inputs = inputs.reshape(1)
    if inputs.ndim == 1:
        inputs = inputs.expand(n, inputs.shape[0]).clone()
    if inputs.ndim != 2 or inputs.shape[0] != n:
        raise ValueError(
            f"{name} must have shape (N, m) with N = {n} rows like the starts, or (m,) to use "
            f"the same input for every start; got shape {tuple(inputs.shape)}"
        )
    if not bool(torch.isfinite(inputs).all()):
        raise ValueError(f"{name} holds non-finite values (NaN or inf)")
    return inputs


def _add_noise(x: Tensor, noise_scale: float, seed: int) -> Tensor:
    if noise_scale == 0.0:
        return x
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
    return x + noise_scale * noise.to(device=x.device, dtype=x.dtype)


def prepare(
    step: Any,
    x0: Any,
    u: Any,
    *,
    device: str | torch.device | None,
    dtype: torch.dtype,
    noise_scale: float,
    seed: int,
    names: tuple[str, str] = ("x0", "u"),
) -> tuple[StepFunction, Tensor, Tensor, torch.device]:
    """Resolve the step and check and convert the starts and inputs (called ``names``)."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a real floating torch dtype, got {dtype!r}")
    requested = torch_device(device, "device") if device is not None else None
    fallback = x0.device if isinstance(x0, Tensor) else torch.device("cpu")
    fn, work_device = resolve_step(step, dtype, requested, fallback)
    x = check_starts(x0, dtype, work_device, names[0])
    inputs = check_inputs(u, x.shape[0], dtype, work_device, names[1])
    check_size(step, x.shape[1], names[0], "state")
    check_size(step, inputs.shape[1], names[1], "input")
    noise_scale = finite_positive(noise_scale, "noise_scale", allow_zero=True)
    x = _add_noise(x, noise_scale, non_negative_int(seed, "seed"))
    return fn, x, inputs, work_device


def path_inputs(inputs: Any) -> np.ndarray:
    """The inputs of a path as a float64 array of shape (K, m)."""
    values = to_numpy(real_tensor(inputs, "inputs", torch.float64, torch.device("cpu")))
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] < 1:
        raise ValueError(
            f"inputs must have shape (K, m), or (K,) for scalar inputs, got {values.shape}"
        )
    if not np.isfinite(values).all():
        raise ValueError("inputs holds non-finite values (NaN or inf)")
    return values


def path_positions(start_index: Any, n_inputs: int) -> np.ndarray:
    """``start_index`` checked as a 1-D integer array of positions in ``range(n_inputs)``."""
    index = np.asarray(start_index)
    if index.ndim == 1 and index.size == 0:
        index = index.astype(np.int64)
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"start_index must be a 1-D integer array, got {index!r}")
    if index.size and (index.min() < 0 or index.max() >= n_inputs):
        raise ValueError(
            f"start_index entries must lie in [0, {n_inputs - 1}], "
            f"got {index.min()} to {index.max()}"
        )
    return index
