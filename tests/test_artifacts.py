"""Shipped networks: loaded when they match their recipe, retrained with a warning otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from fhnrnn import artifacts
from fhnrnn._schema import Field
from fhnrnn.artifacts import ArtifactWarning, obtain, recipe_key, trained
from fhnrnn.models import TanhRNN
from fhnrnn.tasks import sine_wave
from fhnrnn.training import FitResult, fit

RECIPE = {"hidden_size": 8, "epochs": 3, "threads": 1}
TASK = sine_wave(4, n_steps=20)


@pytest.fixture(autouse=True)
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FHNRNN_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("FHNRNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FHNRNN_RETRAIN", raising=False)
    monkeypatch.delenv("FHNRNN_REFRESH_ARTIFACTS", raising=False)
    return tmp_path / "artifacts"


def _cell(seed: int = 0) -> TanhRNN:
    return TanhRNN(1, 1, RECIPE["hidden_size"], seed=seed)


def _trainer(model: TanhRNN, calls: list[int]) -> Callable[[], FitResult]:
    def train() -> FitResult:
        calls.append(1)
        return fit(
            model,
            TASK.inputs,
            TASK.targets,
            seed=0,
            max_epochs=RECIPE["epochs"],
            target_loss=0.0,
            lr=1e-2,
            cache=False,
            progress=False,
        )

    return train


def _errors(result: FitResult) -> dict[str, float | None]:
    return {"train_mse": result.history[-1], "held_out_mse": None}


def _ship_one(monkeypatch: pytest.MonkeyPatch) -> tuple[TanhRNN, FitResult]:
    monkeypatch.setenv("FHNRNN_REFRESH_ARTIFACTS", "1")
    model = _cell()
    with pytest.warns(ArtifactWarning, match="no shipped network"):
        result = obtain("net", model, RECIPE, 0, _trainer(model, []), _errors)
    monkeypatch.delenv("FHNRNN_REFRESH_ARTIFACTS")
    return model, result


def test_recipe_key_changes_with_every_part_of_the_recipe() -> None:
    base = recipe_key("net", RECIPE, TanhRNN, 0)
    assert base == recipe_key("net", dict(reversed(RECIPE.items())), TanhRNN, 0)
    assert base != recipe_key("net", {**RECIPE, "epochs": 4}, TanhRNN, 0)
    assert base != recipe_key("net", RECIPE, TanhRNN, 1)
    assert base != recipe_key("other", RECIPE, TanhRNN, 0)

    class Changed(TanhRNN):
        VERSION = 2

    Changed.__qualname__ = TanhRNN.__qualname__
    assert base != recipe_key("net", RECIPE, Changed, 0)


def test_missing_artifact_trains_with_a_warning_and_writes_nothing(folders: Path) -> None:
    calls: list[int] = []
    model = _cell()
    with pytest.warns(ArtifactWarning, match="no shipped network 'net'"):
        result = obtain("net", model, RECIPE, 0, _trainer(model, calls), _errors)
    assert calls == [1] and result.artifact is None
    assert not folders.exists(), "only a refresh may write artifacts"


def test_refresh_ships_a_manifest_and_a_later_run_loads_it(
    monkeypatch: pytest.MonkeyPatch, folders: Path
) -> None:
    model, result = _ship_one(monkeypatch)
    manifest = json.loads((folders / "net.json").read_text())
    for field in (
        "key",
        "recipe",
        "seed",
        "train_seconds",
        "updates",
        "torch",
        "cpu_capability",
        "threads",
        "sha256",
        "errors",
        "fit_key",
        "created",
    ):
        assert field in manifest, field
    assert manifest["key"] == recipe_key("net", RECIPE, TanhRNN, 0)
    assert manifest["threads"] == 1 and manifest["updates"] == result.epochs

    calls: list[int] = []
    fresh = _cell()
    loaded = obtain("net", fresh, RECIPE, 0, _trainer(fresh, calls), _errors)
    assert calls == [] and loaded.artifact == "net" and loaded.from_cache
    assert loaded.history == result.history
    for name, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name


def test_a_non_finite_error_is_shipped_as_null_and_the_manifest_reads_back(
    folders: Path,
) -> None:
    """A network that diverges on its held-out data (found in the ensemble:
    paper-rot90_200-transient-s5) must not write a manifest its own reader refuses."""
    result = _trainer(_cell(), [])()
    artifacts.ship("net", result, "key", recipe=RECIPE, seed=0,
                   errors={"train_mse": 0.5, "held_out_mse": float("inf")}, folder=folders)
    manifest = json.loads((folders / "net.json").read_text())
    assert manifest["errors"] == {"train_mse": 0.5, "held_out_mse": None}


def test_a_changed_recipe_retrains_and_keeps_the_shipped_file(
    monkeypatch: pytest.MonkeyPatch, folders: Path
) -> None:
    _ship_one(monkeypatch)
    before = (folders / "net.safetensors").read_bytes()
    calls: list[int] = []
    model = _cell()
    with pytest.warns(ArtifactWarning, match="another version of its recipe"):
        obtain("net", model, {**RECIPE, "epochs": 2}, 0, _trainer(model, calls), _errors)
    assert calls == [1]
    assert (folders / "net.safetensors").read_bytes() == before


def test_a_file_that_fails_its_checksum_is_never_used(
    monkeypatch: pytest.MonkeyPatch, folders: Path
) -> None:
    _ship_one(monkeypatch)
    weights = folders / "net.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 1
    weights.write_bytes(bytes(blob))
    calls: list[int] = []
    model = _cell()
    with pytest.warns(ArtifactWarning, match=r"net\.safetensors: the file does not match"):
        result = trained(
            "net", model, recipe_key("net", RECIPE, TanhRNN, 0), _trainer(model, calls)
        )
    assert calls == [1] and result.artifact is None


def test_retrain_ignores_the_shipped_network(monkeypatch: pytest.MonkeyPatch) -> None:
    _ship_one(monkeypatch)
    monkeypatch.setenv("FHNRNN_RETRAIN", "1")
    calls: list[int] = []
    model = _cell()
    result = obtain("net", model, RECIPE, 0, _trainer(model, calls), _errors)
    assert calls == [1] and result.artifact is None


def test_manifests_lists_the_shipped_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    _ship_one(monkeypatch)
    assert [manifest["name"] for manifest in artifacts.manifests()] == ["net"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("train_seconds"), "key 'train_seconds' is missing"),
        (lambda m: m.update(train_seconds="n/a"), "key 'train_seconds' must be a finite number"),
        (lambda m: m.update(converged="false"), "key 'converged' must be true or false"),
        (lambda m: m.update(updates=-3), "key 'updates' must be a non-negative integer"),
        (lambda m: m.update(errors={"train_mse": "low"}), r"key 'errors' \['train_mse'\]"),
        (lambda m: m.update(sha256="abc"), "key 'sha256' must be a SHA-256"),
        (lambda m: m.update(format=True), "key 'format' must be an integer"),
    ],
)
def test_a_malformed_manifest_is_reported_naming_the_file_and_the_key(
    monkeypatch: pytest.MonkeyPatch, folders: Path, edit, message: str
) -> None:
    _ship_one(monkeypatch)
    path = folders / "net.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    calls: list[int] = []
    model = _cell()
    with pytest.warns(ArtifactWarning, match=rf"net\.json: {message}"):
        result = obtain("net", model, RECIPE, 0, _trainer(model, calls), _errors)
    assert calls == [1] and result.artifact is None


def test_results_are_checked_against_the_fields_their_loader_reads(
    monkeypatch: pytest.MonkeyPatch, folders: Path
) -> None:
    monkeypatch.setenv("FHNRNN_REFRESH_ARTIFACTS", "1")
    key = "0" * 64
    artifacts.ship_results("points", key, {"x": torch.zeros(2)}, {"seconds": 1.5})
    schema = {"seconds": Field("seconds")}
    assert artifacts.load_results("points", key, schema) is not None
    path = folders / "points.json"
    path.write_text(path.read_text().replace("1.5", '"soon"'))
    with pytest.warns(ArtifactWarning, match=r"points\.json: key 'seconds' must be"):
        assert artifacts.load_results("points", key, schema) is None
