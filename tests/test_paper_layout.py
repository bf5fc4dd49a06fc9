"""The paper's layout: a short abstract that quotes only recorded numbers, and a LaTeX build
with no overfull box (skipped where latexmk is not installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "paper"
MAX_ABSTRACT_WORDS = 200


def abstract_words(tex: str) -> list[str]:
    """Words of the abstract; a citation counts as none, a quoted number ``\\rec{}`` as one."""
    text = tex.split(r"\begin{abstract}", 1)[1].split(r"\end{abstract}", 1)[0]
    text = re.sub(r"(?<!\\)%.*", "", text)
    text = re.sub(r"\\cite[pt]?\{[^}]*\}", "", text)
    text = re.sub(r"\\rec\{[^}]*\}(\\,\\%)?", "NUMBER", text)
    return text.split()


def test_abstract_words_counts_a_quoted_number_as_one_word() -> None:
    tex = r"\begin{abstract}We cite \citep{x} and quote \rec{y}\,\% here.\end{abstract}"
    assert abstract_words(tex) == ["We", "cite", "and", "quote", "NUMBER", "here."]


def test_the_abstract_is_short_and_types_no_number() -> None:
    words = abstract_words((PAPER / "main.tex").read_text(encoding="utf-8"))
    assert len(words) <= MAX_ABSTRACT_WORDS, f"the abstract has {len(words)} words"
    typed = [word for word in words if re.search(r"\d", word)]
    assert not typed, f"numbers typed into the abstract instead of \\rec{{}}: {typed}"


def overfull_boxes(log: str) -> list[str]:
    """The ``Overfull \\hbox`` / ``\\vbox`` warnings of a LaTeX log."""
    return re.findall(r"^Overfull \\[hv]box.*$", log, flags=re.M)


def test_overfull_boxes_finds_the_warnings_of_a_log() -> None:
    log = "x\nOverfull \\hbox (3.1pt too wide) in paragraph at lines 5--9\nUnderfull \\hbox\n"
    assert overfull_boxes(log) == ["Overfull \\hbox (3.1pt too wide) in paragraph at lines 5--9"]


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk is not installed")
def test_the_paper_builds_without_overfull_boxes(tmp_path: Path) -> None:
    build = tmp_path / "paper"
    shutil.copytree(PAPER, build, ignore=shutil.ignore_patterns("*.pdf", "*.aux", "*.log"))
    shutil.copytree(ROOT / "figures", tmp_path / "figures")
    result = subprocess.run(
        ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=build, capture_output=True, text=True, timeout=300,
    )
    log = (build / "main.log").read_text(encoding="latin-1")
    assert result.returncode == 0, log[-3000:]
    assert not overfull_boxes(log), overfull_boxes(log)
