"""The capacity probe's cost: how long `dvc repro pipelines/probe/dvc.yaml` takes, estimated from params.yaml.

A probe network's epoch is modelled as a fixed per-epoch cost plus a term in
its MACs, fitted (least squares) to measured epochs of LeNet5s of six widths:
``MEASURED``, from reports/benchmarks.md, "Training speed (asexual_f07_macs)"
(20,000 Fashion-MNIST images, batch 64, 2 threads), scaled to the probe's
training images. With distillation each step also runs the teacher forward,
counted as a third of a dense training step's MAC term (forward ≈ 1 of the
3 passes of forward + backward). Every network is evaluated once (at most
the dense ancestor's 1.8 s) and each stage costs about 1 s of overhead; the
reference's ancestor is added when it is not trained yet. A kernel-sparse
network (``probe.kernel_sparse``) trains at its dense widths' cost: masked
training computes every convolution densely and zeroes the dead kernels after
each step, so its epochs are costed at the MACs of its widths.

    python benchmarks/probe_cost.py                       # the estimate from params.yaml
    python benchmarks/probe_cost.py --measure --images 5000 --threads 2   # time one epoch per width here
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from sections import update_section

from evosynth.analysis.metrics import dense_macs
from evosynth.nets.architectures import build_model
from evosynth.pipeline.params import load_params
from evosynth.pipeline.probe import probe_runs, recipe_train

ROOT = Path(__file__).resolve().parents[1]
FULL_TRAIN = 60_000
#: (conv1, conv2, fc1 widths, seconds of one epoch of 20,000 images at batch 64): reports/benchmarks.md,
#: "Training speed (asexual_f07_macs)", the evosynth epoch of each generation's compacted network.
MEASURED = (((20, 50, 500), 4.49), ((18, 38, 451), 3.76), ((15, 32, 406), 2.62), ((13, 23, 373), 2.30),
            ((13, 16, 309), 1.88), ((10, 13, 249), 1.63))
MEASURED_IMAGES = 20_000
#: Evaluate of the dense ancestor on 10,000 test images (fmnist_evonet's provenance) and one stage's overhead.
EVALUATE_S, STAGE_S = 1.8, 1.0
SHAPE = (1, 28, 28)


def macs(widths: tuple[int, ...]) -> int:
    return dense_macs(build_model("lenet5", SHAPE, 10, widths=tuple(widths)), SHAPE)


def epoch_model(measured=MEASURED, images: int = MEASURED_IMAGES) -> tuple[float, float]:
    """(seconds per epoch of 60,000 images at zero MACs, seconds per MAC): the least-squares line through ``measured``."""
    x = np.array([macs(w) for w, _ in measured], dtype=float)
    y = np.array([s for _, s in measured]) * FULL_TRAIN / images
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept), float(slope)


def plan_cost(params: dict, fixed_s: float, per_mac_s: float, ancestor_done: bool = False) -> dict[str, float]:
    """Wall seconds of the probe run by `dvc repro` (one stage at a time, torch on every core)."""
    probe = params["probe"]
    reference = params["experiments"][probe["reference"]]
    images = reference["data"]["train_size"] or FULL_TRAIN
    scale = images / FULL_TRAIN
    dense = macs((20, 50, 500))
    teacher = per_mac_s * dense / 3 if probe["train"]["distill"]["alpha"] > 0 else 0.0
    total, epochs, sparse, sparse_networks = 0.0, 0, 0.0, 0
    for widths, recipe, _, _, kernels in probe_runs(probe):
        each = recipe_train(probe, recipe)["epochs"]
        epochs += each
        seconds = each * scale * (fixed_s + per_mac_s * macs(widths) + teacher) + EVALUATE_S + STAGE_S
        total += seconds
        if kernels:
            sparse, sparse_networks = sparse + seconds, sparse_networks + 1
    ancestor = 0.0 if ancestor_done else (reference["train"]["ancestor_epochs"] * scale * (fixed_s + per_mac_s * dense)
                                          + EVALUATE_S + 2 * STAGE_S)
    return {"probe_s": total + 10.0, "ancestor_s": ancestor, "networks": len(probe_runs(probe)),
            "epochs": epochs, "sparse_s": sparse, "sparse_networks": sparse_networks}


def estimate_line(params: dict, label: str, fixed_s: float, per_mac_s: float) -> str:
    cost = plan_cost(params, fixed_s, per_mac_s)
    return (f"- {label}: {cost['networks']} networks ({cost['epochs']} epochs in all); epoch = {fixed_s:.2f} s + {per_mac_s * 1e6:.2f} s per million MACs"
            f" (60,000 images): **{cost['probe_s'] / 60:.0f} min**, plus {cost['ancestor_s'] / 60:.0f} min for the"
            f" reference's ancestor if it is not trained yet (`dvc repro`, one stage at a time)"
            + (f"; of these, {cost['sparse_networks']} kernel-sparse networks take {cost['sparse_s'] / 60:.0f} min"
               if cost["sparse_networks"] else "") + ".")


def measure(images: int, widths: list[tuple[int, ...]], batch: int) -> list[tuple[tuple[int, ...], float]]:
    """One timed epoch of each width on the first ``images`` training images (evosynth's training loop)."""
    from training_speed import FASHION_MNIST, timing_data

    from evosynth.nets.layers import full_masks
    from evosynth.training import TrainConfig, train

    data = timing_data(ROOT / FASHION_MNIST, images, 1000)
    out = []
    for w in widths:
        model = build_model("lenet5", SHAPE, 10, widths=tuple(w))
        start = time.perf_counter()
        train(model, full_masks(model), data, TrainConfig(epochs=1, batch_size=batch), seed=0, label=str(w))
        out.append((tuple(w), time.perf_counter() - start))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", action="store_true", help="time one epoch of each probe width here")
    parser.add_argument("--images", type=int, default=5000, help="--measure: training images per timed epoch")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-section", action="store_true", help="print only; leave reports/benchmarks.md alone")
    args = parser.parse_args()
    params = load_params(ROOT / "params.yaml")
    lines = [estimate_line(params, "from the measured epochs of reports/benchmarks.md", *epoch_model())]
    if args.measure:
        torch.set_num_threads(args.threads)
        load = os.getloadavg()[0]
        widths = list(dict.fromkeys(w for w, _, _, _, _ in probe_runs(params["probe"])))
        timed = measure(args.images, widths, params["probe"]["train"]["batch_size"])
        lines = [(f"One epoch of each probe width on {args.images:,} Fashion-MNIST images, {args.threads} thread(s),"
                 f" load average {load:.2f} when it started (a busy machine only adds time)."), "",
                 "| widths | MACs | epoch | per 60,000 images |", "|:---|---:|---:|---:|"]
        lines += [f"| {'-'.join(map(str, w))} | {macs(w):,} | {s:.2f} s | {s * FULL_TRAIN / args.images:.1f} s |"
                  for w, s in timed]
        lines += ["", *(estimate_line(params, label, *fit) for label, fit in (
            ("fitted to this run", epoch_model(timed, args.images)),
            ("from the measured epochs of reports/benchmarks.md", epoch_model())))]
    body = "\n".join(lines)
    print(body)
    if args.measure and not args.no_section:
        update_section("Probe cost", body)


if __name__ == "__main__":
    main()
