"""The shared scalar checks, and that NumPy scalars build the same models as Python numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from fhnrnn._validation import (
    finite_positive,
    non_negative_int,
    positive_int,
    probability,
    real_array,
    real_tensor,
    torch_device,
)
from fhnrnn.models import GRUAdapter, PaperRNN, ResidualMLPCell, TanhRNN


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2), np.int32(10**6)])
def test_positive_int_returns_a_python_int(value) -> None:
    result = positive_int(value, "n")
    assert type(result) is int and result == int(value)


@pytest.mark.parametrize(
    "value", [0, -1, True, False, 2.0, np.float64(2.0), "3", None, np.bool_(1)]
)
def test_positive_int_rejects_non_positive_and_non_integers(value) -> None:
    with pytest.raises(ValueError, match=r"^n_steps must be a positive integer, got "):
        positive_int(value, "n_steps")


def test_non_negative_int_accepts_zero_only_as_the_lower_bound() -> None:
    assert non_negative_int(0, "seed") == 0 and type(non_negative_int(np.int64(5), "seed")) is int
    for value in (-1, True, 0.0, None):
        with pytest.raises(ValueError, match=r"^seed must be a non-negative integer, got "):
            non_negative_int(value, "seed")


@pytest.mark.parametrize("value", [0.5, 3, np.float32(0.25), np.float64(1e-300), np.int64(2)])
def test_finite_positive_returns_a_python_float(value) -> None:
    result = finite_positive(value, "lr")
    assert type(result) is float and result == float(value)
    assert finite_positive(value, "lr", allow_zero=True) == result


def test_finite_positive_takes_zero_only_when_allowed() -> None:
    assert finite_positive(0, "lr", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=r"^lr must be finite and > 0, got 0$"):
        finite_positive(0, "lr")


@pytest.mark.parametrize(
    "value, allow_zero, message",
    [
        (0.0, False, r"^lr must be finite and > 0, got 0.0$"),
        (-1e-9, True, r"^lr must be finite and >= 0, got -1e-09$"),
        (math.inf, False, r"^lr must be finite and > 0, got inf$"),
        (math.nan, True, r"^lr must be finite and >= 0, got nan$"),
        (True, False, r"^lr must be a real number, got True$"),
        ("0.1", False, r"^lr must be a real number, got '0.1'$"),
        (1j, False, r"^lr must be a real number, got 1j$"),
    ],
)
def test_finite_positive_rejects(value, allow_zero: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        finite_positive(value, "lr", allow_zero=allow_zero)


@pytest.mark.parametrize("value", [1, 0.5, np.float32(0.1), np.int64(1), 1e-300])
def test_probability_returns_a_python_float(value) -> None:
    result = probability(value, "p")
    assert type(result) is float and result == float(value)


@pytest.mark.parametrize(
    "value, message",
    [
        (True, r"^p must be a real number, got True$"),
        (np.bool_(True), r"^p must be a real number, got "),
        ("0.1", r"^p must be a real number, got '0.1'$"),
        (0, r"^p must lie in \(0, 1\], got 0$"),
        (1.5, r"^p must lie in \(0, 1\], got 1.5$"),
        (math.nan, r"^p must lie in \(0, 1\], got nan$"),
    ],
)
def test_probability_rejects(value, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        probability(value, "p")


@pytest.mark.parametrize("value", [[1, 2], np.arange(3, dtype=np.int8), 0.5, np.ones(4)[::-1]])
def test_real_array_returns_float64(value) -> None:
    result = real_array(value, "I")
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, np.asarray(value, dtype=np.float64))


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", r"^I must be real numbers, got 'abc'$"),
        ([1j], r"^I must be real numbers, got \[1j\]$"),
        ([True, False], r"^I must be real numbers, got \[True, False\]$"),
        (None, r"^I must be real numbers, got None$"),
        ([[1.0], [1.0, 2.0]], r"^I must be real numbers, got "),
        ([0.5, math.inf], r"^I must be finite, got \[0.5, inf\]$"),
        ([*range(1000), math.nan], r"^I must be finite, got \[0, 1, 2, 3, 4, 5, \.\.\.\]$"),
    ],
)
def test_real_array_rejects(value, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        real_array(value, "I")


CPU = torch.device("cpu")


@pytest.mark.parametrize(
    "value",
    [np.arange(6.0).reshape(2, 3)[::-1, ::-2], [[1, 2]], np.int16(3), 0.5, torch.arange(3)],
)
def test_real_tensor_copies_whatever_the_strides(value) -> None:
    result = real_tensor(value, "x0", torch.float64, CPU)
    plain = value.numpy() if isinstance(value, torch.Tensor) else value
    expected = torch.as_tensor(np.array(plain, dtype=np.float64).copy())
    assert result.dtype == torch.float64 and torch.equal(result, expected)


def test_real_tensor_never_shares_memory_with_a_tensor() -> None:
    given = torch.zeros(3, dtype=torch.float64)
    real_tensor(given, "x0", torch.float64, CPU).add_(1.0)
    assert torch.equal(given, torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize(
    "value, message",
    [
        (np.array([1.0 + 2j]), r"^x0 must be real numbers, got array\(\[1\.\+2\.j\]\)$"),
        (np.ones(2) > 0, r"^x0 must be real numbers, got array\(\[ True,  True\]\)$"),
        (torch.ones(2) > 0, r"^x0 must be real numbers, got a tensor of torch.bool$"),
        (torch.ones(2, dtype=torch.complex64), r"^x0 must be real numbers, got a tensor of "),
        ("abc", r"^x0 must be real numbers, got 'abc'$"),
    ],
)
def test_real_tensor_rejects(value, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        real_tensor(value, "x0", torch.float64, CPU)


@pytest.mark.parametrize("value", ["cpu", torch.device("cpu"), "cpu:0"])
def test_torch_device_accepts_the_cpu(value) -> None:
    assert torch_device(value, "device").type == "cpu"


@pytest.mark.parametrize(
    "value, message",
    [
        ("gpu", r"^device must be a torch device such as 'cpu' or 'cuda:0', got 'gpu'$"),
        (None, r"^device must be a torch device such as"),
        ("meta", r"^device must be a device this machine has, one of \['cpu'"),
        (f"cuda:{torch.cuda.device_count()}", r"^device must be a device this machine has"),
    ],
)
def test_torch_device_rejects(value, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        torch_device(value, "device")


@pytest.mark.parametrize(
    "build",
    [
        lambda n: PaperRNN(n(1), n(2), n(8), n(3), init="paired_rotation", seed=n(4)),
        lambda n: TanhRNN(n(2), n(1), n(6), seed=n(1)),
        lambda n: GRUAdapter.create(n(2), n(1), n(5), seed=n(2)),
        lambda n: ResidualMLPCell(n(3), n(1), n(2), width=n(4), depth=n(2), seed=n(0)),
    ],
    ids=["paper", "tanh", "gru", "residual"],
)
def test_numpy_integer_arguments_build_the_same_model(build) -> None:
    plain, numpy = build(int), build(np.int64)
    assert json.dumps(numpy.config()) == json.dumps(plain.config())
    assert numpy.state_size == plain.state_size and type(numpy.state_size) is int
    for a, b in zip(plain.state_dict().values(), numpy.state_dict().values(), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and bool((a == b).all())
