"""Figures: one style, and :func:`save_figure` as the only way a figure reaches ``figures/``."""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from fhnrnn._paths import atomic_write_bytes, output_root

STYLE_PATH = Path(__file__).with_name("fhnrnn.mplstyle")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
# Fixed metadata: a rerun that draws the same figure writes the same bytes.
_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def use_style() -> None:
    """Apply the project's matplotlib style (call once at the top of a notebook)."""
    plt.style.use(STYLE_PATH)


def figures_dir() -> Path:
    """Folder that :func:`save_figure` writes to."""
    return output_root() / "figures"


def save_figure(fig: Figure, name: str, *, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Write ``fig`` to ``figures/NAME.png`` and ``figures/NAME.pdf``.

    Files are written atomically with fixed metadata, so rerunning a notebook that draws the
    same figure leaves the bytes unchanged.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    name : str
        File stem: letters, digits, ``_`` and ``-``.
    formats : tuple of str, default ("png", "pdf")
        File formats to write.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be letters, digits, '_' or '-', got {name!r}")
    unknown = set(formats) - set(_METADATA)
    if unknown or not formats:
        raise ValueError(f"formats must be drawn from {sorted(_METADATA)}, got {formats!r}")
    written = []
    for fmt in formats:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, metadata=_METADATA[fmt])
        path = figures_dir() / f"{name}.{fmt}"
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written
