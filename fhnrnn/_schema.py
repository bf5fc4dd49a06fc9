"""A small declarative schema for the JSON manifests: required keys, types, allowed values.

A schema maps each key to a :class:`Field`. :func:`manifest_problem` says which key of a
manifest does not fit it (:func:`fhnrnn._store.read_entry` raises that as an
:class:`~fhnrnn._store.EntryError` naming the file), so that a hand-edited or truncated
manifest (``"train_seconds": "n/a"``, ``"converged": "false"``, a missing key) is reported as
such instead of being misread or failing deep inside a loader. Keys that the schema does not
name are allowed (a manifest may carry more than a loader reads).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


# kind -> (test, what it means in an error message)
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda value: isinstance(value, str), "a string"),
    "bool": (lambda value: isinstance(value, bool), "true or false"),
    "int": (_is_int, "an integer"),
    "count": (lambda value: _is_int(value) and value >= 0, "a non-negative integer"),
    "number": (_is_number, "a finite number"),
    "seconds": (lambda value: _is_number(value) and value >= 0, "a finite number >= 0"),
    "sha256": (
        lambda value: isinstance(value, str) and _SHA256.fullmatch(value) is not None,
        "a SHA-256 in 64 lowercase hex digits",
    ),
    "object": (lambda value: isinstance(value, dict), "a JSON object"),
    "list": (lambda value: isinstance(value, list), "a JSON array"),
}


@dataclass(frozen=True)
class Field:
    """What one key of a manifest must hold.

    Attributes
    ----------
    kind : str
        One of ``str``, ``bool``, ``int``, ``count``, ``number``, ``seconds``, ``sha256``,
        ``object``, ``list``.
    required : bool
        Whether the key must be present.
    allowed : tuple or None
        The only values allowed, if any.
    nullable : bool
        Whether ``null`` is allowed.
    items : Field or None
        For an ``object`` or ``list``: what each value (or element) must hold.
    """

    kind: str
    required: bool = True
    allowed: tuple[Any, ...] | None = None
    nullable: bool = False
    items: Field | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {self.kind!r}")
        if self.items is not None and self.kind not in ("object", "list"):
            raise ValueError(f"items needs kind 'object' or 'list', got {self.kind!r}")

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit, in words, or None when it does."""
        if value is None and self.nullable:
            return None
        test, meaning = _KINDS[self.kind]
        if not test(value):
            return f"must be {meaning}{' or null' if self.nullable else ''}, got {value!r}"
        if self.allowed is not None and value not in self.allowed:
            return f"must be one of {list(self.allowed)}, got {value!r}"
        if self.items is None:
            return None
        entries = value.items() if isinstance(value, dict) else enumerate(value)
        for label, item in entries:
            if (reason := self.items.problem(item)) is not None:
                return f"[{label!r}] {reason}"
        return None


Schema = Mapping[str, Field]


def manifest_problem(manifest: Mapping[str, Any], schema: Schema) -> str | None:
    """The first key of ``schema`` that ``manifest`` lacks or that does not fit, in words
    (``"key 'converged' must be true or false, got 'false'"``); None when all fit."""
    for key, field in schema.items():
        if key not in manifest:
            if field.required:
                return f"key {key!r} is missing (expected {_KINDS[field.kind][1]})"
            continue
        if (reason := field.problem(manifest[key])) is not None:
            return f"key {key!r} {reason}"
    return None
