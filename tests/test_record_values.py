"""record validates its value against the chosen format and names the record on error."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from fhnrnn._paths import OUTPUT_ROOT_ENV
from fhnrnn.paper import load_numbers, record


@pytest.fixture
def output_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(OUTPUT_ROOT_ENV, str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(
    ("value", "fmt", "reason"),
    [
        (10**400, ".3g", "too large for fmt"),
        (-(10**400), ".2f", "too large for fmt"),
        (Fraction(10**400, 3), ".3g", "beyond the range of a float"),
        (np.float64("inf"), ".3g", "finite"),
        (float("nan"), "d", "finite"),
        (3.5, "d", "fmt must be a format specification"),
    ],
)
def test_a_value_the_format_cannot_show_is_refused_naming_the_record(
    output_root: Path, value: object, fmt: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=rf"{reason}.*\(record 'huge'\)"):
        record("huge", value, fmt)
    assert load_numbers() == {}, "nothing is written for a refused value"


def test_an_integer_beyond_the_float_range_is_kept_exactly_with_an_integer_format(
    output_root: Path,
) -> None:
    assert record("count", 10**400, "d") == str(10**400)
    assert load_numbers()["count"]["value"] == 10**400
