"""Numbers quoted in the paper.

Notebooks call :func:`record` for every number the write-up quotes. Each call updates
``paper/generated/numbers.json`` (name -> value, formatted text, source) and rewrites
``paper/generated/numbers.tex``, so the LaTeX source never holds a result typed by hand.
Both lie under :func:`fhnrnn._paths.output_root`: the paper's own folder only in runs that the
project starts (``make reproduce``), ``build/scratch/`` in a notebook run by hand.

The paper quotes a number as ``\\rec{name}``. ``numbers.tex`` defines ``\\rec`` and one
internal macro per number; a name that no notebook recorded stops the LaTeX build with an
error naming it (and ``tests/test_paper_sources.py`` catches it without LaTeX).

Processes that record at once (parallel notebooks or Snakemake jobs) take turns: each update
of the two files holds a lock on ``paper/generated/.numbers.lock``, so no update is lost.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from filelock import FileLock

from fhnrnn._paths import atomic_write_files, output_root

_NAME = re.compile(r"[A-Za-z]+")
_FIELDS = ("value", "text", "source")
_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\^{}",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "%": r"\%",
}


def generated_dir() -> Path:
    """Folder holding ``numbers.json`` and ``numbers.tex``."""
    return output_root() / "paper" / "generated"


def _as_scalar(value: object) -> object:
    """Unwrap a 0-d array (what numpy reductions often return) into a Python scalar."""
    if hasattr(value, "ndim") and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def _format(value: object, fmt: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"value must be a real number or a string, got {type(value).__name__}")
    if not isinstance(value, numbers.Integral) and not math.isfinite(_as_float(value)):
        raise ValueError(f"value must be finite, got {value!r}")
    try:
        return format(value, fmt)
    except OverflowError as error:
        raise ValueError(
            f"value is too large for fmt {fmt!r}, which formats it as a float (at most "
            f"{sys.float_info.max:.3g})"
        ) from error
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"fmt must be a format specification for {value!r} (such as '.3g' or 'd'), "
            f"got {fmt!r}: {error}"
        ) from error


def _as_float(value: numbers.Real) -> float:
    """``float(value)``; a ValueError when it is beyond the float range (a huge Fraction)."""
    try:
        return float(value)
    except OverflowError as error:
        raise ValueError(f"value {value} is beyond the range of a float") from error


def _latex_escape(text: str) -> str:
    """LaTeX that prints ``text`` on one line.

    Specials are escaped, each run of whitespace becomes one space and control characters are
    dropped, so neither a value nor a source can unbalance braces or start a new line.
    """
    one_line = " ".join(text.split())
    return "".join(_LATEX_SPECIALS.get(char, char) for char in one_line if char.isprintable())


def _corrupt(path: Path, reason: str) -> ValueError:
    return ValueError(
        f"{path} is not a numbers file written by fhnrnn.paper.record ({reason}); restore it "
        "with git, or delete it and rerun the notebooks that record numbers"
    )


def _read_entries(path: Path) -> dict[str, dict]:
    try:
        entries = json.loads(path.read_bytes().decode("utf-8"))
    except ValueError as error:
        raise _corrupt(path, f"not UTF-8 JSON: {error}") from error
    if not isinstance(entries, dict):
        raise _corrupt(path, f"it holds a JSON {type(entries).__name__}, not an object")
    for name, entry in entries.items():
        if not _is_entry(entry):
            raise _corrupt(path, f"entry {name!r} is not an object with fields {_FIELDS}")
    return entries


def _is_entry(entry: object) -> bool:
    """Whether ``entry`` has a value and the text and source strings that record writes."""
    return (
        isinstance(entry, dict)
        and set(_FIELDS) <= set(entry)
        and isinstance(entry["text"], str)
        and isinstance(entry["source"], str)
    )


def load_numbers(folder: Path | None = None) -> dict[str, dict]:
    """All recorded numbers in ``folder`` (default :func:`generated_dir`), as
    ``{name: {"value", "text", "source"}}``.

    Raises
    ------
    ValueError
        If ``numbers.json`` exists but is not such a table; the message names the file.
    """
    path = (generated_dir() if folder is None else folder) / "numbers.json"
    if not path.is_file():
        return {}
    return _read_entries(path)


_TEX_HEADER = r"""% Generated by fhnrnn.paper.record -- do not edit by hand.
\providecommand{\rec}[1]{%
  \ifcsname fhnrec@#1\endcsname\csname fhnrec@#1\endcsname
  \else\PackageError{fhnrnn}{No notebook recorded the number '#1'}{Run make reproduce}\fi}
"""


def _render_tex(entries: dict[str, dict]) -> str:
    lines = [_TEX_HEADER.rstrip("\n")]
    for name in sorted(entries):
        entry = entries[name]
        text = _latex_escape(entry["text"])
        source = _latex_escape(entry["source"])
        comment = f"  % from {source}" if source else ""
        lines.append(f"\\expandafter\\def\\csname fhnrec@{name}\\endcsname{{{text}}}{comment}")
    return "\n".join(lines) + "\n"


def record(name: str, value: float | int | str, fmt: str = ".3g", *, source: str = "") -> str:
    """Record a number for the paper and return its formatted text.

    Parameters
    ----------
    name : str
        Letters only; the paper quotes the number as ``\\rec{name}``.
    value : float, int or str
        The number (finite) or a ready-made string.
    fmt : str, default ".3g"
        A :func:`format` specification applied to numeric values.
    source : str, optional
        Where the number comes from (a notebook name), kept as a comment.

    Returns
    -------
    str
        The text that the paper will show.

    Raises
    ------
    ValueError
        If ``name`` is not letters only, ``value`` is not finite, ``fmt`` does not format
        ``value`` (e.g. an integer beyond the float range with a float format), ``source`` is
        not a string, or the existing ``numbers.json`` is corrupt; a message about ``value``
        or ``fmt`` names the record.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"name must be letters only (a LaTeX macro name), got {name!r}")
    if not isinstance(source, str):
        raise ValueError(f"source must be a string, got {source!r}")
    value = _as_scalar(value)
    try:
        text = _format(value, fmt)
    except ValueError as error:
        raise ValueError(f"{error} (record {name!r})") from error
    if isinstance(value, str | numbers.Integral):
        raw = value if isinstance(value, str) else int(value)
    else:
        raw = float(value)  # finite: _format checked it
    merge_numbers({name: {"value": raw, "text": text, "source": source}})
    return text


def merge_numbers(
    entries: dict[str, dict],
    folder: Path | None = None,
    *,
    with_files: Mapping[Path, bytes] | None = None,
    replace_sources: frozenset[str] = frozenset(),
) -> None:
    """Add recorded ``entries`` (as :func:`load_numbers` returns them) to ``folder``'s numbers.

    Rewrites ``numbers.json`` and ``numbers.tex`` in ``folder`` (default
    :func:`generated_dir`); names already there are replaced, and so are all the names of a
    source in ``replace_sources``: a notebook run again drops the names it no longer records.
    ``with_files`` (path -> bytes) are written in the same all-or-nothing step: either all of
    them and both numbers files change, or none does.
    """
    folder = generated_dir() if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / ".numbers.lock"):
        kept = {name: entry for name, entry in load_numbers(folder).items()
                if entry.get("source") not in replace_sources}
        merged = {**kept, **entries}
        as_json = json.dumps(merged, indent=1, sort_keys=True) + "\n"
        numbers_files = {
            folder / "numbers.json": as_json.encode("utf-8"),
            folder / "numbers.tex": _render_tex(merged).encode("utf-8"),
        }
        atomic_write_files({**(with_files or {}), **numbers_files})
