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
from fhnrnn.recipes import shipped_artifacts

FOLDER = Path(__file__).resolve().parents[1] / "artifacts"
SHIPPED = shipped_artifacts()
LIMIT_BYTES = 20 * 2**20
REFRESH = "refresh it with `python -m fhnrnn reproduce --retrain --refresh-artifacts`"
ENVIRONMENT = ("torch", "cpu_capability", "threads", "machine", "created", "sha256", "bytes")
NETWORK_FIELDS = (
    "recipe", "seed", "cell", "cell_version", "config", "updates", "train_seconds", "converged",
    "errors", "deterministic_algorithms",
)  # fmt: skip
RESULT_FIELDS = {
    "-fixedpoints": ("currents", "search", "search_version", "search_seconds", "scalars"),
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
    files = sorted(path.name for path in FOLDER.iterdir())
    expected = sorted(f"{name}{suffix}" for name in SHIPPED for suffix in (".json", ".safetensors"))
    assert files == expected
    total = sum(path.stat().st_size for path in FOLDER.iterdir())
    assert total <= LIMIT_BYTES, f"artifacts/ holds {total / 2**20:.1f} MiB (limit 20 MiB)"
