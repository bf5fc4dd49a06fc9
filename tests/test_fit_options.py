"""Training settings as one validated value (FitOptions), and what fit leaves behind."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import fhnrnn.training
from fhnrnn.fit_options import FitOptions
from fhnrnn.models import TanhRNN
from fhnrnn.recipes import train_fhn_rnn, train_sine_generator
from fhnrnn.tasks import sine_wave
from fhnrnn.training import fit

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
REQUIRED = {"seed": 0, "max_epochs": 5, "target_loss": 0.0}


@pytest.fixture
def deterministic_warn_only() -> Iterator[None]:
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def test_fit_restores_the_callers_deterministic_mode_with_warn_only(
    deterministic_warn_only: None,
) -> None:
    task = sine_wave()
    fit(TanhRNN(1, 1, 4, seed=0), task.inputs[:2, :5], task.targets[:2, :5], **REQUIRED,
        cache=False, progress=False)  # fmt: skip
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"seed": -1}, "seed"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"target_loss": float("nan")}, "target_loss"),
        ({"lr": "0.1"}, "lr"),
        ({"clip": 0.0}, "clip"),
        ({"batch_size": True}, "batch_size"),
        ({"lr_schedule": "linear"}, "lr_schedule"),
        ({"curriculum": "abc"}, "curriculum"),
        ({"curriculum": [(5,)]}, "curriculum[0]"),
        ({"sampling": "sample"}, "batch_size"),
        ({"lr_end": 1e-4}, "lr_schedule='cosine'"),
        ({"length_ramp": (0, 0.5)}, "length_ramp start_steps"),
        ({"length_ramp": (5, 1.5)}, "length_ramp ramp_fraction"),
        ({"guard": 1.0}, "guard"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"optimizer": "lbfgs"}, "clip"),
        ({"variance_penalty": -1.0}, "variance_penalty"),
        ({"threads": 0}, "threads"),
    ],
)
def test_bad_options_are_refused_by_name(changes: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name.replace("[", r"\[").replace("(", r"\(")):
        FitOptions(**{**REQUIRED, **changes})


def test_options_are_normalised_and_frozen() -> None:
    options = FitOptions(**REQUIRED, curriculum=[[3, 2]], length_ramp=[4, 1], lr_schedule="cosine")
    assert options.curriculum == ((3, 2),) and options.length_ramp == (4, 1.0)
    assert FitOptions(**REQUIRED, curriculum=None).curriculum == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.lr = 1.0  # type: ignore[misc]


def test_resolve_overrides_fields_and_names_what_is_missing_or_unknown() -> None:
    base = FitOptions(**REQUIRED)
    assert FitOptions.resolve(base, {"lr": 0.5}) == dataclasses.replace(base, lr=0.5)
    with pytest.raises(ValueError, match="target_loss"):
        FitOptions.resolve(None, {"seed": 0, "max_epochs": 1})
    with pytest.raises(ValueError, match="unknown training option"):
        FitOptions.resolve(base, {"epochs": 3})
    with pytest.raises(ValueError, match="options must be a FitOptions"):
        FitOptions.resolve({"seed": 0}, {})  # type: ignore[arg-type]


def test_stages_check_lengths_against_the_sequences() -> None:
    options = FitOptions(**REQUIRED, curriculum=[(3, 2)], length_ramp=(4, 0.5))
    assert options.stages(10) == [(3, 2), (10, 5)]
    with pytest.raises(ValueError, match="length_ramp start_steps must be <= T"):
        options.stages(3)
    with pytest.raises(ValueError, match=r"curriculum\[0\] n_steps must be <= T"):
        options.stages(2)


def test_default_options_describe_only_the_settings_keys_had_before_them() -> None:
    assert FitOptions(**REQUIRED).description() == {
        "optimizer": "Adam", "loss": "mse", "seed": 0, "max_epochs": 5, "target_loss": 0.0,
        "lr": 1e-3, "clip": 1.0, "batch_size": None, "lr_schedule": "constant",
        "curriculum": [], "threads": 1,
    }  # fmt: skip


def test_fit_with_options_equals_fit_with_keywords() -> None:
    task = sine_wave()
    data = (task.inputs[::25, :8], task.targets[::25, :8])
    options = FitOptions(seed=1, max_epochs=3, target_loss=0.0, lr=1e-2, batch_size=1)
    runs = [
        fit(TanhRNN(1, 1, 4, seed=0), *data, options, cache=False, progress=False),
        fit(TanhRNN(1, 1, 4, seed=0), *data, **dataclasses.asdict(options), cache=False,
            progress=False),
    ]  # fmt: skip
    assert runs[0].key == runs[1].key and runs[0].history == runs[1].history
    for first, second in zip(runs[0].model.parameters(), runs[1].model.parameters(), strict=True):
        assert torch.equal(first, second)


class _Key(Exception):
    """Raised in place of training, carrying the cache key fit computed."""


@pytest.mark.parametrize(
    ("name", "train"),
    [
        ("sine-penalty-seed0", lambda: train_sine_generator(progress=False)),
        ("sine-control-seed0", lambda: train_sine_generator(penalty=False, progress=False)),
        ("fhn-paper-seed0", lambda: train_fhn_rnn(progress=False)),
        ("fhn-gru-seed0", lambda: train_fhn_rnn(cell="gru", progress=False)),
    ],
)
def test_the_recipes_give_the_training_keys_the_shipped_networks_were_made_with(
    name: str, train, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fit's cache key derives from FitOptions; a recipe's must not have changed with it.
    def key_only(model, key, *args, **kwargs):
        raise _Key(key)

    monkeypatch.setenv("FHNRNN_RETRAIN", "1")
    monkeypatch.setattr(fhnrnn.training, "_cached_fit", key_only)
    with pytest.raises(_Key) as caught:
        train()
    manifest = json.loads((ARTIFACTS / f"{name}.json").read_text(encoding="utf-8"))
    assert caught.value.args[0] == manifest["fit_key"]
