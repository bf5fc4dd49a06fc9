"""Debian's headless Chromium as the browser checks launch it: no download, no traffic out.

The flags keep Chromium from reaching for Google's services at start (background networking,
component updates, sync), which this machine's closed network would refuse.
"""

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Any, profile: str, width: int) -> Any:
    """A headless Chromium context with its own profile folder, ``width`` pixels wide."""
    return playwright.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=FLAGS,
        viewport={"width": width, "height": 1000},
    )
