"""Recurrent cells: shapes, the step/rollout contract, torch.func, GRU/LSTM equivalence."""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import textwrap

import pytest
import torch
from torch import nn

from fhnrnn.models import (
    GRUAdapter,
    LSTMAdapter,
    PaperRNN,
    ResidualMLPCell,
    RNNAdapter,
    RNNCell,
    TanhRNN,
    recurrent_step,
)

B, T, M, P, H = 3, 7, 2, 2, 5


def make_cell(kind: str) -> RNNCell:
    if kind == "paper":
        return PaperRNN(M, P, H, n_layers=3, seed=1)
    if kind == "paper-default":
        return PaperRNN(M, P, H, n_layers=2, init="default", seed=1)
    if kind == "tanh":
        return TanhRNN(M, P, H, spectral_radius=1.2, seed=1)
    if kind == "gru":
        return GRUAdapter.create(M, P, H, seed=1)
    if kind == "rnn":
        return RNNAdapter.create(M, P, H, seed=1)
    return LSTMAdapter.create(M, P, H, seed=1)


KINDS = ["paper", "paper-default", "tanh", "rnn", "gru", "lstm"]


def sequence(cell: RNNCell, seed: int = 0, steps: int = T) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    dtype = next(cell.parameters()).dtype
    return torch.randn(B, steps, cell.input_size, generator=generator, dtype=dtype)


def random_state(cell: RNNCell, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    dtype = next(cell.parameters()).dtype
    return torch.rand(B, cell.state_size, generator=generator, dtype=dtype)


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_and_sizes(kind: str) -> None:
    cell = make_cell(kind)
    d = 2 * H if kind == "lstm" else H
    assert (cell.state_size, cell.input_size, cell.output_size) == (d, M, P)
    states, outputs = cell.rollout(sequence(cell))
    assert states.shape == (B, T, d)
    assert outputs.shape == (B, T, P)
    assert cell.step(random_state(cell), sequence(cell)[:, 0]).shape == (B, d)
    assert cell.readout(random_state(cell)).shape == (B, P)
    x0 = cell.initial_state(4)
    assert x0.shape == (4, d) and x0.dtype == torch.float32 and not x0.any()


@pytest.mark.parametrize("kind", KINDS)
def test_rollout_is_repeated_step_then_readout(kind: str) -> None:
    cell = make_cell(kind)
    u = sequence(cell)
    x = random_state(cell)
    states, outputs = cell.rollout(u, x)
    # The states come from the same (B, d) step, so they repeat bit for bit. The read-out of
    # the stacked (B, T, d) states is a matmul of another shape, for which BLAS may take another
    # kernel (another summation order): equal to a few float32 ulps only.
    eps = torch.finfo(torch.float32).eps
    for t in range(T):
        x = cell.step(x, u[:, t])
        torch.testing.assert_close(states[:, t], x, rtol=0, atol=0)
        torch.testing.assert_close(outputs[:, t], cell.readout(x), rtol=16 * eps, atol=16 * eps)


@pytest.mark.parametrize("kind", KINDS)
def test_rollout_starts_from_zeros_by_default(kind: str) -> None:
    cell = make_cell(kind)
    u = sequence(cell)
    torch.testing.assert_close(cell.rollout(u)[0], cell.rollout(u, cell.initial_state(B))[0])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("kind", KINDS)
def test_step_jacobian_under_vmap_matches_finite_differences(kind: str) -> None:
    cell = make_cell(kind).double()
    x = random_state(cell) + 0.1
    u = sequence(cell)[:, 0]

    def single(x_i: torch.Tensor, u_i: torch.Tensor) -> torch.Tensor:
        return cell.step(x_i[None], u_i[None])[0]

    jac_rev = torch.func.vmap(torch.func.jacrev(single))(x, u)
    jac_fwd = torch.func.vmap(torch.func.jacfwd(single))(x, u)
    jac_input = torch.func.vmap(torch.func.jacrev(single, argnums=1))(x, u)
    assert jac_rev.shape == (B, cell.state_size, cell.state_size)
    assert jac_input.shape == (B, cell.state_size, cell.input_size)
    torch.testing.assert_close(jac_fwd, jac_rev, rtol=1e-12, atol=1e-12)

    eps = 1e-6
    with torch.no_grad():
        for j in range(cell.state_size):
            shift = torch.zeros_like(x)
            shift[:, j] = eps
            column = (cell.step(x + shift, u) - cell.step(x - shift, u)) / (2 * eps)
            torch.testing.assert_close(jac_rev[:, :, j], column, rtol=1e-6, atol=1e-7)
        for j in range(cell.input_size):
            shift = torch.zeros_like(u)
            shift[:, j] = eps
            column = (cell.step(x, u + shift) - cell.step(x, u - shift)) / (2 * eps)
            torch.testing.assert_close(jac_input[:, :, j], column, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_double_runs_in_float64_and_agrees_with_float32(kind: str) -> None:
    cell = make_cell(kind)
    u = sequence(cell)
    states32, outputs32 = cell.rollout(u)
    cell.double()
    states64, outputs64 = cell.rollout(u.double())
    assert states64.dtype == outputs64.dtype == torch.float64
    assert cell.initial_state(2).dtype == torch.float64
    torch.testing.assert_close(states64.float(), states32, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outputs64.float(), outputs32, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-13)])
def test_gru_adapter_matches_torch_gru(bias: bool, dtype: torch.dtype, tol: float) -> None:
    torch.manual_seed(3)
    gru = nn.GRU(M, H, batch_first=True, bias=bias).to(dtype)
    adapter = GRUAdapter(gru, nn.Linear(H, P).to(dtype))
    u = torch.randn(B, 20, M, dtype=dtype)
    h0 = torch.randn(B, H, dtype=dtype)
    expected, h_last = gru(u, h0[None])
    states, outputs = adapter.rollout(u, h0)
    torch.testing.assert_close(states, expected, rtol=0, atol=tol)
    torch.testing.assert_close(states[:, -1], h_last[0], rtol=0, atol=tol)
    torch.testing.assert_close(outputs, adapter.output_layer(expected), rtol=0, atol=tol)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-13)])
def test_lstm_adapter_matches_torch_lstm(bias: bool, dtype: torch.dtype, tol: float) -> None:
    torch.manual_seed(4)
    lstm = nn.LSTM(M, H, batch_first=True, bias=bias).to(dtype)
    adapter = LSTMAdapter(lstm, nn.Linear(H, P).to(dtype))
    u = torch.randn(B, 20, M, dtype=dtype)
    h0, c0 = torch.randn(B, H, dtype=dtype), torch.randn(B, H, dtype=dtype)
    expected, (h_last, c_last) = lstm(u, (h0[None], c0[None]))
    states, outputs = adapter.rollout(u, torch.cat([h0, c0], dim=1))
    h, c = adapter.split_state(states)
    torch.testing.assert_close(h, expected, rtol=0, atol=tol)
    torch.testing.assert_close(h[:, -1], h_last[0], rtol=0, atol=tol)
    torch.testing.assert_close(c[:, -1], c_last[0], rtol=0, atol=tol)
    torch.testing.assert_close(outputs, adapter.output_layer(expected), rtol=0, atol=tol)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_adapter_matches_torch_rnn(nonlinearity: str, bias: bool) -> None:
    torch.manual_seed(5)
    rnn = nn.RNN(M, H, nonlinearity=nonlinearity, batch_first=True, bias=bias).double()
    adapter = RNNAdapter(rnn, nn.Linear(H, P).double())
    u = torch.randn(B, 20, M, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    expected, _ = rnn(u, h0[None])
    states, outputs = adapter.rollout(u, h0)
    torch.testing.assert_close(states, expected, rtol=0, atol=1e-13)
    torch.testing.assert_close(outputs, adapter.output_layer(expected), rtol=0, atol=1e-13)
    assert adapter.config()["nonlinearity"] == nonlinearity


def _one_torch_step(module: nn.Module, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The module's own next state, laid out as the step's x ([h, c] for an LSTM)."""
    if isinstance(module, nn.LSTMCell):
        return torch.cat(module(u, (x[:, :H], x[:, H:])), dim=1)
    if isinstance(module, nn.RNNCellBase):
        return module(u, x)
    one_step = u[:, None] if module.batch_first else u[None]
    if isinstance(module, nn.LSTM):
        _, (h, c) = module(one_step, (x[None, :, :H].contiguous(), x[None, :, H:].contiguous()))
        return torch.cat([h[0], c[0]], dim=1)
    return module(one_step, x[None])[1][0]


RECURRENT_MODULES = {
    "RNN-tanh": lambda: nn.RNN(M, H, batch_first=True),
    "RNN-relu": lambda: nn.RNN(M, H, nonlinearity="relu"),
    "GRU": lambda: nn.GRU(M, H),
    "LSTM": lambda: nn.LSTM(M, H, batch_first=True),
    "RNNCell": lambda: nn.RNNCell(M, H),
    "RNNCell-relu-nobias": lambda: nn.RNNCell(M, H, bias=False, nonlinearity="relu"),
    "GRUCell": lambda: nn.GRUCell(M, H),
    "LSTMCell": lambda: nn.LSTMCell(M, H),
    "LSTMCell-nobias": lambda: nn.LSTMCell(M, H, bias=False),
}


@pytest.mark.parametrize("build", RECURRENT_MODULES.values(), ids=RECURRENT_MODULES.keys())
def test_recurrent_step_is_the_modules_own_step_with_x_first(build) -> None:
    torch.manual_seed(6)
    module = build().double()
    d = 2 * H if isinstance(module, (nn.LSTM, nn.LSTMCell)) else H
    x, u = torch.randn(B, d, dtype=torch.float64), torch.randn(B, M, dtype=torch.float64)
    step = recurrent_step(module)
    torch.testing.assert_close(step(x, u), _one_torch_step(module, x, u), rtol=0, atol=1e-13)
    jacobian = torch.func.vmap(torch.func.jacrev(lambda s, v: step(s[None], v[None])[0]))(x, u)
    assert jacobian.shape == (B, d, d) and bool(jacobian.abs().sum() > 0)


@pytest.mark.parametrize(
    "module, message",
    [
        (nn.GRU(M, H, num_layers=2), "single-layer"),
        (nn.LSTM(M, H, bidirectional=True), "single-layer"),
        (nn.LSTM(M, H, proj_size=2), "proj_size"),
        (nn.Linear(M, H), r"^module must be a torch.nn.RNN, GRU, LSTM, RNNCell"),
        ("gru", r"^module must be a torch.nn.RNN, GRU, LSTM, RNNCell"),
    ],
)
def test_recurrent_step_refuses_what_it_cannot_wrap(module: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        recurrent_step(module)


def test_lstm_split_state_rejects_wrong_size() -> None:
    adapter = LSTMAdapter.create(M, P, H, seed=0)
    with pytest.raises(ValueError, match="x must have shape"):
        adapter.split_state(torch.zeros(B, H))


def test_paper_rnn_step_is_the_documented_equation() -> None:
    cell = PaperRNN(M, P, H, n_layers=3, init="default", seed=2)
    params = cell.state_dict()
    x, u = random_state(cell), sequence(cell)[:, 0]
    h = x + u @ params["input_layer.weight"].T + params["input_layer.bias"]
    for layer in range(3):
        weight = params[f"hidden_layers.{layer}.weight"]
        h = torch.clamp(h @ weight.T + params[f"hidden_layers.{layer}.bias"], min=0)
    torch.testing.assert_close(cell.step(x, u), h)
    expected_y = h @ params["output_layer.weight"].T + params["output_layer.bias"]
    torch.testing.assert_close(cell.readout(h), expected_y)


@pytest.mark.parametrize("gain", [0.5, 0.95])
def test_paper_rnn_identity_init_is_a_contraction_with_the_given_gain(gain: float) -> None:
    n_layers = 4
    cell = PaperRNN(1, 1, 32, n_layers=n_layers, recurrent_gain=gain, seed=0).double()
    for layer in cell.hidden_layers:
        norm = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
        assert norm.item() == pytest.approx(gain ** (1 / n_layers), rel=1e-6)
        assert not layer.bias.any()
    generator = torch.Generator().manual_seed(5)
    x1, x2 = torch.randn(2, 64, 32, generator=generator, dtype=torch.float64)
    u = torch.randn(64, 1, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        ratio = (cell.step(x1, u) - cell.step(x2, u)).norm(dim=1) / (x1 - x2).norm(dim=1)
    assert ratio.max().item() <= gain * (1 + 1e-6)


def test_tanh_rnn_initial_spectral_radius() -> None:
    cell = TanhRNN(1, 1, 40, spectral_radius=0.7, seed=3)
    weight = cell.recurrent_layer.weight.detach().double()
    assert torch.linalg.eigvals(weight).abs().max().item() == pytest.approx(0.7, rel=1e-6)


def test_tanh_rnn_readout_scale_multiplies_only_the_initial_readout_weights() -> None:
    plain = TanhRNN(1, 2, 30, seed=4)
    scaled = TanhRNN(1, 2, 30, readout_scale=8.0, seed=4)
    for name, value in plain.state_dict().items():
        expected = 8.0 * value if name == "output_layer.weight" else value
        assert torch.equal(scaled.state_dict()[name], expected), name
    assert scaled.config()["readout_scale"] == 8.0
    assert "readout_scale" not in plain.config()
    rebuilt = TanhRNN(**scaled.config())
    assert torch.equal(rebuilt.output_layer.weight, scaled.output_layer.weight)


@pytest.mark.parametrize("kind", KINDS)
def test_construction_is_seeded_and_leaves_global_rng_alone(kind: str) -> None:
    before = torch.random.get_rng_state()
    first, second = make_cell(kind), make_cell(kind)
    assert torch.equal(before, torch.random.get_rng_state())
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert json.loads(json.dumps(first.config())) == first.config()


@pytest.mark.parametrize("cls", [PaperRNN, TanhRNN])
def test_config_rebuilds_the_same_cell(cls: type[RNNCell]) -> None:
    cell = cls(2, 3, 6, seed=7)
    rebuilt = cls(**cell.config())
    for a, b in zip(cell.parameters(), rebuilt.parameters(), strict=True):
        assert torch.equal(a, b)
    other = cls(2, 3, 6, seed=8)
    assert not torch.equal(next(cell.parameters()), next(other.parameters()))


@pytest.mark.parametrize("kind", KINDS)
def test_bad_shapes_and_dtypes_raise_value_errors_naming_the_argument(kind: str) -> None:
    cell = make_cell(kind)
    u = sequence(cell)
    x = random_state(cell)
    with pytest.raises(ValueError, match=r"^u must have shape \(B, T, m\)"):
        cell.rollout(u[..., 0])
    with pytest.raises(ValueError, match=r"^u must have shape \(B, T, m\)"):
        cell.rollout(torch.zeros(B, T, M + 1))
    with pytest.raises(ValueError, match=r"^u must hold at least one time step"):
        cell.rollout(u[:, :0])
    with pytest.raises(ValueError, match=r"^x0 must have shape \(B, d\)"):
        cell.rollout(u, x[:, :-1])
    with pytest.raises(ValueError, match=r"^x0 must have the batch size"):
        cell.rollout(u, x[:-1])
    with pytest.raises(ValueError, match=r"^u has dtype torch.float64 on cpu"):
        cell.rollout(u.double())
    with pytest.raises(ValueError, match=r"^x must have shape \(B, d\)"):
        cell.step(x[0], u[:, 0])
    with pytest.raises(ValueError, match=r"^u must have shape \(B, m\)"):
        cell.step(x, u)
    with pytest.raises(ValueError, match="same batch size"):
        cell.step(x, u[:-1, 0])
    with pytest.raises(ValueError, match=r"^x must be a torch.Tensor"):
        cell.readout(x.numpy())
    with pytest.raises(ValueError, match="batch_size"):
        cell.initial_state(0)
    with pytest.raises(ValueError, match=r"^u must hold at least one sequence \(B >= 1\)"):
        cell.rollout(u[:0])


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: PaperRNN(hidden_size=0), "hidden_size"),
        (lambda: PaperRNN(n_layers=1.5), "n_layers"),
        (lambda: PaperRNN(init="xavier"), "init"),
        (lambda: PaperRNN(recurrent_gain=0.0), "recurrent_gain"),
        (lambda: PaperRNN(recurrent_gain="x"), r"^recurrent_gain must be a real number, got 'x'"),
        (lambda: PaperRNN(recurrent_gain=float("nan")), "recurrent_gain"),
        (lambda: PaperRNN(recurrent_gain=1.6), r"^recurrent_gain must lie in \(0, 1.5\]"),
        (lambda: RNNAdapter(nn.GRU(1, 4), nn.Linear(4, 1)), "module must be a torch.nn.RNN"),
        (lambda: PaperRNN(init_noise=-1.0), "init_noise"),
        (lambda: PaperRNN(seed=-1), "seed"),
        (lambda: TanhRNN(1, 1, 4, spectral_radius=0.0), "spectral_radius"),
        (lambda: TanhRNN(1, 1, 4, readout_scale=0.0), "readout_scale"),
        (lambda: TanhRNN(1, 1, 4, readout_scale=float("inf")), "readout_scale"),
        (lambda: TanhRNN(0, 1, 4), "input_size"),
        (lambda: GRUAdapter(nn.LSTM(1, 4), nn.Linear(4, 1)), "module must be a torch.nn.GRU"),
        (lambda: GRUAdapter(nn.GRU(1, 4, num_layers=2), nn.Linear(4, 1)), "single-layer"),
        (lambda: GRUAdapter(nn.GRU(1, 4, bidirectional=True), nn.Linear(4, 1)), "single-layer"),
        (lambda: GRUAdapter(nn.GRU(1, 4), nn.Linear(5, 1)), "readout"),
        (lambda: LSTMAdapter(nn.LSTM(1, 4, proj_size=2), nn.Linear(2, 1)), "proj_size"),
        (lambda: LSTMAdapter.create(1, 0, 4), "output_size"),
    ],
)
def test_bad_constructor_arguments_raise(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def paired_state(z: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.relu(z), torch.relu(-z)], dim=-1)


def test_paired_rotation_init_is_a_neutral_linear_rotation_per_step() -> None:
    hidden, layers, low, high = 16, 5, 90.0, 200.0
    cell = PaperRNN(
        hidden_size=hidden, n_layers=layers, init="paired_rotation", period_range=(low, high)
    ).double()
    z = torch.randn(3, hidden // 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    u = torch.zeros(3, 1, dtype=torch.float64)
    bias = cell.input_layer.bias.detach()[: hidden // 2]
    shifted = z + 2 * bias  # the pair difference of x + b_in, with b_in = [c; -c]
    following = cell.step(paired_state(z), u)
    z_next = following[:, : hidden // 2] - following[:, hidden // 2 :]
    # linear in the sign pair: the state stays a sign pair of some z_next
    torch.testing.assert_close(following, paired_state(z_next))
    # each plane (2j, 2j+1) is rotated: the norm is kept, the angle advances by 2 pi / P_j
    planes, planes_next = shifted.reshape(3, -1, 2), z_next.reshape(3, -1, 2)
    torch.testing.assert_close(planes.norm(dim=-1), planes_next.norm(dim=-1))
    angle = torch.atan2(planes_next[..., 1], planes_next[..., 0]) - torch.atan2(
        planes[..., 1], planes[..., 0]
    )
    period = 2 * torch.pi / torch.remainder(angle, 2 * torch.pi)
    assert bool(((period > low - 1e-9) & (period < high + 1e-9)).all())
    torch.testing.assert_close(period, period[:1].expand_as(period))


def test_paired_rotation_input_weights_are_sign_pairs_of_the_given_scale() -> None:
    cell = PaperRNN(hidden_size=400, init="paired_rotation", input_scale=0.5, seed=3)
    weight, bias = cell.input_layer.weight.detach(), cell.input_layer.bias.detach()
    torch.testing.assert_close(weight[:200], -weight[200:])
    torch.testing.assert_close(bias[:200], -bias[200:])
    assert 0.4 < float(torch.cat([weight[:200].ravel(), bias[:200]]).std()) < 0.6
    assert PaperRNN(**cell.config()).state_dict().keys() == cell.state_dict().keys()
    torch.testing.assert_close(PaperRNN(**cell.config()).state_dict(), cell.state_dict())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_size": 18, "init": "paired_rotation"}, "divisible by 4"),
        ({"init": "paired_rotation", "period_range": (0.5, 10.0)}, "period_range"),
        ({"init": "paired_rotation", "period_range": (20.0, 10.0)}, "period_range"),
        ({"init": "paired_rotation", "period_range": 5.0}, "period_range"),
        ({"init": "paired_rotation", "input_scale": -1.0}, "input_scale"),
        ({"init": "rotation"}, "init"),
    ],
)
def test_paired_rotation_bad_arguments_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PaperRNN(**kwargs)


@pytest.mark.parametrize("kind", ["paper", "tanh", "rnn", "gru", "lstm"])
def test_fold_normalisation_maps_raw_inputs_to_raw_outputs(kind: str) -> None:
    from fhnrnn.models import fold_normalisation

    cell = make_cell(kind).double()
    before = {name: value.clone() for name, value in cell.state_dict().items()}
    u_mean, u_std, y_mean, y_std = 0.9, 0.3, -0.2, 1.7
    folded = fold_normalisation(cell, u_mean, u_std, y_mean, y_std)
    raw = sequence(cell).double() * 2.0 + 1.0
    states, outputs = cell.rollout((raw - u_mean) / u_std)
    folded_states, folded_outputs = folded.rollout(raw)
    torch.testing.assert_close(folded_states, states)
    torch.testing.assert_close(folded_outputs, outputs * y_std + y_mean)
    torch.testing.assert_close(cell.state_dict(), before)
    assert type(folded) is type(cell)


def test_fold_normalisation_rejects_bad_arguments() -> None:
    from fhnrnn.models import fold_normalisation

    cell = make_cell("tanh")
    with pytest.raises(ValueError, match="u_std"):
        fold_normalisation(cell, 0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="y_mean"):
        fold_normalisation(cell, 0.0, 1.0, [0.0, 1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="model"):
        fold_normalisation(nn.Linear(2, 2), 0.0, 1.0, 0.0, 1.0)


def residual_cell(**options) -> ResidualMLPCell:
    cell = ResidualMLPCell(2, **options)
    with torch.no_grad():
        cell.last_layer.weight.normal_(generator=torch.Generator().manual_seed(5))
        cell.last_layer.bias.fill_(0.1)
    return cell


def test_residual_cell_starts_as_identity_with_identity_encoder_and_readout() -> None:
    cell = ResidualMLPCell(2, seed=3)
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    u = torch.ones(4, 1)
    torch.testing.assert_close(cell.step(x, u), x)
    torch.testing.assert_close(cell.encode(x), x)
    torch.testing.assert_close(cell.readout(x), x)


def test_residual_cell_step_is_an_euler_step_of_its_mlp() -> None:
    cell = residual_cell(width=8, depth=3, dt=0.25).double()
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    u = torch.rand(5, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    h = torch.cat([x, u], dim=1)
    for layer in cell.hidden_layers:
        h = torch.tanh(h @ layer.weight.T + layer.bias)
    expected = x + 0.25 * (h @ cell.last_layer.weight.T + cell.last_layer.bias)
    torch.testing.assert_close(cell.step(x, u), expected)
    assert len(cell.hidden_layers) == 3


def test_residual_cell_jacobian_under_torch_func_matches_finite_differences() -> None:
    cell = residual_cell().double()
    x = torch.tensor([0.3, -0.7], dtype=torch.float64)
    u = torch.tensor([0.5], dtype=torch.float64)
    jacobian = torch.func.jacrev(lambda z: cell.step(z[None], u[None])[0])(x)
    eps = 1e-6
    columns = [
        (cell.step((x + eps * e)[None], u[None]) - cell.step((x - eps * e)[None], u[None]))[0]
        / (2 * eps)
        for e in torch.eye(2, dtype=torch.float64)
    ]
    torch.testing.assert_close(jacobian, torch.stack(columns, dim=1), atol=1e-8, rtol=1e-6)


def test_residual_cell_is_seeded_and_reports_its_config() -> None:
    first, second = ResidualMLPCell(3, seed=4), ResidualMLPCell(3, seed=4)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert not torch.equal(first.encoder.weight, ResidualMLPCell(3, seed=5).encoder.weight)
    config = first.config()
    assert json.loads(json.dumps(config)) == config
    assert ResidualMLPCell(**config).config() == config


def test_residual_cell_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="dt"):
        ResidualMLPCell(2, dt=0.0)
    with pytest.raises(ValueError, match="depth"):
        ResidualMLPCell(2, depth=0)
    with pytest.raises(ValueError, match="y0"):
        ResidualMLPCell(2).encode(torch.zeros(3, 3))


def _definition_fingerprint(cls: type) -> str:
    """SHA-256 (12 digits) of what a cell computes: its map, read-out, encoder, initialisation.

    The adapters' maps of torch modules (their ``_map``) count as their map.

    Docstrings and comments do not count, so that only a change of the computation changes it.
    """
    parts = []
    for klass in cls.__mro__:
        if klass.__module__ != "fhnrnn.models":
            continue
        for name, member in sorted(vars(klass).items()):
            if name in {"_step", "_readout", "_map", "encode"} or name.startswith("_initialise"):
                function = getattr(member, "__func__", member)  # a staticmethod's function
                tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
                for node in ast.walk(tree):
                    body = getattr(node, "body", None)
                    if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                        if isinstance(body[0].value, ast.Constant):
                            node.body = body[1:] or [ast.Pass()]
                parts.append(f"{klass.__qualname__}.{name}:{ast.unparse(tree)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


# A cell's VERSION enters every cache and artifact key. When a fingerprint below changes, the
# cell's code changed: if it now computes other numbers, bump its VERSION (and refresh the
# shipped networks); if the numbers are the same (a refactoring), update the fingerprint only.
DEFINITIONS = {
    PaperRNN: (1, "9c6a3b80557a"),
    TanhRNN: (1, "67548b8a3c85"),
    GRUAdapter: (1, "a77f70de8f18"),
    LSTMAdapter: (1, "0096ab802ca7"),
    RNNAdapter: (1, "173fff0991d6"),
    ResidualMLPCell: (1, "1e062da7fde1"),
}


@pytest.mark.parametrize("cls", list(DEFINITIONS), ids=lambda cls: cls.__name__)
def test_a_changed_cell_definition_has_a_new_version(cls: type) -> None:
    version, fingerprint = DEFINITIONS[cls]
    assert (cls.VERSION, _definition_fingerprint(cls)) == (version, fingerprint), (
        f"{cls.__name__}'s definition changed: see the comment above DEFINITIONS"
    )
