"""Property-based tests of fhnrnn.models and fhnrnn.training (fit, evaluate): bad arguments
are refused by name, good ones give finite results of the documented shape (see fuzz.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from fuzz import (
    FINITE,
    assert_finite,
    bad_arrays,
    edge_arrays,
    finite_or_naming,
    good_arrays,
    raises_naming,
)
from hypothesis import given
from hypothesis import strategies as st

from fhnrnn.models import (
    GRUAdapter,
    LSTMAdapter,
    PaperRNN,
    ResidualMLPCell,
    RNNCell,
    TanhRNN,
    fold_normalisation,
)
from fhnrnn.training import evaluate, fit

CELLS: dict[str, Callable[[], RNNCell]] = {
    "paper": lambda: PaperRNN(1, 1, 4, 2, seed=0),
    "tanh": lambda: TanhRNN(2, 1, 3, seed=0),
    "gru": lambda: GRUAdapter.create(1, 2, 3, seed=0),
    "lstm": lambda: LSTMAdapter.create(1, 1, 2, seed=0),
    "mlp": lambda: ResidualMLPCell(2, 1, 2, width=4, seed=0),
}
B, T = 3, 4


def _tensor(value: Any) -> Any:
    """A drawn value as a float32 tensor when it is an array (the models take tensors)."""
    if isinstance(value, torch.Tensor):
        return value.detach().float() if value.is_floating_point() else value
    array = np.array(value)
    return torch.from_numpy(array.astype(np.float32)) if array.dtype.kind in "iuf" else value


def _calls(cell: RNNCell) -> dict[str, tuple[Callable[[Any], Any], tuple[int, ...]]]:
    """Method and argument -> (call with the drawn tensor, the argument's shape)."""
    d, m = cell.state_size, cell.input_size
    x, u = torch.zeros(B, d), torch.zeros(B, m)
    return {
        "x": (lambda value: cell.step(value, u), (B, d)),
        "u": (lambda value: cell.step(x, value), (B, m)),
        "readout x": (cell.readout, (B, d)),
        "rollout u": (lambda value: cell.rollout(value), (B, T, m)),
        "rollout x0": (lambda value: cell.rollout(torch.zeros(B, T, m), value), (B, d)),
    }


@pytest.mark.parametrize("kind", sorted(CELLS))
@given(data=st.data())
def test_cell_methods_refuse_bad_tensors_by_name(kind: str, data: st.DataObject) -> None:
    cell = CELLS[kind]()
    calls = _calls(cell)
    argument = data.draw(st.sampled_from(sorted(calls)))
    call, shape = calls[argument]
    value = data.draw(bad_arrays(shape, empty=False))
    if argument in ("x", "u", "readout x") and isinstance(value, (np.ndarray, torch.Tensor)):
        is_float = torch.is_tensor(value) and value.is_floating_point()
        if is_float or (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
            return  # step and readout are the map itself: NaN in, NaN out (the engine relies on it)
    raises_naming(argument.split()[-1], lambda: call(_tensor(value)))


@pytest.mark.parametrize("kind", sorted(CELLS))
@given(data=st.data())
def test_cell_methods_give_finite_results_of_the_documented_shape(
    kind: str, data: st.DataObject
) -> None:
    cell = CELLS[kind]()
    d, m, p = cell.state_size, cell.input_size, cell.output_size
    x = _tensor(data.draw(good_arrays((B, d))))
    u = _tensor(data.draw(good_arrays((B, T, m))))
    with torch.no_grad():
        assert cell.step(x, u[:, 0]).shape == (B, d)
        assert cell.readout(x).shape == (B, p)
        states, outputs = cell.rollout(u, x)
    assert states.shape == (B, T, d) and outputs.shape == (B, T, p)
    assert_finite((states, outputs))


@given(size=st.sampled_from([0, -1, 2.5, True, "3", None, np.nan]))
def test_cell_sizes_are_refused_by_name(size: Any) -> None:
    raises_naming("hidden_size", lambda: TanhRNN(1, 1, size))
    raises_naming("input_size", lambda: PaperRNN(size, 1, 4, 2))
    raises_naming("batch_size", lambda: TanhRNN(1, 1, 2).initial_state(size))


@given(scale=st.sampled_from([np.nan, np.inf, -1.0, 0.0, 1j, "1", None, True]))
def test_cell_settings_are_refused_by_name(scale: Any) -> None:
    raises_naming("spectral_radius", lambda: TanhRNN(1, 1, 2, spectral_radius=scale))
    raises_naming("dt", lambda: ResidualMLPCell(2, dt=scale))


@given(data=st.data())
def test_fold_normalisation_refuses_bad_statistics_by_name(data: st.DataObject) -> None:
    cell = CELLS["tanh"]()  # two inputs, one output
    stats = {"u_mean": np.zeros(2), "u_std": np.ones(2), "y_mean": 0.0, "y_std": 1.0}
    name = data.draw(st.sampled_from(sorted(stats)))
    bad = bad_arrays((2,) if name.startswith("u") else (1,), extra_axis=False)
    value = data.draw(st.one_of(bad, st.just(-1.0)) if name.endswith("std") else bad)
    raises_naming(name, lambda: fold_normalisation(cell, **{**stats, name: value}))


@given(mean=good_arrays((2,)), std=good_arrays((2,), st.floats(0.1, 3.0)))
def test_fold_normalisation_keeps_the_states_and_rescales_the_outputs(mean: Any, std: Any) -> None:
    cell = CELLS["tanh"]()
    u = torch.linspace(-1, 1, 2 * T * 2).reshape(2, T, 2)
    folded = fold_normalisation(cell, mean, std, 0.5, 2.0)
    raw_u = u * _tensor(std) + _tensor(mean)
    with torch.no_grad():
        states, outputs = cell.rollout(u)
        folded_states, folded_outputs = folded.rollout(raw_u)
    torch.testing.assert_close(folded_states, states, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(folded_outputs, 2.0 * outputs + 0.5, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------ training

TASK_U = np.linspace(-1.0, 1.0, B * T).reshape(B, T, 1)
TASK_Y = np.sin(TASK_U)
REQUIRED = {"seed": 0, "max_epochs": 2, "target_loss": 0.0, "cache": False, "progress": False}
DATA_ARGUMENTS = {"inputs": (B, T, 1), "targets": (B, T, 1), "x0": (B, 4), "mask": (B, T)}


def _fit(**changes: Any) -> Any:
    arguments = {"inputs": TASK_U, "targets": TASK_Y, **REQUIRED, **changes}
    return fit(CELLS["paper"](), arguments.pop("inputs"), arguments.pop("targets"), **arguments)


@given(data=st.data())
def test_fit_and_evaluate_refuse_bad_data_by_name(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(DATA_ARGUMENTS)))
    value = data.draw(bad_arrays(DATA_ARGUMENTS[name], extra_axis=name != "mask"))
    if name == "mask" and isinstance(value, (np.ndarray, torch.Tensor)) and (
        value.dtype in (np.bool_, torch.bool)
    ):
        return  # a boolean mask is a 0/1 weight
    raises_naming(name, lambda: _fit(**{name: value}))
    arguments = {"inputs": TASK_U, "targets": TASK_Y, name: value}
    raises_naming(name, lambda: evaluate(CELLS["paper"](), **arguments))


SETTINGS = st.sampled_from([
    ("seed", -1), ("seed", 1.5), ("max_epochs", 0), ("target_loss", np.nan), ("lr", np.inf),
    ("lr", "1e-3"), ("clip", -1.0), ("batch_size", 0), ("lr_schedule", "step"),
    ("curriculum", [(9, 1)]), ("sampling", "all"), ("length_ramp", (9, 0.5)), ("guard", 0.5),
    ("optimizer", "sgd"), ("variance_penalty", np.nan), ("threads", 0), ("epochs", 3),
])


@given(setting=SETTINGS)
def test_fit_refuses_bad_settings_by_name(setting: tuple[str, Any]) -> None:
    name, value = setting
    raises_naming(name, lambda: _fit(**{name: value}))


@given(
    inputs=good_arrays((B, T, 1)),
    targets=good_arrays((B, T, 1)),
    seed=st.integers(0, 2**31),
    lr=st.floats(1e-4, 1e-1),
)
def test_fit_gives_a_finite_history_and_model(
    inputs: Any, targets: Any, seed: int, lr: float
) -> None:
    result = _fit(inputs=inputs, targets=targets, seed=seed, lr=lr)
    assert len(result.history) == result.epochs == 2 and np.isfinite(result.history).all()
    assert_finite([parameter for parameter in result.model.parameters()])
    errors = evaluate(result.model, inputs, targets)
    assert errors.shape == (B,) and np.isfinite(errors).all()


@given(inputs=edge_arrays((B, T, 1)))
def test_fit_at_the_edges_is_finite_or_refused_by_name(inputs: Any) -> None:
    finite_or_naming("inputs", lambda: _fit(inputs=inputs).history)


@given(x0=good_arrays((B, 4), FINITE))
def test_a_start_that_requires_grad_is_not_trained(x0: Any) -> None:
    result = _fit(x0=x0)
    if torch.is_tensor(x0):
        assert x0.grad is None
    assert np.isfinite(result.history).all()
