"""Where outputs and caches live.

Outputs (``figures/``, ``paper/generated/``) go under :func:`output_root`; trained models are
cached under :func:`cache_dir`. Both default to places inside the project checkout and can be
redirected with environment variables, which the test suite and ``reproduce --quick`` use so
that a smoke run never overwrites the paper's figures.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

OUTPUT_ROOT_ENV = "FHNRNN_OUTPUT_ROOT"
CACHE_DIR_ENV = "FHNRNN_CACHE_DIR"


def project_root() -> Path:
    """The checkout holding ``pyproject.toml``, searched upwards from the working folder.

    Falls back to the working folder when no checkout encloses it.
    """
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "fhnrnn").is_dir():
            return folder
    return here


def output_root() -> Path:
    """Folder under which ``figures/`` and ``paper/generated/`` are written."""
    configured = os.environ.get(OUTPUT_ROOT_ENV)
    return Path(configured) if configured else project_root()


def cache_dir() -> Path:
    """Folder holding cached trained models (``build/cache`` by default)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured) if configured else project_root() / "build" / "cache"


def _default_file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask); mkstemp uses 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file, and an interrupted write leaves the old file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text counterpart of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))
