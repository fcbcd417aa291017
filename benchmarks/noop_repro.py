"""A no-op ``dvc repro`` and ``dvc status`` of the default target: what checking costs when nothing changed.

The target is 5 s (issue 13). Run it on an up-to-date checkout (``dvc status``
clean) and a quiet machine; it refuses to time a checkout with stale stages,
and prints the load average before and after beside the figures.

    python benchmarks/noop_repro.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from sections import publish, seconds_table

ROOT = Path(__file__).resolve().parents[1]
DVC = str(Path(sys.executable).parent / "dvc")


def seconds(args: list[str], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` runs of ``dvc <args>`` from the project root."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([DVC, *args], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def stage_count() -> int:
    """Stages of every dvc.yaml in the project (what a plain ``dvc repro`` checks)."""
    import yaml

    files = [ROOT / "dvc.yaml", *sorted(ROOT.glob("pipelines/*/dvc.yaml"))]
    return sum(len(yaml.safe_load(f.read_text())["stages"]) for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    status = subprocess.run([DVC, "status"], cwd=ROOT, capture_output=True, text=True, check=False)
    if status.returncode != 0 or "up to date" not in status.stdout:
        parser.error("the checkout is not up to date (dvc status lists stages): run `dvc repro` first")
    before = os.getloadavg()[0]
    rows = [("`dvc repro`", seconds(["repro"], args.repeats)), ("`dvc status`", seconds(["status"], args.repeats))]
    after = os.getloadavg()[0]
    note = (f"{stage_count()} stages, {args.repeats} runs each; target 5 s;"
            f" 1-minute load average {before:.2f} before, {after:.2f} after.")
    publish("No-op dvc repro (default target)", seconds_table("command (nothing changed)", rows, note))


if __name__ == "__main__":
    main()
