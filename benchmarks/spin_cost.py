"""What torch's idle threads spinning cost when two steps share the cores: libgomp's default against a short spin.

torch computes with OpenMP threads (libgomp); between parallel regions an idle thread
spins ``GOMP_SPINCOUNT`` times before it sleeps: 300,000 by default (libgomp's manual,
when ``OMP_WAIT_POLICY`` is unset). Two steps of portable numerics' two threads each on
two cores (Snakemake ``-c2``, tests beside a pipeline) then spin in each other's time
slices. The tests (``pytest -n 2``) set ``GOMP_SPINCOUNT=1000``; docs/numerics.md says when a user should.

Each measurement is a fresh process timing epochs of LeNet5-Caffe under portable numerics, as
``benchmarks/numerics_cost.py --worker portable`` does (the first epoch not counted): one alone,
then two started together, with libgomp's default and with the short spin, in a new random
order every round. Prints each setting's median epoch alone and side by side, and the slow-down
of a pair against one alone (2.0x is two jobs sharing two cores fairly).

    python benchmarks/spin_cost.py --images 5000 --rounds 3     # on a quiet machine
    python benchmarks/spin_cost.py --images 256 --rounds 1      # a smoke run
"""

from __future__ import annotations

import argparse
import os
import random
import statistics

from numerics_cost import result, start
from sections import publish

#: libgomp's own spin count (OMP_WAIT_POLICY unset), set explicitly against a caller's, and the tests' short one
SETTINGS = {"libgomp default": "300000", "short": "1000"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per process; the first is not counted")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each running every setting alone and in pairs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the order within rounds")
    args = parser.parse_args()
    order = random.Random(args.seed)
    runs = [(name, pair) for name in SETTINGS for pair in (False, True)]
    samples: dict[tuple[str, bool], list[float]] = {run: [] for run in runs}
    for _ in range(args.rounds):
        for name, pair in order.sample(runs, len(runs)):
            started = [start("portable", args.images, args.epochs, GOMP_SPINCOUNT=SETTINGS[name])
                       for _ in range(1 + pair)]
            for process in started:
                seconds = result(process)["seconds"]
                samples[name, pair] += seconds[1:] or seconds  # the first epoch warms up
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [f"One epoch of LeNet5-Caffe, portable numerics (2 threads), {args.images:,} images, batch 64;"
             f" {args.rounds} rounds; {os.cpu_count()} CPUs; load average at the end {load:.2f}.", "",
             "| GOMP_SPINCOUNT | alone: median epoch (s) | two at once: median epoch (s) | pair / alone |",
             "|---|---:|---:|---:|"]
    for name, spin in SETTINGS.items():
        alone, pair = statistics.median(samples[name, False]), statistics.median(samples[name, True])
        lines.append(f"| {spin} ({name}) | {alone:.2f} | {pair:.2f} | {pair / alone:.2f}x |")
    publish("Two steps side by side: the threads' spin", "\n".join(lines))


if __name__ == "__main__":
    main()
