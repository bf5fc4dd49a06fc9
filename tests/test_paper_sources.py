"""The paper quotes only recorded numbers and includes only figures that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "paper" / "main.tex"


def _source_without_comments() -> str:
    lines = PAPER.read_text(encoding="utf-8").splitlines()
    return "\n".join(re.sub(r"(?<!\\)%.*", "", line) for line in lines)


def quoted_numbers(source: str) -> set[str]:
    """Names quoted as ``\\rec{name}``."""
    return set(re.findall(r"\\rec\{([^}]*)\}", source))


def included_figures(source: str) -> set[str]:
    """Files named by ``\\includegraphics``."""
    return set(re.findall(r"\\includegraphics(?:\[[^\]]*\])?\{([^}]*)\}", source))


def test_parsers_find_what_they_are_meant_to() -> None:
    source = r"a \rec{hopfLow} b \includegraphics[width=1cm]{x.pdf} \includegraphics{y.pdf}"
    assert quoted_numbers(source) == {"hopfLow"}
    assert included_figures(source) == {"x.pdf", "y.pdf"}


def test_every_quoted_number_was_recorded_by_a_notebook() -> None:
    recorded = json.loads((ROOT / "paper" / "generated" / "numbers.json").read_text())
    quoted = quoted_numbers(_source_without_comments())
    assert quoted, "the paper quotes no recorded number"
    missing = sorted(quoted - set(recorded))
    assert not missing, f"paper/main.tex quotes numbers no notebook records: {missing}"


@pytest.mark.parametrize("name", sorted(included_figures(_source_without_comments())))
def test_every_included_figure_exists(name: str) -> None:
    assert (ROOT / "figures" / name).is_file(), f"figures/{name} does not exist"


def test_the_paper_types_no_number_into_its_results() -> None:
    """Decimal numbers in the prose must come through \\rec (integers like 100 may stand)."""
    body = _source_without_comments().split(r"\begin{document}", 1)[1]
    body = re.sub(
        r"\\(begin|end|label|ref|cite[pt]?|includegraphics)(\[[^\]]*\])?\{[^}]*\}", "", body
    )
    typed = re.findall(r"(?<![\w.])\d+\.\d{3,}", body)
    assert not typed, f"numbers with three or more decimals typed by hand: {typed}"


def test_every_recorded_number_is_still_recorded_by_a_notebook() -> None:
    """A name left over from an older notebook would let the paper quote a stale number."""
    recorded = json.loads((ROOT / "paper" / "generated" / "numbers.json").read_text())
    notebooks = "".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "notebooks").glob("*.ipynb")
    )
    stale = sorted(name for name in recorded if f'"{name}"' not in notebooks.replace('\\"', '"'))
    assert not stale, f"numbers.json holds names no notebook records any more: {stale}"
