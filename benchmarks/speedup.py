"""Measured speed-up against MAC reduction, every generation of an experiment.

Three ways, each against generation 0 in the same configuration: batch-1
latency with 1 thread in PyTorch, the same in ONNX Runtime, and batch-256
throughput (PyTorch, all cores). Also the floor: the latency of the same
architecture with one filter (neuron) per layer, which per-operator overhead
bounds. Targets: batch-256 throughput speed-up ≥ 0.7 × MAC reduction once MACs
fall ≥ 4×; the synthesized network's batch-1 speed-up ≥ 5× with the faster runtime.

    python benchmarks/speedup.py --experiment fmnist_evonet      (after `dvc repro`)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from runs import generation_dirs
from sections import update_section

from evosynth.analysis.export import export_onnx
from evosynth.analysis.metrics import architecture_of, dense_macs
from evosynth.analysis.runtime import measure_onnx, measure_torch
from evosynth.nets.architectures import LeNet5
from evosynth.nets.compaction import compact
from evosynth.nets.masks import full_masks
from evosynth.pipeline.steps.common import load_network
from evosynth.reporting.selection import synthesized_generation

ROOT = Path(__file__).resolve().parents[1]


def one_filter_per_layer(shape: tuple[int, ...]) -> torch.nn.Module:
    """LeNet5 compacted to 1-1-16-1: the floor of what removing filters can buy."""
    model = LeNet5(shape[0], 10, shape[1])
    masks = full_masks(model)
    for name in ("conv1", "conv2", "fc1"):
        masks[name][1:] = False
    return compact(model, masks, shape).model


def timings(model: torch.nn.Module, shape: tuple[int, ...], folder: Path, repeats: int) -> dict[str, float]:
    onnx = folder / f"{id(model)}.onnx"
    export_onnx(model, shape, onnx)
    return {
        "torch_1t_ms": measure_torch(model, shape, 1, 1, repeats, 10)["median_ms"],
        "ort_1t_ms": measure_onnx(onnx, 1, 1, repeats, 10)["median_ms"],
        "torch_b256_ips": measure_torch(model, shape, 256, torch.get_num_threads(), max(5, repeats // 5), 2)["fps"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="fmnist_evonet")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    folders = [f for f in generation_dirs(args.experiment) if (f / "model.pt").is_file()]
    if not folders:
        raise SystemExit(f"no results/{args.experiment}/gen*: run `dvc repro` first")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for folder in folders:
            model, masks, ckpt = load_network(folder / "model.pt")
            shape = tuple(ckpt["input_shape"])
            small = compact(model, masks, shape).model
            metrics = json.loads((folder / "metrics.json").read_text())
            rows.append({"generation": metrics["generation"], "architecture": architecture_of(small),
                         "macs": dense_macs(small, shape), "accuracy": metrics["accuracy"],
                         **timings(small, shape, Path(tmp), args.repeats)})
        floor_model = one_filter_per_layer(shape)
        floor = {"architecture": architecture_of(floor_model), "macs": dense_macs(floor_model, shape),
                 **timings(floor_model, shape, Path(tmp), args.repeats)}
    base = rows[0]
    pick = synthesized_generation(rows, 0.01)["generation"]
    lines = [
        f"Experiment `{args.experiment}` (results of `dvc repro`); speed-ups against generation 0 in the same"
        " configuration; batch-1 figures are medians of"
        f" {args.repeats} runs after 10 warm-up runs.",
        "",
        "| gen. | architecture | MAC reduction | PyTorch 1 thread, batch 1 | ONNX Runtime 1 thread, batch 1"
        " | batch-256 throughput | throughput speed-up / MAC reduction |",
        "|---:|:---|---:|---:|---:|---:|---:|",
    ]
    for r in rows + [dict(floor, generation="floor", accuracy=float("nan"))]:
        reduction = base["macs"] / r["macs"]
        tput = r["torch_b256_ips"] / base["torch_b256_ips"]
        lines.append(
            f"| {r['generation']} | {r['architecture']} | {reduction:.2f}× | {r['torch_1t_ms']:.3f} ms"
            f" ({base['torch_1t_ms'] / r['torch_1t_ms']:.2f}×) | {r['ort_1t_ms']:.3f} ms"
            f" ({base['ort_1t_ms'] / r['ort_1t_ms']:.2f}×) | {r['torch_b256_ips']:,.0f} img/s ({tput:.2f}×)"
            f" | {tput / reduction:.2f} |"
        )
    synth = next(r for r in rows if r["generation"] == pick)
    best = max(base["torch_1t_ms"] / synth["torch_1t_ms"], base["ort_1t_ms"] / synth["ort_1t_ms"])
    big = [r for r in rows if base["macs"] / r["macs"] >= 4]
    lines += [
        "",
        f"- Synthesized network (last generation within 1 % of the ancestor): generation {pick}; its best batch-1"
        f" speed-up is {best:.2f}× (target ≥ 5×: {'met' if best >= 5 else 'NOT met'}).",
        "- Throughput target (≥ 0.7 × MAC reduction once MACs fall ≥ 4×): "
        + ("no generation reaches a 4× MAC reduction, so the target is not exercised."
           if not big else ", ".join(
               f"gen {r['generation']}: {r['torch_b256_ips'] / base['torch_b256_ips'] / (base['macs'] / r['macs']):.2f}"
               for r in big)),
        f"- Floor (one filter per layer, {floor['architecture']}): {floor['torch_1t_ms']:.3f} ms PyTorch,"
        f" {floor['ort_1t_ms']:.3f} ms ONNX Runtime: per-operator overhead bounds batch-1 latency of a LeNet-sized net.",
    ]
    body = "\n".join(lines)
    print(body)
    update_section(f"Speed-up vs MAC reduction ({args.experiment})", body)


if __name__ == "__main__":
    main()
