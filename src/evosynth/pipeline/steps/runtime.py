"""Step ``runtime``: every generation timed interleaved, batch 1 and batch-256 throughput (StressedNets Table 3)."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.analysis import runtime
from evosynth.artifacts import read_json, write_csv, write_json, write_text
from evosynth.errors import ParamsError
from evosynth.nets.compaction import compact
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish, load_network


def run_runtime(params: dict[str, Any], experiment: str, generation_dirs: list[Path], out_dir: Path) -> list[dict[str, Any]]:
    """Time every generation, interleaved in one process: batch 1 (ONNX Runtime and PyTorch, 1 thread and
    all cores) and batch-256 throughput (ONNX Runtime, 1 thread); StressedNets Table 3."""
    started = time.time()
    settings = params["runtime"]
    generations, networks = [], {}
    for folder in generation_dirs:
        metrics = read_json(folder / "metrics.json")
        model, masks, ckpt = load_network(folder / "model.pt")
        shape = tuple(ckpt["input_shape"])
        row = {k: metrics[k] for k in ("generation", "accuracy", "macs", "architecture")}
        row["size_mb"] = (folder / "model.onnx").stat().st_size / 1e6
        networks[str(folder)] = {"onnx": folder / "model.onnx", "model": compact(model, masks, shape).model,
                                 "input_shape": shape}
        generations.append(row)
    timed = runtime.time_networks(networks, settings["repeats"], settings["warmup"], settings["rounds"])
    for row, name in zip(generations, networks, strict=True):
        row.update(timed[name])
        print(f"{experiment} gen{row['generation']}: ORT 1 thread {row['onnxruntime_1thread']['fps']:,.0f} FPS")
    rows = runtime.runtime_rows(generations)
    machine = runtime.host()
    files = step_files("runtime")
    write_text(out_dir / files[0], f"# {experiment}: measured runtime (StressedNets Table 3 layout)\n\n"
               + runtime.markdown(rows, machine))
    write_csv(out_dir / files[1], rows)
    runtime.plot_speedup(rows, out_dir / files[2])
    write_json(out_dir / files[3], {"host": machine, "generations": generations})
    finish("runtime", {"runtime": settings}, started, out_dir, files)
    return rows


def main(params: dict[str, Any], args: Namespace) -> None:
    if not (args.experiment and args.generation_dir and args.out_dir):
        raise ParamsError("runtime: give --model (device mode) or --experiment, --generation-dir and --out-dir")
    run_runtime(params, args.experiment, args.generation_dir, args.out_dir)
