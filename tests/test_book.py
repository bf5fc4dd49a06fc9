"""The course website's sources (``book/``): what ``make book`` builds from, checked fast.

The build itself and the pages in a browser are checked by ``make book-test``.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _chapters(toc: dict) -> list[str]:
    return [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]


def test_the_book_has_a_page_for_every_numbered_notebook() -> None:
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text(encoding="utf-8"))
    notebooks = sorted(
        f"notebooks/{path.stem}" for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    listed = [name for name in _chapters(toc) if name.startswith("notebooks/")]
    assert listed == notebooks
    pages = [toc["root"], *(name for name in _chapters(toc) if not name.startswith("notebooks/"))]
    assert all((BOOK / f"{page}.md").is_file() for page in pages)


def test_the_book_executes_nothing_and_loads_mathjax_from_itself() -> None:
    config = yaml.safe_load((BOOK / "_config.yml").read_text(encoding="utf-8"))
    assert config["execute"]["execute_notebooks"] == "off"
    sphinx = config["sphinx"]["config"]
    assert not re.match(r"[a-z]+:|//", sphinx["mathjax_path"])  # relative: no CDN
    assert sphinx["nb_ipywidgets_js"] == {}  # no require.js or widget manager from a CDN
    assert not (BOOK / "_static").exists()  # Jupyter Book would load every .js in it


def test_the_software_page_includes_sections_the_readme_has() -> None:
    page = (BOOK / "software.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    anchors = re.findall(r'^:(?:start-after|end-before): "(.*)"$', page, re.MULTILINE)
    assert len(anchors) == 2
    assert all(anchor.replace('\\"', '"') in readme for anchor in anchors)
