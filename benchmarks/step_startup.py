"""Per-step start-up: one cheap step (an encode, 0.04 s of compute) in its own process vs in the warm server.

Every DVC stage is one ``evosynth`` process; the default pipeline has ~350 of
them, so what a step costs before it computes decides the pipeline's wall time.

    python benchmarks/step_startup.py --repeats 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import publish, seconds_table

ROOT = Path(__file__).resolve().parents[1]
EVOSYNTH = str(Path(sys.executable).parent / "evosynth")


def step_seconds(parent: Path, warm: bool, repeats: int) -> list[float]:
    out = Path(tempfile.mkdtemp(prefix="evosynth-startup-"))
    cmd = [EVOSYNTH, "encode", "--params", "params.yaml", "--experiment", "quick", "--generation", "1",
           "--parent", str(parent), "--out-dir", str(out)]
    env = os.environ | {"EVOSYNTH_WARM": "1" if warm else "0"}
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)  # starts the server when warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--parent", type=Path, default=ROOT / "results/quick/gen0/model.pt",
                        help="an ancestor checkpoint of the quick experiment (dvc repro report-quick makes it)")
    args = parser.parse_args()
    if not args.parent.is_file():
        parser.error(f"{args.parent} is missing: run `dvc repro report-quick` first")
    cold, warm = step_seconds(args.parent, False, args.repeats), step_seconds(args.parent, True, args.repeats)
    rows = [("own process", cold), ("fork of the warm server", warm)]
    note = (f"Start-up saved per step: {statistics.median(cold) - statistics.median(warm):.2f} s"
            f" ({args.repeats} runs each of `evosynth encode`, quick gen 1).")
    publish("Per-step start-up (warm server)", seconds_table("how the step runs", rows, note))


if __name__ == "__main__":
    main()
