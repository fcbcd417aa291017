"""Measured inference speed (StressedNets Table 3, on the host that runs the step).

Batch-1 latency is the median of ``repeats`` timed runs after ``warmup`` runs,
with the spread (10th and 90th percentile) beside it; FPS = 1 / median. ONNX
Runtime needs only ``onnxruntime`` and ``numpy``: this module imports torch
lazily, so ``evosynth runtime --model gen8.onnx`` runs on a device that has
neither torch nor the training data.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np


def host() -> dict[str, Any]:
    """The machine measured on: CPU model, cores and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("onnxruntime", "torch", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "libraries": versions,
    }


def _stats(samples: list[float]) -> dict[str, float]:
    """Median and 10th / 90th percentile of single-run latencies in ms."""
    samples = sorted(samples)
    return {
        "median_ms": statistics.median(samples),
        "p10_ms": samples[int(0.1 * (len(samples) - 1))],
        "p90_ms": samples[int(0.9 * (len(samples) - 1))],
        "runs": len(samples),
    }


def _time(run: Callable[[], Any], repeats: int, warmup: int) -> dict[str, float]:
    """Time ``run`` alone ``repeats`` times after ``warmup`` runs, with ``time.perf_counter``.

    ONNX Runtime is timed here rather than with ``torch.utils.benchmark``:
    this path must run on a device without torch (``evosynth runtime --model``).
    """
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1e3)
    return _stats(samples)


def measure_onnx(path: Path, batch: int, threads: int, repeats: int = 30, warmup: int = 10) -> dict[str, float]:
    """Latency of one ONNX Runtime inference of ``batch`` images, with ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    spec = session.get_inputs()[0]
    shape = [batch, *[d if isinstance(d, int) else 1 for d in spec.shape[1:]]]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    timing = _time(lambda: session.run(None, {spec.name: x}), repeats, warmup)
    return {**timing, "fps": batch * 1e3 / timing["median_ms"], "batch": batch, "threads": threads}


def measure_torch(model: Any, input_shape: tuple[int, ...], batch: int, threads: int,
                  repeats: int = 30, warmup: int = 10) -> dict[str, float]:
    """Latency of one eager PyTorch inference of ``batch`` images with ``threads`` threads."""
    import torch
    from torch.utils import benchmark

    model.eval()
    x = torch.randn(batch, *input_shape, generator=torch.Generator().manual_seed(0))
    # torch.utils.benchmark sets (and restores) the thread count and times with its own timer;
    # one run per measurement, so that the spread is of single runs as for ONNX Runtime
    timer = benchmark.Timer(stmt="model(x)", globals={"model": model, "x": x}, num_threads=threads)
    with torch.inference_mode():
        for _ in range(warmup):
            timer.timeit(1)
        timing = _stats([timer.timeit(1).median * 1e3 for _ in range(repeats)])
    return {**timing, "fps": batch * 1e3 / timing["median_ms"], "batch": batch, "threads": threads}


#: The configurations every generation is timed in (batch 1): runtime and threads.
CONFIGS = (("onnxruntime", 1), ("onnxruntime", 0), ("pytorch", 1), ("pytorch", 0))  # 0: all cores


def config_key(engine: str, threads: int) -> str:
    return f"{engine}_{'all' if threads == 0 else threads}thread"


def runtime_rows(generations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table 3 rows: size, MACs, FPS per configuration, measured speed-up, MAC reduction, accuracy.

    Each generation dict carries ``generation``, ``accuracy``, ``macs``,
    ``size_mb`` and one timing dict per :func:`config_key`. Speed-up is against
    generation 0 in the same configuration; ``best_speedup`` takes the faster runtime.
    """
    base = generations[0]
    rows = []
    for gen in generations:
        row = {k: gen[k] for k in ("generation", "accuracy", "macs", "size_mb", "architecture")}
        row["mac_reduction"] = base["macs"] / gen["macs"]
        for engine, threads in CONFIGS:
            key = config_key(engine, threads)
            row[f"{key}_fps"] = gen[key]["fps"]
            row[f"{key}_speedup"] = gen[key]["fps"] / base[key]["fps"]
        row["best_1thread_speedup"] = max(row["onnxruntime_1thread_speedup"], row["pytorch_1thread_speedup"])
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    lines = [
        "| generation | architecture | size MB | MACs | MAC reduction | FPS ORT 1 thread | FPS ORT all"
        " | FPS PyTorch 1 thread | FPS PyTorch all | speed-up (ORT 1 thread) | speed-up (PyTorch 1 thread)"
        " | accuracy |",
        "|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['generation']} | {r['architecture']} | {r['size_mb']:.3f} | {r['macs']:,} | {r['mac_reduction']:.1f}×"
            f" | {r['onnxruntime_1thread_fps']:,.0f} | {r['onnxruntime_allthread_fps']:,.0f}"
            f" | {r['pytorch_1thread_fps']:,.0f} | {r['pytorch_allthread_fps']:,.0f}"
            f" | {r['onnxruntime_1thread_speedup']:.2f}× | {r['pytorch_1thread_speedup']:.2f}× | {100 * r['accuracy']:.2f} % |"
        )
    libs = ", ".join(f"{k} {v}" for k, v in machine["libraries"].items())
    lines += [
        "",
        f"Measured on {machine['hostname']}: {machine['cpu']}, {machine['cores']} cores, {machine['system']};"
        f" {libs}. Batch 1, median of the timed runs after warm-up; 'all' = every core.",
    ]
    return "\n".join(lines) + "\n"


def plot_speedup(rows: list[dict[str, Any]], path: Path) -> None:
    """Measured speed-up against MAC reduction, one line per configuration.

    Log axes only when the values span a wide range (:func:`evosynth.figures.readable_log`):
    a reduction from 1.00× to 1.05× is drawn on linear axes with plain tick labels.
    """
    from evosynth import figures

    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    reduction = [r["mac_reduction"] for r in rows]
    speedups = []
    for engine, threads in CONFIGS:
        key = config_key(engine, threads)
        speedups += [r[f"{key}_speedup"] for r in rows]
        label = f"{'ONNX Runtime' if engine == 'onnxruntime' else 'PyTorch'}, {'all cores' if threads == 0 else '1 thread'}"
        ax.plot(reduction, [r[f"{key}_speedup"] for r in rows], "o-", label=label)
    top = max(reduction)
    ax.plot([1, top], [1, top], "k:", label="speed-up = MAC reduction")
    log_x = figures.readable_log(ax, "x", reduction)
    log_y = figures.readable_log(ax, "y", [*speedups, 1.0, top])
    ax.set(xlabel="MAC reduction vs generation 0 (×)" + (", log scale" if log_x else ""),
           ylabel="measured speed-up vs generation 0, batch 1 (×)" + (", log scale" if log_y else ""),
           title="Measured speed-up vs MAC reduction")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    figures.save_figure(fig, path, dpi=100)
