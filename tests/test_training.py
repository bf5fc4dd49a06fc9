"""Training: determinism, early stopping, masking, curriculum, the checkpoint cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fhnrnn.models import GRUAdapter, LSTMAdapter, PaperRNN, TanhRNN
from fhnrnn.tasks import flip_flop
from fhnrnn.training import evaluate, fit

B, T = 6, 12


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("FHNRNN_CACHE_DIR", str(folder))
    return folder


def problem(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(B, T, 2, generator=generator)
    targets = torch.sin(inputs.cumsum(dim=1)[..., :1])
    return inputs, targets


def model(seed: int = 0) -> TanhRNN:
    return TanhRNN(2, 1, 8, seed=seed)


def train(**options) -> tuple[TanhRNN, object]:
    net = options.pop("net", None) or model()
    inputs, targets = options.pop("data", None) or problem()
    settings = {"seed": 0, "max_epochs": 15, "target_loss": 0.0, "lr": 1e-2, "progress": False}
    settings.update(options)
    return net, fit(net, inputs, targets, **settings)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def mse(net: TanhRNN, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    with torch.no_grad():
        return ((net.rollout(inputs)[1] - targets) ** 2).mean().item()


def test_fit_trains_in_place_and_returns_the_model_in_eval_mode() -> None:
    net, result = train(cache=False)
    assert result.model is net and not net.training
    assert result.epochs == len(result.history) == 15
    assert not result.from_cache and not result.converged
    assert result.seconds > 0 and len(result.key) == 64
    assert result.history[-1] < result.history[0]


def test_history_is_the_loss_before_each_update() -> None:
    inputs, targets = problem()
    initial = mse(model(), inputs, targets)
    _, result = train(cache=False, max_epochs=3)
    assert result.history[0] == pytest.approx(initial, rel=1e-6)
    once = model()
    fit(
        once,
        inputs,
        targets,
        seed=0,
        max_epochs=1,
        target_loss=0.0,
        lr=1e-2,
        cache=False,
        progress=False,
    )
    assert result.history[1] == pytest.approx(mse(once, inputs, targets), rel=1e-6)


@pytest.mark.parametrize("batch_size", [None, 4])
def test_fit_is_deterministic_and_leaves_global_rng_alone(batch_size: int | None) -> None:
    before = torch.random.get_rng_state()
    first, result1 = train(cache=False, batch_size=batch_size)
    second, result2 = train(cache=False, batch_size=batch_size)
    assert torch.equal(before, torch.random.get_rng_state())
    assert result1.history == result2.history
    assert same_weights(first, second)


def test_minibatch_order_depends_on_the_seed() -> None:
    first, result1 = train(cache=False, batch_size=4, seed=0)
    second, result2 = train(cache=False, batch_size=4, seed=1)
    assert result1.history != result2.history
    assert not same_weights(first, second)


def test_early_stopping_at_target_loss() -> None:
    _, full = train(cache=False, max_epochs=30)
    target = full.history[10]
    first_below = next(i for i, loss in enumerate(full.history) if loss <= target)
    _, stopped = train(cache=False, max_epochs=30, target_loss=target)
    assert stopped.converged
    assert stopped.epochs == first_below + 1
    assert stopped.history == full.history[: first_below + 1]


def test_mask_weights_the_loss() -> None:
    inputs, targets = problem()
    mask = torch.zeros(B, T)
    mask[:, 5:] = 1.0
    with torch.no_grad():
        outputs = model().rollout(inputs)[1]
    expected = ((outputs - targets)[:, 5:] ** 2).mean().item()
    _, result = train(cache=False, max_epochs=1, mask=mask)
    assert result.history[0] == pytest.approx(expected, rel=1e-6)


def test_evaluate_gives_the_mse_of_each_condition() -> None:
    inputs, targets = problem()
    net = model()
    errors = evaluate(net, inputs, targets)
    assert errors.shape == (B,) and errors.dtype == np.float64
    for row in range(B):
        with torch.no_grad():
            output = net.rollout(inputs[row : row + 1])[1]
        expected = ((output - targets[row : row + 1]) ** 2).mean().item()
        assert errors[row] == pytest.approx(expected, rel=1e-6)
    mask = torch.zeros(B, T, dtype=torch.bool)
    mask[:, -1] = True
    with torch.no_grad():
        last = ((net.rollout(inputs)[1][:, -1, 0] - targets[:, -1, 0]) ** 2).numpy()
    np.testing.assert_allclose(evaluate(net, inputs, targets, mask=mask), last, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^mask must give every sequence"):
        evaluate(net, inputs, targets, mask=mask & (torch.arange(B) > 0)[:, None])


def test_initial_state_is_used() -> None:
    inputs, targets = problem()
    x0 = torch.full((8,), 0.5)
    net = model()
    expected = ((net.rollout(inputs, x0.expand(B, 8))[1] - targets) ** 2).mean().item()
    _, result = train(cache=False, max_epochs=1, x0=x0)
    assert result.history[0] == pytest.approx(expected, rel=1e-6)


def test_curriculum_trains_short_prefixes_first() -> None:
    inputs, targets = problem()
    short = mse(model(), inputs[:, :4], targets[:, :4])
    _, result = train(cache=False, curriculum=[(4, 3), (8, 2)], max_epochs=5)
    assert result.epochs == 10
    assert result.history[0] == pytest.approx(short, rel=1e-6)
    _, early = train(cache=False, curriculum=[(4, 50)], max_epochs=5, target_loss=1e9)
    assert early.epochs == 2


def test_cosine_schedule_starts_at_lr_and_then_decays() -> None:
    _, constant = train(cache=False, max_epochs=6)
    _, cosine = train(cache=False, max_epochs=6, lr_schedule="cosine")
    assert cosine.history[:2] == constant.history[:2]
    assert cosine.history[2:] != constant.history[2:]


def test_cache_hit_loads_identical_weights(cache_in_tmp: Path) -> None:
    trained, first = train()
    assert not first.from_cache
    assert sorted(p.suffix for p in (cache_in_tmp / "fit").iterdir()) == [".json", ".pt"]
    loaded, second = train()
    assert second.from_cache and not loaded.training
    assert same_weights(trained, loaded)
    assert second.history == first.history
    assert second.seconds == first.seconds and second.key == first.key


@pytest.mark.parametrize(
    "change",
    [
        lambda: {"lr": 2e-2},
        lambda: {"seed": 1, "batch_size": 4},
        lambda: {"max_epochs": 14},
        lambda: {"clip": None},
        lambda: {"target_loss": 1e-9},
        lambda: {"net": TanhRNN(2, 1, 8, seed=1)},
        lambda: {"net": TanhRNN(2, 1, 8, spectral_radius=0.5)},
        lambda: {"data": problem(seed=1)},
        lambda: {"x0": torch.ones(8) * 0.1},
        lambda: {"mask": torch.ones(B, T)},
        lambda: {"curriculum": [(5, 2)]},
    ],
)
def test_changed_configuration_retrains(change) -> None:
    _, first = train()
    _, changed = train(**change())
    assert not changed.from_cache and changed.key != first.key
    _, again = train(**change())
    assert again.from_cache and again.key == changed.key


@pytest.mark.parametrize(
    "build",
    [
        lambda: PaperRNN(2, 1, 6, n_layers=2, seed=0),
        lambda: GRUAdapter.create(2, 1, 6, seed=0),
        lambda: LSTMAdapter.create(2, 1, 6, seed=0),
    ],
)
def test_every_cell_trains_and_caches(build) -> None:
    trained, first = train(net=build(), max_epochs=3)
    assert first.history[-1] < first.history[0]
    loaded, second = train(net=build(), max_epochs=3)
    assert second.from_cache and same_weights(trained, loaded)


@pytest.mark.parametrize("damage", ["weights", "metadata", "checksum", "missing weights"])
def test_unusable_cache_entry_retrains(cache_in_tmp: Path, damage: str) -> None:
    trained, first = train()
    weights = cache_in_tmp / "fit" / f"{first.key}.pt"
    meta = cache_in_tmp / "fit" / f"{first.key}.json"
    if damage == "weights":
        weights.write_bytes(b"not a checkpoint")
    elif damage == "metadata":
        meta.write_text("{ truncated")
    elif damage == "checksum":
        entry = json.loads(meta.read_text())
        entry["weights_sha256"] = "0" * 64
        meta.write_text(json.dumps(entry))
    else:
        weights.unlink()
    with pytest.warns(RuntimeWarning, match="retraining"):
        retrained, second = train()
    assert not second.from_cache
    assert same_weights(trained, retrained) and second.history == first.history
    _, third = train()
    assert third.from_cache


def test_cache_entry_of_another_shape_is_not_loaded(cache_in_tmp: Path) -> None:
    _, first = train()
    other = TanhRNN(2, 1, 3, seed=0)
    weights = cache_in_tmp / "fit" / f"{first.key}.pt"
    torch.save(other.state_dict(), weights)
    entry = json.loads((cache_in_tmp / "fit" / f"{first.key}.json").read_text())
    entry["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (cache_in_tmp / "fit" / f"{first.key}.json").write_text(json.dumps(entry))
    fresh = model()
    with pytest.warns(RuntimeWarning, match="do not fit the model"):
        _, second = train(net=fresh)
    assert not second.from_cache


def test_cache_disabled_writes_nothing(cache_in_tmp: Path) -> None:
    train(cache=False)
    assert not cache_in_tmp.exists()


def test_divergence_raises() -> None:
    net = PaperRNN(1, 1, 4, n_layers=1, recurrent_gain=1.5, init_noise=0.0, seed=0)
    inputs = torch.full((2, 30, 1), 1e30)
    with pytest.raises(RuntimeError, match="diverged"):
        fit(
            net,
            inputs,
            torch.zeros(2, 30, 1),
            seed=0,
            max_epochs=2,
            target_loss=0.0,
            cache=False,
            progress=False,
        )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"data": (torch.zeros(B, T), torch.zeros(B, T, 1))}, r"^inputs must have shape"),
        ({"data": (torch.zeros(B, T, 3), torch.zeros(B, T, 1))}, r"^inputs must have shape"),
        ({"data": (torch.zeros(B, T, 2), torch.zeros(B, T, 2))}, r"^targets must have shape"),
        ({"data": (torch.full((B, T, 2), np.nan), torch.zeros(B, T, 1))}, r"^inputs must be"),
        ({"data": ("abc", torch.zeros(B, T, 1))}, r"^inputs must"),
        ({"net": torch.nn.Linear(2, 1)}, r"^model must be"),
        ({"x0": torch.zeros(B, 3)}, r"^x0 must have shape"),
        ({"mask": torch.zeros(B, T)}, r"^mask must be non-negative"),
        ({"mask": torch.ones(B, T + 1)}, r"^mask must have shape"),
        (
            {"mask": torch.ones(B, T) * (torch.arange(B) > 0)[:, None]},
            r"^mask must give every sequence .* first 12 time steps",
        ),
        (
            {"mask": torch.ones(B, T) * (torch.arange(T) >= 6), "curriculum": [(4, 2)]},
            r"^mask must give every sequence .* first 4 time steps",
        ),
        ({"seed": -1}, r"^seed"),
        ({"max_epochs": 0}, r"^max_epochs"),
        ({"target_loss": -1.0}, r"^target_loss"),
        ({"lr": 0.0}, r"^lr"),
        ({"clip": float("inf")}, r"^clip"),
        ({"batch_size": 0}, r"^batch_size"),
        ({"lr_schedule": "step"}, r"^lr_schedule"),
        ({"curriculum": [(T + 1, 2)]}, r"^curriculum\[0\] n_steps"),
        ({"curriculum": [3]}, r"^curriculum\[0\] must be a pair"),
    ],
)
def test_bad_arguments_raise_value_errors(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train(cache=False, **change)


@pytest.fixture
def single_thread():
    """Small matrices train fastest on one thread, above all on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.usefixtures("single_thread")
def test_tanh_rnn_learns_the_three_bit_flip_flop() -> None:
    task = flip_flop(3, n_trials=64, n_steps=50, p_pulse=0.05, seed=0)
    held_out = flip_flop(3, n_trials=128, n_steps=50, p_pulse=0.05, seed=1)
    net = TanhRNN(3, 3, 64, seed=0)
    result = fit(
        net,
        task.inputs,
        task.targets,
        seed=0,
        max_epochs=1500,
        target_loss=1e-3,
        lr=1e-2,
        cache=False,
        progress=False,
    )
    assert result.converged, f"final loss {result.history[-1]:.3g}"
    baseline = held_out.targets.square().mean().item()
    assert evaluate(net, held_out.inputs, held_out.targets).mean() < 0.02 * baseline
