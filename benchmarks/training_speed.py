"""Training speed across generations: epoch time against MACs, and evosynth's overhead.

For every generation of an experiment: one epoch of evosynth's masked training
(:func:`evosynth.training.train`) on the compacted network, and one epoch of a
bare PyTorch loop (SGD with momentum, same batches, no masks) on the same
network. Targets: epoch time falls at least half as fast as MACs (epoch
speed-up ≥ 0.5 × MAC reduction); evosynth's overhead over the bare loop ≤ 10 %.

    python benchmarks/training_speed.py --experiment fmnist_evonet --images 20000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from runs import generation_dirs
from sections import update_section

from evosynth.analysis.metrics import architecture_of, dense_macs
from evosynth.data.prepared import Split, load_prepared
from evosynth.errors import DataError
from evosynth.nets.compaction import compact
from evosynth.pipeline.steps.common import load_network
from evosynth.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
FASHION_MNIST = "data/prepared/fashion_mnist.npz"


def timing_data(path: Path, images: int, test: int | None) -> Split:
    """The first ``images`` training (and ``test``) images a benchmark times on; a missing or unreadable file ends
    the script with one line saying how to make it."""
    try:
        return load_prepared(path, images, test, 0)
    except DataError as exc:
        sys.exit(f"{Path(sys.argv[0]).name}: error: {exc}: `dvc repro prepare-fashion_mnist` makes it")


def bare_epoch(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, lr: float = 0.01) -> float:
    """One epoch of a bare PyTorch loop (SGD, momentum 0.9, weight decay 5e-4): what evosynth's loop is timed against."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    model.train()
    start = time.perf_counter()
    for i in range(0, len(y), batch):
        index = order[i : i + batch]
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x[index]), y[index]).backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="fmnist_evonet")
    parser.add_argument("--data", default=FASHION_MNIST)
    parser.add_argument("--images", type=int, default=20000, help="training images per timed epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="epochs timed per network and loop; the fastest counts")
    args = parser.parse_args()
    data = timing_data(ROOT / args.data, args.images, 1000)
    folders = [f for f in generation_dirs(args.experiment) if (f / "model.pt").is_file()]
    rows = []
    for folder in folders:
        model, masks, ckpt = load_network(folder / "model.pt")
        shape = tuple(ckpt["input_shape"])
        small = compact(model, masks, shape)
        config = TrainConfig(epochs=1, batch_size=args.batch_size)
        # the fastest of --repeats epochs each, the two loops taking turns: a shared machine only ever
        # adds time, and its slow spells then hit both
        ours, bare = float("inf"), float("inf")
        for _ in range(args.repeats):
            log = train(compact(model, masks, shape).model, small.masks, data, config, seed=0, label=folder.name)
            ours = min(ours, log[0]["seconds"])
            bare = min(bare, bare_epoch(compact(model, masks, shape).model, data.x_train, data.y_train, args.batch_size))
        rows.append({"generation": int(folder.name[3:]), "architecture": architecture_of(small.model),
                     "macs": dense_macs(small.model, shape), "ours": ours, "bare": bare})
    base = rows[0]
    lines = [
        f"Experiment `{args.experiment}`: one epoch of {args.images:,} images, batch {args.batch_size},"
        f" on each generation's compacted network (fastest of {args.repeats} epochs each).",
        "",
        "| gen. | architecture | MAC reduction | evosynth epoch | epoch speed-up | speed-up / MAC reduction"
        " | bare PyTorch epoch | evosynth overhead |",
        "|---:|:---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        reduction, speedup = base["macs"] / r["macs"], base["ours"] / r["ours"]
        lines.append(
            f"| {r['generation']} | {r['architecture']} | {reduction:.2f}× | {r['ours']:.2f} s | {speedup:.2f}×"
            f" | {speedup / reduction:.2f} | {r['bare']:.2f} s | {100 * (r['ours'] / r['bare'] - 1):+.1f} % |"
        )
    worst = max(100 * (r["ours"] / r["bare"] - 1) for r in rows)
    lines += ["", f"- Largest overhead of evosynth's train step over the bare loop: {worst:+.1f} % (target ≤ 10 %)."]
    body = "\n".join(lines)
    print(body)
    update_section(f"Training speed ({args.experiment})", body)


if __name__ == "__main__":
    main()
