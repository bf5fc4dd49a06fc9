"""Training: determinism, early stopping, masking, curriculum, the checkpoint cache."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from fhnrnn.models import GRUAdapter, LSTMAdapter, PaperRNN, ResidualMLPCell, TanhRNN
from fhnrnn.tasks import FHNFlowTask, fhn_flow, flip_flop
from fhnrnn.training import FitResult, evaluate, fit, fit_windows, state_spread

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


class _NextVersion(TanhRNN):
    """The same cell under the same name, as if its definition had changed (VERSION bumped)."""

    VERSION = TanhRNN.VERSION + 1


_NextVersion.__qualname__ = TanhRNN.__qualname__
_NextVersion.__module__ = TanhRNN.__module__


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
    assert sorted(p.suffix for p in (cache_in_tmp / "fit").iterdir()) == [".json", ".safetensors"]
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
        lambda: {"threads": 2},
        lambda: {"net": _NextVersion(2, 1, 8, seed=0)},
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


def _rewrite_entry(weights: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Replace a cache entry's tensors, with a matching checksum in its metadata."""
    weights.write_bytes(safetensors.torch.save(tensors))
    meta = weights.with_suffix(".json")
    entry = json.loads(meta.read_text())
    entry["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    meta.write_text(json.dumps(entry))


@pytest.mark.parametrize(
    "damage",
    ["weights", "metadata", "checksum", "missing weights", "no history", "empty history",
     "no seconds", "NaN seconds"],
)
def test_unusable_cache_entry_retrains(cache_in_tmp: Path, damage: str) -> None:
    trained, first = train()
    weights = cache_in_tmp / "fit" / f"{first.key}.safetensors"
    meta = cache_in_tmp / "fit" / f"{first.key}.json"
    state = dict(trained.state_dict())
    if damage == "weights":
        weights.write_bytes(b"not a checkpoint")
    elif damage == "metadata":
        meta.write_text("{ truncated")
    elif damage == "checksum":
        entry = json.loads(meta.read_text())
        entry["sha256"] = "0" * 64
        meta.write_text(json.dumps(entry))
    elif damage == "no history":
        _rewrite_entry(weights, state)
    elif damage == "empty history":
        _rewrite_entry(weights, {**state, "history": torch.zeros(0, dtype=torch.float64)})
    elif damage == "no seconds":
        entry = json.loads(meta.read_text())
        del entry["seconds"]
        meta.write_text(json.dumps(entry))
    elif damage == "NaN seconds":
        entry = json.loads(meta.read_text())
        entry["seconds"] = math.nan  # json writes it as NaN
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
    history = torch.tensor(first.history, dtype=torch.float64)
    weights = cache_in_tmp / "fit" / f"{first.key}.safetensors"
    _rewrite_entry(weights, {**other.state_dict(), "history": history})
    fresh = model()
    with pytest.warns(RuntimeWarning, match="do not fit the model"):
        _, second = train(net=fresh)
    assert not second.from_cache


def test_training_pins_its_threads_and_restores_the_callers() -> None:
    seen = []

    class Spy(TanhRNN):
        def _step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            seen.append((torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()))
            return super()._step(x, u)

    before = torch.get_num_threads()
    train(net=Spy(2, 1, 8, seed=0), cache=False, max_epochs=1, threads=3)
    assert set(seen) == {(3, True)}
    assert torch.get_num_threads() == before
    assert not torch.are_deterministic_algorithms_enabled()


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


@pytest.mark.slow
@pytest.mark.usefixtures("single_thread")
def test_tanh_rnn_learns_the_three_bit_flip_flop(
    fit_to_target: Callable[..., FitResult],
) -> None:
    task = flip_flop(3, n_trials=64, n_steps=50, p_pulse=0.05, seed=0)
    held_out = flip_flop(3, n_trials=128, n_steps=50, p_pulse=0.05, seed=1)
    net = TanhRNN(3, 3, 64, seed=0)
    fit_to_target(net, task, max_epochs=1500)
    baseline = held_out.targets.square().mean().item()
    assert evaluate(net, held_out.inputs, held_out.targets).mean() < 0.02 * baseline


ADAM_STEP = torch.optim.Adam.step


def recording_run(monkeypatch: pytest.MonkeyPatch, **options) -> dict[str, list]:
    """Train a small cell and record, per Adam step, the rate and the sequence length used."""
    record: dict[str, list] = {"lr": [], "length": []}

    def step(self, *args, **kwargs):
        record["lr"].append(self.param_groups[0]["lr"])
        return ADAM_STEP(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    model = TanhRNN(2, 1, 8, seed=0)
    original_rollout = model.rollout

    def rollout(u, x0=None):
        record["length"].append(u.shape[1])
        return original_rollout(u, x0)

    model.rollout = rollout
    inputs, targets = problem()
    record["result"] = fit(
        model, inputs, targets, seed=0, target_loss=0.0, progress=False, **options
    )
    return record


def test_sampling_sample_makes_one_update_per_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    shuffled = recording_run(monkeypatch, max_epochs=4, batch_size=2)
    sampled = recording_run(monkeypatch, max_epochs=4, batch_size=2, sampling="sample")
    assert len(shuffled["lr"]) == 4 * (B // 2)
    assert len(sampled["lr"]) == 4
    assert sampled["result"].epochs == 4
    with pytest.raises(ValueError, match="batch_size"):
        recording_run(monkeypatch, max_epochs=4, sampling="sample")


def test_cosine_schedule_ends_at_lr_end(monkeypatch: pytest.MonkeyPatch) -> None:
    epochs, lr, lr_end = 9, 1e-2, 1e-4
    run = recording_run(monkeypatch, max_epochs=epochs, lr=lr, lr_schedule="cosine", lr_end=lr_end)
    expected = [
        lr_end + (lr - lr_end) * 0.5 * (1 + np.cos(np.pi * e / (epochs - 1))) for e in range(epochs)
    ]
    np.testing.assert_allclose(run["lr"], expected, rtol=1e-12)
    default = recording_run(monkeypatch, max_epochs=epochs, lr=lr, lr_schedule="cosine")
    assert default["lr"][-1] == pytest.approx(lr / 100)
    with pytest.raises(ValueError, match="lr_end"):
        recording_run(monkeypatch, max_epochs=2, lr_end=1e-4)


def test_length_ramp_grows_the_sequence_length_linearly(monkeypatch: pytest.MonkeyPatch) -> None:
    epochs, start, fraction = 10, 3, 0.5
    run = recording_run(monkeypatch, max_epochs=epochs, length_ramp=(start, fraction))
    training_lengths = run["length"][:epochs]
    expected = [min(T, int(start + (T - start) * e / (fraction * epochs))) for e in range(epochs)]
    assert training_lengths == expected
    assert expected[0] == start and expected[-1] == T
    for bad, message in [((0, 0.5), "start_steps"), ((T + 1, 0.5), "start_steps"),
                         ((3, 1.5), "ramp_fraction"), (3, "length_ramp")]:
        with pytest.raises(ValueError, match=message):
            recording_run(monkeypatch, max_epochs=2, length_ramp=bad)


def test_guard_restores_the_best_state_and_halves_the_rate() -> None:
    from fhnrnn.training import _Guard

    model = TanhRNN(1, 1, 3, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    guard = _Guard(3.0)

    def epoch(bias_during_epoch: float, length: int, loss: float) -> None:
        """The parameters that produce ``loss``, then an update, then the guard's check."""
        with torch.no_grad():
            model.output_layer.bias.fill_(bias_during_epoch)
        guard.before_epoch(model, optimizer)
        with torch.no_grad():
            model.output_layer.bias.fill_(100.0)  # the update
        guard.after_epoch(model, optimizer, length, loss)

    epoch(1.0, 10, 1.0)
    epoch(5.0, 10, 0.5)  # new best: the state that produced it is kept
    epoch(-7.0, 10, 1.4)  # worse, but within 3x: training goes on
    assert model.output_layer.bias.item() == 100.0 and guard.lr_scale == 1.0
    epoch(-7.0, 10, 1.6)  # above 3 x 0.5: restore, halve
    assert model.output_layer.bias.item() == 5.0
    assert guard.lr_scale == 0.5 and guard.restores == 1
    epoch(2.0, 20, 9.0)  # a new length starts a new best
    assert guard.restores == 1 and guard.best == 9.0
    epoch(3.0, 20, float("nan"))
    assert model.output_layer.bias.item() == 2.0
    assert guard.restores == 2 and guard.lr_scale == 0.25


def test_guard_survives_a_diverging_rate_that_fails_without_it() -> None:
    inputs, targets = problem()
    settings = {"seed": 0, "max_epochs": 30, "target_loss": 0.0, "lr": 1e3, "clip": None}
    with pytest.raises(RuntimeError, match="diverged"):
        fit(PaperRNN(2, 1, 8, n_layers=2, init="default"), inputs, targets, progress=False,
            **settings)
    guarded = fit(PaperRNN(2, 1, 8, n_layers=2, init="default"), inputs, targets,
                  progress=False, guard=2.0, **settings)
    assert len(guarded.history) == 30
    assert np.isfinite(evaluate(guarded.model, inputs, targets)).all()


def test_new_options_enter_the_cache_key_and_defaults_keep_it() -> None:
    inputs, targets = problem()
    keys = set()
    for options in [{}, {"sampling": "sample"}, {"lr_schedule": "cosine"},
                    {"lr_schedule": "cosine", "lr_end": 1e-5}, {"length_ramp": (4, 0.5)},
                    {"guard": 3.0}]:
        result = fit(TanhRNN(2, 1, 4, seed=0), inputs, targets, seed=0, max_epochs=1,
                     target_loss=0.0, batch_size=3, progress=False, **options)
        keys.add(result.key)
    assert len(keys) == 6
    with pytest.raises(ValueError, match="guard"):
        fit(TanhRNN(2, 1, 4), inputs, targets, seed=0, max_epochs=1, target_loss=0.0, guard=1.0)
    with pytest.raises(ValueError, match="sampling"):
        fit(TanhRNN(2, 1, 4), inputs, targets, seed=0, max_epochs=1, target_loss=0.0,
            sampling="random")


@pytest.fixture(scope="module")
def flow_task() -> FHNFlowTask:
    return fhn_flow([0.2, 1.0], n_random=4, n_near=2, t_max=20.0, dt=0.5, seed=0)


def fit_small(task: FHNFlowTask, **options) -> FitResult:
    settings = dict(seed=0, n_iters=40, window_lengths=(5,), batch_size=32, progress=False)
    return fit_windows(ResidualMLPCell(2, width=16, seed=1), task, **{**settings, **options})


def free_run_error(model: ResidualMLPCell, task: FHNFlowTask, n_steps: int = 5) -> float:
    """Mean squared error of n_steps-step free runs from every trajectory's start."""
    y = torch.as_tensor(task.trajectories, dtype=torch.float32)
    current = torch.as_tensor(task.currents, dtype=torch.float32)[:, None]
    with torch.no_grad():
        x = model.encode(y[:, 0])
        errors = []
        for t in range(1, n_steps + 1):
            x = model.step(x, current)
            errors.append((model.readout(x) - y[:, t]).square().mean())
    return float(torch.stack(errors).mean())


@pytest.mark.usefixtures("single_thread")
def test_fit_windows_learns_the_flow_and_is_deterministic(flow_task: FHNFlowTask) -> None:
    untrained = free_run_error(ResidualMLPCell(2, width=16, seed=1), flow_task)
    first = fit_small(flow_task, cache=False)
    assert first.epochs == len(first.history) == 40
    assert free_run_error(first.model, flow_task) < 0.8 * untrained
    second = fit_small(flow_task, cache=False)
    assert second.history == first.history


@pytest.mark.usefixtures("single_thread")
def test_fit_windows_caches_by_configuration(flow_task: FHNFlowTask, cache_in_tmp: Path) -> None:
    trained = fit_small(flow_task)
    again = fit_small(flow_task)
    assert not trained.from_cache and again.from_cache and again.key == trained.key
    assert again.history == trained.history
    for a, b in zip(trained.model.parameters(), again.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert (cache_in_tmp / "fit" / f"{trained.key}.safetensors").is_file()
    assert fit_small(flow_task, early_fraction=0.0).key != trained.key


def test_fit_windows_rejects_bad_arguments(flow_task: FHNFlowTask) -> None:
    with pytest.raises(ValueError, match="encode"):
        fit_windows(TanhRNN(1, 2, 3), flow_task, seed=0, n_iters=1)
    with pytest.raises(ValueError, match="window_lengths"):
        fit_small(flow_task, window_lengths=(41,))
    with pytest.raises(ValueError, match="early_fraction"):
        fit_small(flow_task, early_fraction=1.5)
    with pytest.raises(ValueError, match="trajectories"):
        fit_windows(ResidualMLPCell(2, output_size=3), flow_task, seed=0, n_iters=1)


def lbfgs(**options) -> tuple[TanhRNN, FitResult]:
    settings = {"optimizer": "lbfgs", "lr": 1.0, "clip": None, "max_epochs": 3}
    return train(cache=False, **{**settings, **options})


def test_state_spread_is_the_mean_squared_distance_from_the_time_average() -> None:
    states = torch.randn(3, 7, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    array = states.numpy()
    centre = array.mean(axis=1, keepdims=True)
    distances = [
        [np.sum((s - c[0]) ** 2) for s in seq] for seq, c in zip(array, centre, strict=True)
    ]
    expected = np.mean(distances)
    assert state_spread(states).item() == pytest.approx(expected, rel=1e-12)
    assert state_spread(torch.ones(2, 4, 3)).item() == 0.0


def test_lbfgs_epoch_is_one_call_of_torch_lbfgs_step() -> None:
    inputs, targets = (tensor.double() for tensor in problem())
    net, result = lbfgs(net=model().double(), data=(inputs, targets))
    reference = model().double()
    optimiser = torch.optim.LBFGS(
        reference.parameters(), lr=1.0, max_iter=10, history_size=50, line_search_fn="strong_wolfe"
    )
    losses = []

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = ((reference.rollout(inputs)[1] - targets) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        return loss

    first_losses = []
    for _ in range(3):
        first_losses.append(len(losses))
        optimiser.step(closure)
    assert result.history == pytest.approx([losses[i] for i in first_losses], rel=1e-9)
    for a, b in zip(net.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)
    assert result.history[-1] < 0.5 * result.history[0]


def test_lbfgs_is_deterministic_and_stops_at_target_loss() -> None:
    first, result1 = lbfgs(max_epochs=4)
    second, result2 = lbfgs(max_epochs=4)
    assert result1.history == result2.history and same_weights(first, second)
    _, stopped = lbfgs(max_epochs=4, target_loss=result1.history[2])
    assert stopped.converged and stopped.history == result1.history[:3]


def test_variance_penalty_adds_the_state_spread_to_the_objective() -> None:
    inputs, targets = problem()
    penalty = 0.3
    net, result = train(cache=False, max_epochs=1, clip=None, variance_penalty=penalty)
    reference = model()
    optimiser = torch.optim.Adam(reference.parameters(), lr=1e-2)
    states, outputs = reference.rollout(inputs)
    error = ((outputs - targets) ** 2).mean()
    centred = states - states.mean(dim=1, keepdim=True)
    (error + penalty * (centred**2).sum(dim=2).mean()).backward()
    optimiser.step()
    assert result.history[0] == pytest.approx(error.item(), rel=1e-6)
    for a, b in zip(net.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    plain, _ = train(cache=False, max_epochs=1, clip=None)
    assert not same_weights(net, plain)


def test_variance_penalty_shrinks_the_orbits() -> None:
    inputs, _ = problem()
    spreads = []
    for penalty in (0.0, 1.0):
        net, _ = lbfgs(max_epochs=5, variance_penalty=penalty)
        with torch.no_grad():
            spreads.append(state_spread(net.rollout(inputs)[0]).item())
    assert spreads[1] < 0.5 * spreads[0]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"optimizer": "sgd"}, r"^optimizer must be one of"),
        ({"optimizer": "lbfgs"}, r"^optimizer='lbfgs' .* takes no clip"),
        ({"optimizer": "lbfgs", "clip": None, "batch_size": 2}, r"takes no batch_size"),
        ({"optimizer": "lbfgs", "clip": None, "lr_schedule": "cosine"}, r"lr_schedule"),
        ({"optimizer": "lbfgs", "clip": None, "guard": 2.0}, r"takes no guard"),
        ({"variance_penalty": -1.0}, r"^variance_penalty"),
        ({"variance_penalty": float("nan")}, r"^variance_penalty"),
    ],
)
def test_bad_optimiser_options_raise(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train(cache=False, **options)


def test_optimiser_options_enter_the_cache_key_and_defaults_keep_it() -> None:
    _, plain = train()
    _, explicit = train(optimizer="adam", variance_penalty=0.0)
    assert explicit.from_cache and explicit.key == plain.key
    _, penalised = train(variance_penalty=0.1)
    _, quasi_newton = train(optimizer="lbfgs", lr=1.0, clip=None)
    assert len({plain.key, penalised.key, quasi_newton.key}) == 3
    _, again = train(optimizer="lbfgs", lr=1.0, clip=None)
    assert again.from_cache and same_weights(again.model, quasi_newton.model)


def test_reversed_numpy_arrays_are_read_as_they_are() -> None:
    inputs, targets = (tensor.numpy() for tensor in problem())
    reversed_inputs, reversed_targets = inputs[::-1], targets[::-1]
    assert reversed_inputs.strides[0] < 0
    expected = evaluate(model(), np.ascontiguousarray(reversed_inputs), reversed_targets.copy())
    np.testing.assert_array_equal(evaluate(model(), reversed_inputs, reversed_targets), expected)
    result = fit(model(), reversed_inputs, reversed_targets, seed=0, max_epochs=2,
                 target_loss=0.0, cache=False, progress=False)
    assert len(result.history) == 2


def test_boolean_targets_are_refused_but_a_boolean_mask_is_a_weight() -> None:
    inputs, targets = problem()
    with pytest.raises(ValueError, match="targets must be real numbers"):
        evaluate(model(), inputs, targets > 0)
    mask = torch.ones(B, T, dtype=torch.bool)
    np.testing.assert_allclose(evaluate(model(), inputs, targets, mask=mask),
                               evaluate(model(), inputs, targets), rtol=1e-6)


def test_an_empty_batch_names_the_inputs() -> None:
    inputs, targets = problem()
    with pytest.raises(ValueError, match=r"inputs must hold at least one sequence \(B >= 1\)"):
        fit(model(), inputs[:0], targets[:0], seed=0, max_epochs=1, target_loss=0.0,
            cache=False, progress=False)
