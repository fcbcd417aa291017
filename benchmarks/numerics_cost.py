"""What portable numerics cost: one training epoch of LeNet5-Caffe, portable against native, interleaved.

Every measurement is a fresh process, since the pins act only before torch
loads: it applies a mode with :func:`evosynth.pipeline.numerics.apply` exactly as
the ``evosynth`` command does, builds LeNet5-Caffe and times epochs of
evosynth's masked training (:func:`evosynth.training.train`, batch 64) on fixed
random 28x28 images. Three settings take turns in a new random order every
round, so a busy spell of a shared machine hits them all:

* ``portable``: the pinned kernels and thread count (what the pipeline runs by default);
* ``native``: the CPU's own kernels and torch's default threads (``numerics: native``);
* ``native-pinned-threads``: native kernels at portable's thread count, which splits
  the cost into the kernels' share and the threads' share.

Prints each setting's median epoch with its range, and the ratios to ``native``.

    python benchmarks/numerics_cost.py --images 20000 --rounds 5    # on a quiet machine
    python benchmarks/numerics_cost.py --images 256 --rounds 1      # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

SETTINGS = ("portable", "native", "native-pinned-threads")


def worker(setting: str, images: int, epochs: int) -> None:
    """In a fresh process: apply the setting, then time ``epochs`` epochs; prints their seconds as JSON."""
    from evosynth.pipeline import numerics

    mode = numerics.apply("portable" if setting == "portable" else "native")
    import torch

    numerics.pin_torch(mode, numerics.PORTABLE["threads"] if setting == "native-pinned-threads" else None)
    from evosynth.data.prepared import Split
    from evosynth.nets.architectures import build_model
    from evosynth.nets.layers import full_masks
    from evosynth.training import TrainConfig, train

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(images, 1, 28, 28, generator=g), torch.randint(0, 10, (images,), generator=g)
    data = Split(x, y, x[:64], y[:64])
    model = build_model("lenet5", (1, 28, 28), 10)
    log = train(model, full_masks(model), data, TrainConfig(epochs=epochs, batch_size=64), seed=0, label=setting)
    print(json.dumps({"seconds": [e["seconds"] for e in log], "capability": torch.backends.cpu.get_cpu_capability(),
                      "onednn": torch.backends.mkldnn.enabled, "threads": torch.get_num_threads()}))


def start(setting: str, images: int, epochs: int, **env: str) -> subprocess.Popen:
    """A fresh worker process for ``setting`` (no numerics inherited from the caller), ``env`` added."""
    environ = {k: v for k, v in os.environ.items() if k != "EVOSYNTH_NUMERICS"} | env
    return subprocess.Popen([sys.executable, __file__, "--worker", setting, "--images", str(images),
                             "--epochs", str(epochs)], env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def result(process: subprocess.Popen) -> dict:
    """What a worker printed, once it ends; a failed worker stops the benchmark."""
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{Path(__file__).name}: a worker failed ({process.returncode}): {err.strip()[-500:]}")
    return json.loads(out.strip().splitlines()[-1])


def measure(setting: str, images: int, epochs: int) -> dict:
    return result(start(setting, images, epochs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20000, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per process; the first is not counted")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each running every setting once")
    parser.add_argument("--seed", type=int, default=0, help="seed of the order within rounds")
    parser.add_argument("--worker", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.images, args.epochs)
        return
    order, samples, seen = random.Random(args.seed), {s: [] for s in SETTINGS}, {}
    for _ in range(args.rounds):
        for setting in order.sample(SETTINGS, len(SETTINGS)):
            result = measure(setting, args.images, args.epochs)
            samples[setting] += result["seconds"][1:] or result["seconds"]  # the first epoch warms up
            seen[setting] = (f"kernels {result['capability']}, oneDNN {'on' if result['onednn'] else 'off'},"
                             f" {result['threads']} thread(s)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"one epoch of LeNet5-Caffe, {args.images:,} images, batch 64; {args.rounds} rounds;"
          f" load average at the end {load:.2f}")
    native = statistics.median(samples["native"])
    print("| setting | kernels, oneDNN, threads | median epoch (s) | range (s) | vs native |")
    print("|---|---|---:|---:|---:|")
    for setting in SETTINGS:
        s = samples[setting]
        print(f"| {setting} | {seen[setting]} | {statistics.median(s):.3f} | {min(s):.3f}-{max(s):.3f}"
              f" | {statistics.median(s) / native:.2f}x |")


if __name__ == "__main__":
    main()
