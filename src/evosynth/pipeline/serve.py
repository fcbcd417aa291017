"""The warm server's process: ``python -m evosynth.pipeline.serve SOCKET`` serves the CLI's steps.

The one place that joins :mod:`evosynth.pipeline.warm` (forking, sockets) and
:mod:`evosynth.pipeline.cli` (the steps), so neither imports the other's caller.
"""

from __future__ import annotations

import sys
from pathlib import Path

from evosynth.pipeline import warm
from evosynth.pipeline.cli import main

if __name__ == "__main__":
    warm.serve(Path(sys.argv[1]), main)
