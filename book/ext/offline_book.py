"""Sphinx extension of the book: leave out sphinx-thebe's scripts.

Jupyter Book 1 always loads sphinx-thebe, whose page scripts name thebe's URL on unpkg.com
and are added twice, so that every page logs "Identifier 'THEBE_JS_URL' has already been
declared". The book runs no code in the browser (its explorers are static animations), so
its pages carry neither script.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _is_thebe(script: Any) -> bool:
    body = script.attributes.get("body", "") if hasattr(script, "attributes") else ""
    return "thebe" in str(getattr(script, "filename", "") or "") or "THEBE_JS_URL" in body


def drop_thebe(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Remove the thebe scripts from one page's ``script_files``."""
    context["script_files"] = [s for s in context.get("script_files", []) if not _is_thebe(s)]


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("html-page-context", drop_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
