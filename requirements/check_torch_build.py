"""Print which torch build pip would install from the given indexes, and from where.

``make torch-check`` runs it with the index options and torch pin of ``make setup``:

    python requirements/check_torch_build.py --index-url URL --extra-index-url URL torch==X

pip resolves the pin with ``--dry-run --report`` and nothing else: no configuration file, no
``PIP_*`` variable (so no local wheel directory or other index of this machine), no installed
package. Nothing is downloaded but the index pages (and the wheel, where the index offers no
metadata file). Prints ``torch VERSION from URL``; exits 1 when torch is not resolved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path


def clean_environment() -> dict[str, str]:
    """This process's environment without pip's settings: no config file, no ``PIP_*``."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    environment["PIP_CONFIG_FILE"] = os.devnull
    return environment


def resolve(pip_arguments: Sequence[str]) -> list[dict]:
    """The ``install`` entries of pip's report for ``pip install --dry-run PIP_ARGUMENTS``."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        dry_run = ["--dry-run", "--ignore-installed", "--no-deps", "--quiet"]
        command = [sys.executable, "-m", "pip", "install", *dry_run, "--report", str(report)]
        command += pip_arguments
        subprocess.run(command, check=True, env=clean_environment())
        return json.loads(report.read_text(encoding="utf-8"))["install"]


def main(argv: Sequence[str] | None = None) -> int:
    """Resolve ``argv`` (pip's index options and the torch pin) and print the torch chosen."""
    resolved = resolve(sys.argv[1:] if argv is None else argv)
    chosen = [item for item in resolved if item["metadata"]["name"].lower() == "torch"]
    if not chosen:
        print("torch was not resolved", file=sys.stderr)
        return 1
    print(f"torch {chosen[0]['metadata']['version']} from {chosen[0]['download_info']['url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
