"""The networks the committed notebooks analyse are shipped, made by today's recipes.

Without them nbval would retrain every network (about ten minutes on two cores) and, on a CPU
other than the one that trained them, get other networks and fail. These checks say so in a
second, naming the artifact and the way to refresh it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fhnrnn.artifacts import ARTIFACT_FORMAT
from fhnrnn.ensemble import design, run_key
from fhnrnn.recipes import shipped_artifacts

FOLDER = Path(__file__).resolve().parents[1] / "artifacts"
SHIPPED = shipped_artifacts()
LIMIT_BYTES = 20 * 2**20  # the notebooks' networks and results
ALL_ARTIFACTS_LIMIT = 100 * 10**6  # with the ensemble's networks (issue 22)
REFRESH = "refresh it with `python -m fhnrnn reproduce --retrain --refresh-artifacts`"
ENVIRONMENT = ("torch", "cpu_capability", "threads", "machine", "created", "sha256", "bytes")
NETWORK_FIELDS = (
    "recipe", "seed", "cell", "cell_version", "config", "updates", "train_seconds", "converged",
    "errors", "deterministic_algorithms",
)  # fmt: skip
RESULT_FIELDS = {
    "-fixedpoints": ("currents", "route", "search", "search_version", "search_seconds",
                     "scalars"),
    "-branch": ("continuation", "branch_version", "bifurcations", "stop_reasons",
                "continuation_seconds"),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_analysed_network_and_result_is_shipped_by_its_current_recipe(name: str) -> None:
    manifest_path = FOLDER / f"{name}.json"
    assert manifest_path.is_file(), f"artifacts/{name}.json is missing: {REFRESH}"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["format"] == ARTIFACT_FORMAT
    assert manifest["key"] == SHIPPED[name], f"{name} was made by another recipe: {REFRESH}"
    kind = next((suffix for suffix in RESULT_FIELDS if name.endswith(suffix)), None)
    fields = NETWORK_FIELDS if kind is None else RESULT_FIELDS[kind]
    missing = [field for field in (*ENVIRONMENT, *fields) if field not in manifest]
    assert not missing, f"{name}.json lacks {missing}"
    blob = (FOLDER / f"{name}.safetensors").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == manifest["sha256"], f"{name}: checksum differs"


def test_the_artifacts_are_small_and_nothing_else_is_there() -> None:
    files = sorted(path.name for path in FOLDER.iterdir() if path.is_file())
    expected = sorted(f"{name}{suffix}" for name in SHIPPED for suffix in (".json", ".safetensors"))
    assert files == expected
    assert sorted(path.name for path in FOLDER.iterdir() if path.is_dir()) in ([], ["ensemble"])
    total = sum(path.stat().st_size for path in FOLDER.iterdir() if path.is_file())
    assert total <= LIMIT_BYTES, f"artifacts/ holds {total / 2**20:.1f} MiB (limit 20 MiB)"


def test_every_shipped_ensemble_network_is_a_run_of_the_design_made_by_its_recipe() -> None:
    folder = FOLDER / "ensemble"
    manifests = sorted(folder.glob("*.json")) if folder.is_dir() else []
    runs = {spec.run_id: spec for spec in design()}
    assert sorted(path.name for path in folder.glob("*")) == sorted(
        f"{path.stem}{suffix}" for path in manifests for suffix in (".json", ".safetensors"))
    for path in manifests:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        assert path.stem in runs, f"{path.name} is not a run of fhnrnn.ensemble.design()"
        assert manifest["key"] == run_key(runs[path.stem]), f"{path.name}: another recipe"
        blob = path.with_suffix(".safetensors").read_bytes()
        assert hashlib.sha256(blob).hexdigest() == manifest["sha256"], f"{path.name}: checksum"
    total = sum(path.stat().st_size for path in FOLDER.rglob("*") if path.is_file())
    assert total <= ALL_ARTIFACTS_LIMIT, f"artifacts/ holds {total / 2**20:.1f} MiB in all"
