"""Checks of arguments shared by the modules.

Every check takes the value and the argument's name, and returns the value in a plain form (a
Python ``int`` or ``float``, a float64 array, a tensor, a :class:`torch.device`), or raises a
:class:`ValueError` whose message names the argument, what was expected and what was given.
NumPy integers and floats are accepted; booleans are rejected, although Python counts them as
integers. The checks of tensors and devices import torch when first called, so that
:mod:`fhnrnn.fhn` stays free of it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import reprlib
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import torch


def _integer_at_least(value: int, name: str, minimum: int, expected: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def positive_int(value: int, name: str) -> int:
    """``value`` as an ``int`` >= 1 (a size or a count)."""
    return _integer_at_least(value, name, 1, "a positive integer")


def non_negative_int(value: int, name: str) -> int:
    """``value`` as an ``int`` >= 0 (a seed, or a count that may be zero)."""
    return _integer_at_least(value, name, 0, "a non-negative integer")


def finite_positive(value: float, name: str, allow_zero: bool = False) -> float:
    """``value`` as a finite ``float`` > 0, or >= 0 when ``allow_zero`` is true."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return float(value)


def probability(value: float, name: str) -> float:
    """``value`` as a ``float`` in (0, 1] (a rate or a probability of an event)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must lie in (0, 1], got {value!r}")
    return float(value)


def _tensor_numbers(value: torch.Tensor, name: str) -> np.ndarray:
    """A real tensor (any dtype, device, autograd state) as an int64 or float64 array."""
    import torch

    if value.is_complex() or value.dtype == torch.bool:
        raise ValueError(f"{name} must be real numbers, got a tensor of {value.dtype}")
    wide = torch.float64 if value.is_floating_point() else torch.int64
    return value.detach().to(device="cpu", dtype=wide).numpy()


def _real_numbers(value: ArrayLike, name: str) -> np.ndarray:
    """``value`` as an integer or float array, whatever its strides (no booleans, complex, text).

    A tensor is read without its autograd graph, from any device, in float64 (or int64).
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return _tensor_numbers(value, name)
    try:
        raw = np.asarray(value)
    except ValueError as error:
        raise ValueError(f"{name} must be real numbers, got {reprlib.repr(value)}") from error
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be real numbers, got {reprlib.repr(value)}")
    return raw


def real_array(value: ArrayLike, name: str) -> np.ndarray:
    """``value`` as a float64 array of finite integers or floats (no booleans, complex, text)."""
    array = _real_numbers(value, name).astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got {reprlib.repr(value)}")
    return array


def complex_array(value: ArrayLike, name: str) -> np.ndarray:
    """``value`` as a complex128 array of finite numbers (real or complex; no booleans, text).

    A tensor is read without its autograd graph, from any device.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor) and value.is_complex():
        array = value.detach().to(device="cpu", dtype=torch.complex128).numpy()
    else:
        try:
            array = np.asarray(value) if not _is_tensor(value) else _real_numbers(value, name)
        except ValueError as error:
            raise ValueError(f"{name} must be numbers, got {reprlib.repr(value)}") from error
    if array.dtype.kind not in "iufc":
        raise ValueError(f"{name} must be (complex) numbers, got {reprlib.repr(value)}")
    array = array.astype(np.complex128)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got {reprlib.repr(value)}")
    return array


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def real_tensor(value: Any, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``value`` (array_like or Tensor of real numbers) as a new tensor in ``dtype`` on ``device``.

    NumPy arrays of any strides (reversed ones included) are copied as they read; booleans,
    complex numbers and text are refused, as is a tensor of them. Finiteness is not checked.
    """
    import torch

    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise ValueError(f"{name} must be real numbers, got a tensor of {value.dtype}")
        return value.detach().to(device=device, dtype=dtype).clone()
    array = _real_numbers(value, name).copy(order="C")
    return torch.from_numpy(array).to(device=device, dtype=dtype)


def _available_devices() -> list[str]:
    import torch

    devices = ["cpu"]
    for kind in ("cuda", "xpu", "mps"):
        backend = getattr(torch, kind, None)
        if backend is not None and backend.is_available():
            devices += [f"{kind}:{index}" for index in range(backend.device_count())]
    return devices


def torch_device(value: str | torch.device, name: str) -> torch.device:
    """``value`` as a :class:`torch.device` that this machine has (``"cuda"`` means ``cuda:0``)."""
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"{name} must be a torch device such as 'cpu' or 'cuda:0', got {value!r}"
        ) from error
    available = _available_devices()
    label = device.type if device.type == "cpu" else f"{device.type}:{device.index or 0}"
    if label not in available:
        raise ValueError(
            f"{name} must be a device this machine has, one of {available}, got {value!r}"
        )
    return device


def options_and_overrides(options: Any, overrides: dict[str, Any], kind: type, what: str) -> None:
    """Check ``options`` (an instance of the dataclass ``kind``, or None) and its overrides.

    Raises a ValueError when ``options`` is of another type, or when an override names no
    field of ``kind`` (``what`` says whose options they are in the message).
    """
    if options is not None and not isinstance(options, kind):
        raise ValueError(f"options must be a {kind.__name__}, got {type(options).__name__}")
    names = {field.name for field in dataclasses.fields(kind)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(
            f"unknown {what} option(s) {unknown}; expected fields of {kind.__name__}: "
            f"{sorted(names)}"
        )
