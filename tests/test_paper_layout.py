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


# Loaded at \begin{document}: a line in the log for every page that LaTeX makes of floats alone
# (\@tryfcolumn while pages fill, \@makefcolumn at a \clearpage).
FLOAT_PAGE_HOOK = r"""\makeatletter
\let\fhn@tryfcolumn\@tryfcolumn
\def\@tryfcolumn#1{\fhn@tryfcolumn{#1}\if@fcolmade\typeout{FLOAT-ONLY PAGE \the\c@page}\fi}
\let\fhn@makefcolumn\@makefcolumn
\def\@makefcolumn#1{\fhn@makefcolumn{#1}\if@fcolmade\typeout{FLOAT-ONLY PAGE \the\c@page}\fi}
\makeatother
"""


def float_only_pages(log: str) -> list[int]:
    """Pages the hook reported as holding floats only."""
    return sorted({int(page) for page in re.findall(r"^FLOAT-ONLY PAGE (\d+)$", log, flags=re.M)})


@pytest.fixture(scope="module")
def paper_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The log of a LaTeX build of a copy of ``paper/`` with the committed figures."""
    if shutil.which("latexmk") is None:
        pytest.skip("latexmk is not installed")
    root = tmp_path_factory.mktemp("build")
    build = root / "paper"  # the sources only: no output of an earlier build in paper/
    shutil.copytree(PAPER / "generated", build / "generated")
    for source in ("main.tex", "references.bib"):
        shutil.copy(PAPER / source, build / source)
    shutil.copytree(ROOT / "figures", root / "figures")
    (build / "floatpages.tex").write_text(FLOAT_PAGE_HOOK)
    result = subprocess.run(
        ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error",
         r"-usepretex=\AtBeginDocument{\input{floatpages.tex}}", "main.tex"],
        cwd=build, capture_output=True, text=True, timeout=300,
    )
    log = (build / "main.log").read_text(encoding="latin-1")
    assert result.returncode == 0, log[-3000:]
    return log


def test_the_paper_builds_without_overfull_boxes(paper_log: str) -> None:
    assert not overfull_boxes(paper_log), overfull_boxes(paper_log)


def test_the_paper_has_no_page_of_figures_alone(paper_log: str) -> None:
    assert not float_only_pages(paper_log), f"pages of floats only: {float_only_pages(paper_log)}"


def test_float_only_pages_reads_the_hooks_lines() -> None:
    log = "x\nFLOAT-ONLY PAGE 13\nFLOAT-ONLY PAGE 3\nFLOAT-ONLY PAGE 3\n"
    assert float_only_pages(log) == [3, 13]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_the_hook_reports_a_page_of_floats(tmp_path: Path) -> None:
    (tmp_path / "floatpages.tex").write_text(FLOAT_PAGE_HOOK)
    (tmp_path / "t.tex").write_text(
        r"\documentclass{article}\begin{document}\input{floatpages.tex}Text."
        r"\begin{figure}[p]\rule{1cm}{1cm}\end{figure}\clearpage More.\end{document}"
    )
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "t.tex"], cwd=tmp_path,
                   capture_output=True, timeout=120, check=True)
    assert float_only_pages((tmp_path / "t.log").read_text(encoding="latin-1")) == [2]
