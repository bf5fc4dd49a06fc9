"""Where outputs and caches live.

Outputs (``figures/``, ``paper/generated/``) go under :func:`output_root`; trained models are
cached under :func:`cache_dir`. Only runs that the project starts write the paper's files:
``python -m fhnrnn reproduce`` (``make reproduce``) stages each notebook's outputs and lands
them in the checkout, or under ``FHNRNN_OUTPUT_ROOT`` when that is set. A notebook run by hand,
with ``FHNRNN_OUTPUT_ROOT`` unset, writes under :func:`scratch_root` (``build/scratch/``), so
an exercise never rewrites the committed figures and numbers.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
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


def scratch_root() -> Path:
    """Where a notebook run by hand writes: ``build/scratch/`` of the checkout (git ignores it)."""
    return project_root() / "build" / "scratch"


def output_root() -> Path:
    """Folder under which ``figures/`` and ``paper/generated/`` are written.

    ``FHNRNN_OUTPUT_ROOT`` when set (the project's own runs set it); otherwise
    :func:`scratch_root`, never the checkout's own ``figures/`` and ``paper/generated/``.
    """
    configured = os.environ.get(OUTPUT_ROOT_ENV)
    return Path(configured) if configured else scratch_root()


def cache_dir() -> Path:
    """Folder holding cached trained models (``build/cache`` by default)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured) if configured else project_root() / "build" / "cache"


def _default_file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask); mkstemp uses 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_files(files: Mapping[Path, bytes]) -> None:
    """Write several files all or nothing: every file lands, or none changes.

    Each file is first written to a temporary file beside it; only when all of them are
    written (so every folder exists and is writable, and the disk had room) are they renamed
    into place. A failure before that removes the temporary files and leaves every old file.
    The renames need no room and no rights beyond those the temporary files needed, so only
    another process changing the folders meanwhile could stop them half way.

    Parameters
    ----------
    files : mapping of Path to bytes
        Destination path -> content.
    """
    pending: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            if path.is_dir():
                raise IsADirectoryError(f"{path} is a folder, not a file that can be replaced")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            pending.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, _default_file_mode())
        for tmp, path in pending:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in pending:
            Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file, and an interrupted write leaves the old file.
    """
    atomic_write_files({path: data})


def atomic_write_text(path: Path, text: str) -> None:
    """Text counterpart of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))
