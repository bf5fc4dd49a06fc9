"""The package's progress bars: :func:`tqdm.auto.tqdm`, refreshed at most once a second.

Training and fixed-point searches run for minutes. A refresh a second is enough to watch, and
keeps a notebook kernel from flooding its output channel with widget messages (thousands of
them make nbval and papermill time out waiting for the cell's end).
"""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

REFRESH_SECONDS = 1.0


def progress_bar(*args: Any, **kwargs: Any) -> tqdm:
    """A :class:`tqdm.auto.tqdm` with ``mininterval=REFRESH_SECONDS`` unless given."""
    kwargs.setdefault("mininterval", REFRESH_SECONDS)
    return tqdm(*args, **kwargs)
