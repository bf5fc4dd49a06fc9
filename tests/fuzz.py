"""Strategies and checks shared by the property-based tests (tests/test_fuzz_*.py).

An argument of a public function is drawn in three ways:

- ``bad_arrays``: values no caller should get a result for (NaN or infinity, complex numbers,
  booleans, objects, text, an empty array, an extra axis, a wrong last axis); the call must
  raise ValueError or TypeError naming the argument;
- ``good_arrays``: finite real numbers of the right shape, as a list, a NumPy array of any
  real dtype or reversed strides, or a tensor (also one that requires grad); the call must
  return finite results of the documented shape;
- ``edge_arrays``: real numbers a function may or may not handle (float16 and bfloat16
  tensors, magnitudes near the ends of float64): a finite result, or a ValueError or
  TypeError naming the argument, but never a raw error from inside numpy or torch, and never
  a silent NaN.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

FINITE = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False, width=64)


def _array(shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> st.SearchStrategy:
    size = int(np.prod(shape))
    return st.lists(elements, min_size=size, max_size=size).map(
        lambda values: np.array(values, dtype=np.float64).reshape(shape)
    )


def _forms(array: np.ndarray) -> st.SearchStrategy[Any]:
    """``array`` as a list, a NumPy array of several dtypes and strides, or a tensor."""
    forms = [
        array,
        array.tolist(),
        array[::-1].copy()[::-1],  # reversed strides
        torch.from_numpy(array.copy()),
        torch.from_numpy(array.copy()).requires_grad_(True),
    ]
    largest = float(np.abs(array).max(initial=0.0))
    if largest < 1e30:  # float32 holds it
        forms += [array.astype(np.float32), torch.from_numpy(array.astype(np.float32))]
    if largest < 2**53 and np.all(array == np.round(array)):
        forms.append(array.astype(np.int64))
    return st.sampled_from(forms)


def good_arrays(
    shape: tuple[int, ...], elements: st.SearchStrategy[float] = FINITE
) -> st.SearchStrategy[Any]:
    """Finite real arrays of ``shape`` in any accepted form."""
    return _array(shape, elements).flatmap(_forms)


def _with(array: np.ndarray, value: float) -> np.ndarray:
    spoiled = array.copy()
    spoiled.flat[spoiled.size // 2] = value
    return spoiled


def bad_arrays(
    shape: tuple[int, ...], *, extra_axis: bool = True, wrong_last: bool = True,
    empty: bool = True, complex_allowed: bool = False,
) -> st.SearchStrategy[Any]:
    """Values of (about) ``shape`` that must be refused; options skip kinds an argument allows."""
    base = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)
    kinds: list[Any] = [
        _with(base, np.nan),
        _with(base, np.inf),
        torch.from_numpy(_with(base, -np.inf)),
        base > 0,
        torch.from_numpy(base > 0),
        base.astype(object),
        np.full(shape, "x"),
        "not an array",
    ]
    if complex_allowed:
        kinds.append(_with(base.astype(np.complex128), complex(0.5, np.nan)))
    else:
        kinds += [base.astype(np.complex128), torch.from_numpy(base.astype(np.complex128))]
    if extra_axis:
        kinds.append(base[..., None, None])
    if wrong_last and shape:
        kinds.append(np.zeros((*shape[:-1], shape[-1] + 1)))
    if empty and shape:
        kinds.append(np.zeros((0, *shape[1:])))
    return st.sampled_from(kinds)


def edge_arrays(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    """Real values of ``shape`` at the edges: low-precision tensors, huge and tiny magnitudes."""
    base = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)
    return st.sampled_from([
        torch.from_numpy(base).to(torch.float16),
        torch.from_numpy(base).to(torch.bfloat16),
        base * 1e300,
        base * 1e-300,
        np.full(shape, np.finfo(np.float64).max),
    ])


def raises_naming(name: str, call: Callable[[], Any]) -> None:
    """``call()`` raises ValueError or TypeError whose message names ``name``."""
    with pytest.raises((ValueError, TypeError)) as caught:
        call()
    assert name in str(caught.value), f"the message does not name {name!r}: {caught.value}"


def _arrays_of(result: Any) -> list[np.ndarray]:
    if isinstance(result, torch.Tensor):
        return [result.detach().cpu().double().numpy()]
    if isinstance(result, np.ndarray) and result.dtype.kind in "fc":
        return [result]
    if isinstance(result, float):
        return [np.array(result)]
    if isinstance(result, (tuple, list)):
        return [array for item in result for array in _arrays_of(item)]
    if isinstance(result, dict):
        return [array for item in result.values() for array in _arrays_of(item)]
    if dataclasses.is_dataclass(result):  # a result object; failed_* may hold non-finite values
        return [array for field in dataclasses.fields(result)
                if not field.name.startswith("failed_")
                for array in _arrays_of(getattr(result, field.name))]
    return []


def assert_finite(result: Any) -> None:
    """Every float array, tensor or float in ``result`` is finite (also in tuples, lists, dicts
    and result dataclasses, whose ``failed_*`` fields are left out)."""
    for array in _arrays_of(result):
        assert np.isfinite(array).all(), f"a result holds NaN or infinity: {array}"


def finite_or_naming(name: str, call: Callable[[], Any]) -> Any:
    """``call()`` returns finite results, or raises ValueError or TypeError naming ``name``."""
    try:
        result = call()
    except (ValueError, TypeError) as error:
        assert name in str(error), f"the message does not name {name!r}: {error}"
        return None
    assert_finite(result)
    return result
