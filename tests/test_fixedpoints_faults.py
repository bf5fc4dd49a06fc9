"""The engine refuses what would give a silently wrong result, and names every bad argument.

Steps that cut the gradient, steps that write into their argument, bare torch recurrent
modules (called input first by torch), unreadable result files, and array arguments that
numpy or torch would misread (negative strides, complex numbers, devices that do not exist).
"""

from __future__ import annotations

import copy
import io
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from fhnrnn.fixedpoints import (
    FixedPoints,
    find_fixed_points,
    find_fixed_points_along,
    jacobians,
)

pytestmark = pytest.mark.usefixtures("single_thread")

W = torch.tensor([[1.5, 0.0], [0.0, -0.5]], dtype=torch.float64)
STARTS = np.array([[1.0, 0.3], [-1.0, -0.3], [0.05, 0.02]])


def tanh_map(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Fixed points: the origin (a saddle) and two stable points on the first axis."""
    return torch.tanh(x @ W.T + u)


def quiet(**options):
    return {"progress": False, **options}


# ---------------------------------------------------------------------------- no gradient


def detached(x, u):
    return tanh_map(x, u).detach()


def under_no_grad(x, u):
    with torch.no_grad():
        return tanh_map(x, u)


def through_numpy(x, u):
    return torch.from_numpy(np.tanh(x.numpy() @ W.numpy().T + u.numpy()))


def through_detached_numpy(x, u):
    return torch.from_numpy(np.tanh(x.detach().numpy() @ W.numpy().T + u.numpy()))


W_PARAMETER = nn.Parameter(W.clone())


def detached_state_with_a_parameter(x, u):
    return torch.tanh(x.detach() @ W_PARAMETER.T + u)


GRADIENT_FREE = [
    detached,
    under_no_grad,
    through_numpy,
    through_detached_numpy,
    detached_state_with_a_parameter,
]


@pytest.mark.parametrize("step", GRADIENT_FREE)
def test_a_step_without_gradients_is_refused_by_the_search(step) -> None:
    with pytest.raises(ValueError, match=r"^step is not differentiable with respect to x"):
        find_fixed_points(step, STARTS, 0.0, **quiet())


@pytest.mark.parametrize("step", GRADIENT_FREE)
def test_a_step_without_gradients_is_refused_by_jacobians(step) -> None:
    with pytest.raises(ValueError, match=r"^step is not differentiable with respect to x"):
        jacobians(step, STARTS, 0.0)


def test_the_same_map_with_gradients_keeps_the_origin_saddle() -> None:
    fps = find_fixed_points(tanh_map, STARTS, 0.0, **quiet())
    origin = np.flatnonzero(np.abs(fps.xstar).max(axis=1) < 1e-12)
    assert origin.size == 1 and fps.n_unstable[origin[0]] == 1
    np.testing.assert_allclose(fps.jacobian[origin[0]], W.numpy(), atol=1e-12)


def test_a_step_that_does_not_depend_on_x_has_zero_jacobians() -> None:
    def constant(x, u):
        return torch.full_like(x, 0.25)

    fps = find_fixed_points(constant, STARTS, 0.0, **quiet())
    np.testing.assert_allclose(fps.xstar, [[0.25, 0.25]], atol=1e-12)
    np.testing.assert_array_equal(fps.jacobian, np.zeros((1, 2, 2)))
    assert fps.is_stable.tolist() == [True]


# ---------------------------------------------------------------------------- in place


def scales_x_in_place(x, u):
    x.mul_(0.5)
    return torch.tanh(x @ W.T + u)


def writes_a_column(x, u):
    x[:, 1] = 0.0
    return torch.tanh(x @ W.T + u)


def adds_to_u(x, u):
    u += 1.0
    return torch.tanh(x @ W.T + u)


@pytest.mark.parametrize(
    "step, argument", [(scales_x_in_place, "x"), (writes_a_column, "x"), (adds_to_u, "u")]
)
def test_a_step_that_modifies_its_argument_in_place_is_refused(step, argument: str) -> None:
    starts = torch.as_tensor(STARTS).clone()
    expected = rf"^step modified its argument {argument} in place"
    with pytest.raises(ValueError, match=expected):
        find_fixed_points(step, starts, np.zeros(2), **quiet())
    with pytest.raises(ValueError, match=expected):
        jacobians(step, starts, np.zeros(2))
    torch.testing.assert_close(starts, torch.as_tensor(STARTS), rtol=0, atol=0)


# ---------------------------------------------------------------------------- torch modules

H, M = 3, 2


def _residual_the_torch_way(module: nn.Module, x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``|F(x, u) - x|`` per point, with F evaluated by torch's own module call (input first)."""
    state = torch.as_tensor(x, dtype=torch.float64)
    drive = torch.as_tensor(u, dtype=torch.float64)
    module = copy.deepcopy(module).double()
    with torch.no_grad():
        if isinstance(module, nn.LSTMCell):
            following = torch.cat(module(drive, (state[:, :H], state[:, H:])), dim=1)
        elif isinstance(module, nn.RNNCellBase):
            following = module(drive, state)
        elif isinstance(module, nn.LSTM):
            hidden = (state[None, :, :H].contiguous(), state[None, :, H:].contiguous())
            _, (h, c) = module(drive[:, None], hidden)
            following = torch.cat([h[0], c[0]], dim=1)
        else:
            following = module(drive[:, None], state[None])[1][0]
    return (following - state).abs().max(dim=1).values.numpy()


MODULES = {
    "RNN": lambda: nn.RNN(M, H, batch_first=True),
    "RNN-relu": lambda: nn.RNN(M, H, nonlinearity="relu", batch_first=True),
    "GRU": lambda: nn.GRU(M, H, batch_first=True),
    "LSTM": lambda: nn.LSTM(M, H, batch_first=True),
    "RNNCell": lambda: nn.RNNCell(M, H),
    "GRUCell": lambda: nn.GRUCell(M, H),
    "LSTMCell": lambda: nn.LSTMCell(M, H),
}


@pytest.mark.parametrize("build", MODULES.values(), ids=MODULES.keys())
def test_a_torch_recurrent_module_is_searched_state_first(build) -> None:
    torch.manual_seed(0)
    module = build()
    before = {name: value.clone() for name, value in module.state_dict().items()}
    d = 2 * H if isinstance(module, (nn.LSTM, nn.LSTMCell)) else H
    starts = np.random.default_rng(0).uniform(-1.0, 1.0, (8, d))
    drive = np.array([0.3, -0.2])
    fps = find_fixed_points(module, starts, drive, **quiet())
    assert len(fps) >= 1
    assert _residual_the_torch_way(module, fps.xstar, fps.u).max() < 1e-10
    torch.testing.assert_close(module.state_dict(), before, rtol=0, atol=0)
    assert all(parameter.dtype == torch.float32 for parameter in module.parameters())


def test_a_gru_cell_of_equal_sizes_is_not_called_with_swapped_arguments() -> None:
    torch.manual_seed(1)
    cell = nn.GRUCell(3, 3)
    starts = np.random.default_rng(1).uniform(-1.0, 1.0, (6, 3))
    drive = np.array([0.5, -0.5, 0.25])
    for step in (cell, cell.forward):
        fps = find_fixed_points(step, starts, drive, **quiet())
        assert _residual_the_torch_way(cell, fps.xstar, fps.u).max() < 1e-10


@pytest.mark.parametrize(
    "module, message",
    [
        (nn.GRU(M, H, num_layers=2), "single-layer"),
        (nn.LSTM(M, H, bidirectional=True), "single-layer"),
        (nn.LSTM(M, H, proj_size=1), "proj_size"),
    ],
)
def test_a_recurrent_module_that_cannot_be_wrapped_is_refused(module, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        find_fixed_points(module, np.zeros((1, H)), np.zeros(M), **quiet())


# ---------------------------------------------------------------------------- arrays


def test_reversed_numpy_arrays_are_read_as_they_are() -> None:
    forward = find_fixed_points(tanh_map, STARTS, np.zeros((3, 2)), **quiet())
    starts = STARTS[::-1, ::-1][:, ::-1]
    drive = np.zeros((3, 2))[::-1]
    assert starts.strides[0] < 0 and drive.strides[0] < 0
    reversed_ = find_fixed_points(tanh_map, starts, drive, **quiet())
    np.testing.assert_allclose(
        np.sort(reversed_.xstar, axis=0), np.sort(forward.xstar, axis=0), atol=1e-12
    )
    jac, _ = jacobians(tanh_map, STARTS[::-1], np.zeros(2))
    np.testing.assert_allclose(jac, jacobians(tanh_map, STARTS, np.zeros(2))[0][::-1])


def test_a_reversed_path_is_continued() -> None:
    path = np.linspace(-0.2, 0.2, 5)[::-1]
    fps = find_fixed_points_along(
        tanh_map, np.column_stack([path, path])[::-1], STARTS[:2], [0, 4], **quiet()
    )
    assert len(fps) >= 5


@pytest.mark.parametrize(
    "x0, u, name",
    [
        (STARTS + 1j, 0.0, "x0"),
        (STARTS.astype(np.complex128), 0.0, "x0"),
        (STARTS, np.array([0.0, 1j]), "u"),
        (STARTS > 0, 0.0, "x0"),
        (np.array([["a", "b"]]), 0.0, "x0"),
        (torch.as_tensor(STARTS) > 0, 0.0, "x0"),
    ],
)
def test_arrays_that_are_not_real_numbers_are_refused(x0, u, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be real numbers, got "):
        find_fixed_points(tanh_map, x0, u, **quiet())


@pytest.mark.parametrize("device", ["gpu", "cuda:7", "tpu", 3.5])
def test_a_device_this_machine_lacks_is_named(device) -> None:
    if torch.cuda.device_count() > 7 and device == "cuda:7":
        pytest.skip("this machine has a cuda:7")
    with pytest.raises(ValueError, match=r"^device must be "):
        find_fixed_points(tanh_map, STARTS, 0.0, device=device, **quiet())
    with pytest.raises(ValueError, match=r"^device must be "):
        jacobians(tanh_map, STARTS, 0.0, device=device)


# ---------------------------------------------------------------------------- load


@pytest.fixture
def saved(tmp_path):
    fps = find_fixed_points(tanh_map, STARTS, 0.0, **quiet())
    return fps.save(tmp_path / "fps.npz")


def _npz_without(path, field: str) -> bytes:
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files if name != field}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npz_with(path, field: str, value: np.ndarray) -> bytes:
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    buffer = io.BytesIO()
    np.savez(buffer, **{**arrays, field: value})
    return buffer.getvalue()


def _corrupt_one_member(path) -> bytes:
    blob = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xstar.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 140
    blob[start : start + 8] = b"\xff" * 8
    return bytes(blob)


DAMAGES = {
    "truncated": lambda path: path.read_bytes()[: len(path.read_bytes()) // 2],
    "empty": lambda path: b"",
    "random bytes": lambda path: np.random.default_rng(0).bytes(2000),
    "pickle header": lambda path: b"\x80\x04" + np.random.default_rng(1).bytes(200),
    "npy": lambda path: _npy_bytes(),
    "text": lambda path: b"xstar,u\n1,2\n",
    "missing field": lambda path: _npz_without(path, "eigenvalues"),
    "object array": lambda path: _npz_with(path, "q", np.array([{"a": 1}], dtype=object)),
    "wrong shape": lambda path: _npz_with(path, "q", np.zeros(7)),
    "bad scalar": lambda path: _npz_with(path, "n_started", np.zeros(3)),
    "bad crc": _corrupt_one_member,
}


def _npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((2, 2)))
    return buffer.getvalue()


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_an_unreadable_file_gives_one_value_error_naming_it(saved, damage) -> None:
    broken = saved.with_name("broken.npz")
    broken.write_bytes(damage(saved))
    with pytest.raises(ValueError) as caught:
        FixedPoints.load(broken)
    message = str(caught.value)
    assert message.startswith(f"{broken} ")
    assert "allow_pickle" not in message


def test_a_missing_file_is_still_file_not_found(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        FixedPoints.load(tmp_path / "absent.npz")


def test_a_missing_field_is_named(saved) -> None:
    broken = saved.with_name("broken.npz")
    broken.write_bytes(_npz_without(saved, "eigenvalues"))
    with pytest.raises(ValueError, match=r"lacks the field\(s\) \['eigenvalues'\]"):
        FixedPoints.load(broken)
