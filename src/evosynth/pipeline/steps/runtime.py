"""Step ``runtime``: every generation timed batch 1, ONNX Runtime and PyTorch, 1 thread and all cores (StressedNets Table 3)."""

from __future__ import annotations

import os
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
    """Time every generation batch 1 with ONNX Runtime and PyTorch, 1 thread and all cores (Table 3)."""
    started = time.time()
    settings = params["runtime"]
    generations = []
    # "all cores": those this step may use (taskset, cgroup cpuset, Snakemake's threads), not the machine's
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for folder in generation_dirs:
        metrics = read_json(folder / "metrics.json")
        model, masks, ckpt = load_network(folder / "model.pt")
        shape = tuple(ckpt["input_shape"])
        small = compact(model, masks, shape).model
        row = {k: metrics[k] for k in ("generation", "accuracy", "macs", "architecture")}
        row["size_mb"] = (folder / "model.onnx").stat().st_size / 1e6
        for engine, threads in runtime.CONFIGS:
            n = threads or allowed
            key = runtime.config_key(engine, threads)
            if engine == "onnxruntime":
                row[key] = runtime.measure_onnx(folder / "model.onnx", 1, n, settings["repeats"], settings["warmup"])
            else:
                row[key] = runtime.measure_torch(small, shape, 1, n, settings["repeats"], settings["warmup"])
        generations.append(row)
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
