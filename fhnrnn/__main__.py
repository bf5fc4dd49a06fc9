"""``python -m fhnrnn reproduce ...`` and ``python -m fhnrnn ensemble ...``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from fhnrnn import reproduce
from fhnrnn.ensemble import cli as ensemble_cli

_COMMANDS = {"reproduce": reproduce.main, "ensemble": ensemble_cli.main}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``python -m fhnrnn COMMAND ...`` to the command's own parser."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in _COMMANDS:
        print(f"usage: python -m fhnrnn {{{','.join(_COMMANDS)}}} [options]", file=sys.stderr)
        return 2
    return _COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
