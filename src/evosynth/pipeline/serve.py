"""The warm server's process: ``python -P -m evosynth.pipeline.serve SOCKET PACKAGE`` serves the CLI's steps.

The one place that joins :mod:`evosynth.pipeline.warm` (forking, sockets) and
:mod:`evosynth.pipeline.cli` (the steps), so neither imports the other's caller.
:func:`evosynth.pipeline.warm.server_command` starts it; ``PACKAGE`` is the
evosynth package of the client, which the server must be running.
"""

from __future__ import annotations

import sys
from pathlib import Path

from evosynth.pipeline import warm
from evosynth.pipeline.cli import main as _cli_main


def main() -> None:
    warm.serve(Path(sys.argv[1]), _cli_main, package=Path(sys.argv[2]))


if __name__ == "__main__":
    main()
