"""The evidence set's cost: images/s of one ancestor epoch (evosynth against a bare PyTorch loop) and per-stage figures.

Measures, on the first --images training images of Fashion-MNIST with
--threads torch threads: one epoch of LeNet5-Caffe through
:func:`evosynth.training.train` and through a bare loop (same batches, SGD
with momentum, no masks), at each --batch-size; the forward pass over the
10,000 test images (evaluate); the start-up of one step process (``python
-c 'import evosynth.pipeline.steps.train'``). Then scales them to the
evidence set of params.yaml: every generation is one retrain (epochs × the
full training set), one evaluate and four process start-ups (encode,
synthesize, retrain, evaluate); every ancestor ancestor_epochs epochs.

Run it on a quiet machine (``uptime`` load < 1); a busy one only adds time:

    python benchmarks/evidence_cost.py --images 60000 --threads 1 --batch-size 64 256
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from sections import update_section
from training_speed import FASHION_MNIST, bare_epoch, timing_data

from evosynth.nets.architectures import build_model
from evosynth.nets.masks import prunable_layers
from evosynth.pipeline.params import load_params
from evosynth.pipeline.seeds import FAMILIES, chain_generations, members
from evosynth.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
FULL_TRAIN = 60_000
#: Figures measured on this machine (AMD EPYC, 2 cores) under native numerics, quiet: a full-set epoch of
#: LeNet5-Caffe at batch 64 (20,000 images in 4.49 s: 13.5 s; one chain per core), evaluate on the 10,000
#: test images (1.8 s), one stage's overhead (about 1 s), encode plus synthesize of one offspring (about 1 s).
NATIVE_REFERENCE = (13.5, 1.8, 1.0, 1.0)
#: The same figures under portable numerics (the default), read from the evidence rerun's own records
#: (results/ev_evonet_s0, 2026-12-06): the ancestor's first two epochs over the 54,000 training images
#: (the validation split carved off) at load average < 1, 41.7 and 42.0 s; evaluate 3.5 s, 1.35 s between
#: stages, encode plus synthesize 0.57 s (means over the chain's 13 generations, load 5-9 beside other work).
#: Portable training is about 3x the native epoch above: the pinned kernels, oneDNN off, two threads.
REFERENCE = (41.9, 3.5, 1.35, 0.57)


def measure(images: int, batches: list[int]) -> dict[str, float]:
    data = timing_data(ROOT / FASHION_MNIST, images, None)
    figures: dict[str, float] = {}
    for batch in batches:
        lr = 0.01 * batch / 64  # the learning rate scaled with the batch (linear scaling rule)
        model = build_model("lenet5", (1, 28, 28), 10)
        masks = {name: torch.ones_like(layer.weight, dtype=torch.bool) for name, layer in prunable_layers(model)}
        log = train(model, masks, data, TrainConfig(epochs=1, batch_size=batch, lr=lr), seed=0, label=f"batch {batch}")
        figures[f"ours_{batch}"] = images / log[0]["seconds"]
        figures[f"bare_{batch}"] = images / bare_epoch(build_model("lenet5", (1, 28, 28), 10), data.x_train,
                                                       data.y_train, batch, lr)
    model = build_model("lenet5", (1, 28, 28), 10).eval()
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(data.y_test), 1000):
            model(data.x_test[i : i + 1000])
    figures["evaluate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import evosynth.pipeline.steps.train"], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    figures["startup_s"] = time.perf_counter() - start
    return figures


#: A distilled offspring's epoch also runs its parent forward on every batch: about a third of a training
#: step (forward + backward ≈ three forward passes), and the parent is no larger than the offspring's own start.
TEACHER_SHARE = 1 / 3


def cost_parser(doc: str | None, params: Path) -> argparse.ArgumentParser:
    """The options of a named target's cost script: reference figures only (--dry), or one epoch measured here."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry", action="store_true", help="use the reference figures only: measure nothing")
    parser.add_argument("--params", type=Path, default=params)
    parser.add_argument("--images", type=int, default=5000, help="training images per timed epoch")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    return parser


def scaled_figures(args: argparse.Namespace) -> tuple[float, float, float, float]:
    """(epoch, evaluate, stage, other) seconds scaled from one batch-64 epoch measured here, on every core."""
    torch.set_num_threads(args.threads)
    measured = measure(args.images, [64])
    epoch = FULL_TRAIN / measured["ours_64"] / args.cores
    return epoch, measured["evaluate_s"], measured["startup_s"] / 2 + 1.0, 1.0


def chains_cost(params: dict, chains: list[str], epoch_s: float, evaluate_s: float, stage_s: float,
                other_s: float) -> dict[str, float]:
    """Wall seconds of training and evaluating ``chains`` (experiments or pruning baselines) with `dvc repro`.

    ``epoch_s``: one epoch of the full training set; ``evaluate_s``: the test set; ``stage_s``: the
    overhead of one stage (command line, warm-server fork, DVC hashing and lock); ``other_s``: encode plus
    synthesize of one offspring (or the prune step of a baseline's). Every network is costed as the dense
    ancestor (offspring are smaller: an upper bound); a distilled epoch costs :data:`TEACHER_SHARE` more.
    """
    total, generations, ancestors, epochs = 0.0, 0, 0, 0
    for chain in chains:
        baseline = chain in params["baselines"]
        spec = params["experiments"][params["baselines"][chain]["follow"] if baseline else chain]
        size = spec["population"]["size"] if spec["method"] == "sexual" and not baseline else 1
        gens = chain_generations(params, chain) * size  # a baseline on its own schedule: its own count
        generations += gens
        epochs += gens * spec["train"]["epochs"]
        teacher = TEACHER_SHARE if spec["train"].get("distill", {}).get("alpha", 0) > 0 else 0.0
        stages = 3 if baseline else 4  # prune, retrain, evaluate; encode, synthesize, retrain, evaluate
        total += gens * (spec["train"]["epochs"] * epoch_s * (1 + teacher) + evaluate_s + other_s + stages * stage_s)
        if not baseline and spec.get("ancestor") is None:
            ancestors += 1
            epochs += spec["train"]["ancestor_epochs"]
            total += spec["train"]["ancestor_epochs"] * epoch_s + evaluate_s + 2 * stage_s
    return {"wall_s": total, "generations": generations, "ancestors": ancestors, "epochs": epochs,
            "chains": len(chains)}


def plan_cost(params: dict, epoch_s: float, evaluate_s: float, stage_s: float, other_s: float) -> dict[str, float]:
    """Wall seconds of the evidence set run by `dvc repro` (one stage at a time, torch on every core)."""
    evidence = params["evidence"]
    families = dict.fromkeys([*(c[r] for c in evidence["claims"].values() for r in ("treatment", "control")),
                              *evidence["sweep"]])
    chains = [exp for family in families for exp in members(params, family)]
    cost = chains_cost(params, chains, epoch_s, evaluate_s, stage_s, other_s)
    cost["wall_s"] += 30.0  # the evidence stage: read every metrics file, fit, plot
    return {**cost, "families": len(families)}


def estimate_line(params: dict, label: str, epoch_s: float, evaluate_s: float, stage_s: float, other_s: float) -> str:
    cost = plan_cost(params, epoch_s, evaluate_s, stage_s, other_s)
    return (f"- {label}: {cost['families']} experiments, {cost['chains']} chains, {cost['ancestors']} ancestors,"
            f" {cost['generations']} offspring, {cost['epochs']} full-set epochs; epoch {epoch_s:.1f} s, evaluate"
            f" {evaluate_s:.1f} s, {stage_s:.1f} s per stage, encode + synthesize {other_s:.1f} s:"
            f" **{cost['wall_s'] / 3600:.2f} h** (`dvc repro`, one stage at a time).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000, help="training images per timed epoch")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: one chain per core)")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-section", action="store_true", help="print only; leave reports/benchmarks.md alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    figures = measure(args.images, args.batch_size)
    params = load_params(ROOT / "params.yaml")
    lines = [f"One epoch of LeNet5-Caffe on {args.images:,} Fashion-MNIST images, {args.threads} thread(s),"
             f" load average {load:.2f} when it started (a busy machine only adds time).", "",
             "| batch | lr | evosynth images/s | bare PyTorch images/s | evosynth overhead |", "|---:|---:|---:|---:|---:|"]
    for batch in args.batch_size:
        ours, bare = figures[f"ours_{batch}"], figures[f"bare_{batch}"]
        lines.append(f"| {batch} | {0.01 * batch / 64:g} | {ours:,.0f} | {bare:,.0f} | {100 * (bare / ours - 1):+.1f} % |")
    lines += ["", f"Evaluate (10,000 test images, forward only): {figures['evaluate_s']:.2f} s;"
              f" start-up of one step process: {figures['startup_s']:.2f} s.", ""]
    if params.get("evidence") and params[FAMILIES]:
        for batch in args.batch_size:
            epoch = FULL_TRAIN / figures[f"ours_{batch}"] / args.cores  # this epoch's rate, on every core
            lines.append(estimate_line(params, f"scaled from this run, batch {batch}", epoch, figures["evaluate_s"],
                                       figures["startup_s"] / 2 + 1.0, 1.0))
        lines.append(estimate_line(params, "quiet-machine reference", *REFERENCE))
    body = "\n".join(lines)
    print(body)
    if not args.no_section:
        update_section("Evidence set cost", body)


if __name__ == "__main__":
    main()
