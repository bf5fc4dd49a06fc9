"""Tensor files with a JSON manifest: the one storage format of trained weights.

An entry ``NAME`` in a folder is two files:

- ``NAME.safetensors``: the tensors (safetensors: no pickle, and the same bytes for the same
  tensors, so a rewrite of unchanged weights does not churn);
- ``NAME.json``: the manifest, a JSON object holding at least ``sha256``, the SHA-256 of the
  tensor file.

The training cache (``build/cache/fit/``) and the shipped artifacts (``artifacts/``) are both
folders of such entries. Writes are atomic (tensors first, manifest last, so a reader that
finds a manifest finds the tensors it describes); reads check the checksum before they
deserialise anything.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import Tensor

from fhnrnn._paths import atomic_write_bytes, atomic_write_text
from fhnrnn._schema import Schema, manifest_problem


class EntryError(ValueError):
    """An entry that exists but cannot be used; the message says which file and why."""


def entry_paths(folder: Path, name: str) -> tuple[Path, Path]:
    """``(tensor file, manifest)`` of entry ``name`` in ``folder``."""
    return folder / f"{name}.safetensors", folder / f"{name}.json"


def write_entry(folder: Path, name: str, tensors: dict[str, Tensor], manifest: dict) -> dict:
    """Store ``tensors`` and ``manifest`` (plus ``sha256`` and ``bytes``) as entry ``name``.

    Returns the manifest as written.
    """
    tensor_path, manifest_path = entry_paths(folder, name)
    cpu = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    blob = safetensors.torch.save(cpu)
    atomic_write_bytes(tensor_path, blob)
    written = {**manifest, "sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
    atomic_write_text(manifest_path, json.dumps(written, indent=1, sort_keys=True) + "\n")
    return written


def read_manifest(folder: Path, name: str) -> dict[str, Any] | None:
    """The manifest of entry ``name``, or None when there is none.

    Raises
    ------
    EntryError
        If the manifest exists but is not a JSON object.
    """
    _, manifest_path = entry_paths(folder, name)
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EntryError(f"{manifest_path}: unreadable manifest ({error})") from error
    if not isinstance(manifest, dict):
        raise EntryError(f"{manifest_path}: the manifest is not a JSON object")
    return manifest


def read_tensors(folder: Path, name: str, manifest: dict[str, Any]) -> dict[str, Tensor]:
    """The tensors of entry ``name``, after checking them against ``manifest["sha256"]``.

    Raises
    ------
    EntryError
        If the tensor file is missing, does not match its checksum, or is not safetensors.
    """
    tensor_path, _ = entry_paths(folder, name)
    try:
        blob = tensor_path.read_bytes()
    except OSError as error:
        raise EntryError(f"{tensor_path}: cannot be read ({error.strerror})") from error
    if hashlib.sha256(blob).hexdigest() != manifest.get("sha256"):
        raise EntryError(f"{tensor_path}: the file does not match the sha256 of its manifest")
    try:
        return safetensors.torch.load(blob)
    except Exception as error:  # safetensors raises its own error types on a corrupt header
        raise EntryError(f"{tensor_path}: not a safetensors file ({error})") from error


def read_entry(
    folder: Path, name: str, expected: dict[str, Any], mismatch: str, schema: Schema
) -> tuple[dict[str, Tensor], dict[str, Any]] | None:
    """Entry ``name`` when its manifest fits ``schema`` and carries the ``expected`` fields.

    Returns ``(tensors, manifest)``, or None when there is no manifest.

    Raises
    ------
    EntryError
        Naming the manifest and the key when a key of ``schema`` is missing or does not fit
        it; with the message ``mismatch`` when a field of ``expected`` differs (e.g. the entry
        was made from other inputs); as :func:`read_manifest` and :func:`read_tensors`
        otherwise.
    """
    manifest = read_manifest(folder, name)
    if manifest is None:
        return None
    if (problem := manifest_problem(manifest, schema)) is not None:
        raise EntryError(f"{entry_paths(folder, name)[1]}: {problem}")
    if any(manifest.get(field) != value for field, value in expected.items()):
        raise EntryError(mismatch)
    return read_tensors(folder, name, manifest), manifest


def pop_history(tensors: dict[str, Tensor], source: Path) -> list[float]:
    """Remove the loss history (a non-empty 1-D tensor) from ``tensors`` and return it.

    Raises
    ------
    EntryError
        If there is none (naming ``source``).
    """
    history = tensors.pop("history", None)
    if history is None or history.ndim != 1 or history.numel() == 0:
        raise EntryError(f"{source}: the entry holds no loss history")
    return history.double().tolist()


def load_state(model: torch.nn.Module, state: dict[str, Tensor], source: Path) -> None:
    """Copy ``state`` into ``model`` after checking names, shapes and dtypes.

    Raises
    ------
    EntryError
        If ``state`` does not fit ``model`` (naming ``source``).
    """
    current = model.state_dict()
    if set(state) != set(current) or any(
        state[key].shape != current[key].shape or state[key].dtype != current[key].dtype
        for key in current
    ):
        raise EntryError(f"{source}: the stored tensors do not fit the model")
    reference = next(model.parameters())
    model.load_state_dict({key: value.to(reference.device) for key, value in state.items()})
