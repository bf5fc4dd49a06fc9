"""Debian's headless Chromium as the browser checks launch it: no download, no traffic out.

The flags keep Chromium from reaching for Google's services at start (background networking,
component updates, sync), which this machine's closed network would refuse.
"""

from pathlib import Path

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
