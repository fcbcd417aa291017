"""Measured inference speed (StressedNets Table 3, on the host that runs the step).

Batch-1 latency is the median of ``repeats`` timed runs after ``warmup`` runs,
with the spread (10th and 90th percentile) beside it; FPS = 1 / median. The
pipeline's reports time every network of a comparison in one process,
interleaved in rounds in a random order (:mod:`evosynth.analysis.timing`,
:func:`time_networks`), and take speed-ups round by round. ONNX
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


def onnx_runner(path: Path, batch: int, threads: int) -> Callable[[], Any]:
    """One ONNX Runtime inference of ``batch`` images with ``threads`` intra-op threads, as a call."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    spec = session.get_inputs()[0]
    shape = [batch, *[d if isinstance(d, int) else 1 for d in spec.shape[1:]]]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return lambda: session.run(None, {spec.name: x})


def torch_runner(model: Any, input_shape: tuple[int, ...], batch: int) -> Callable[[], Any]:
    """One eager PyTorch inference of ``batch`` images (threads: torch's setting when called)."""
    import torch

    model.eval()
    x = torch.randn(batch, *input_shape, generator=torch.Generator().manual_seed(0))

    def run() -> Any:
        with torch.inference_mode():
            return model(x)

    return run


def measure_onnx(path: Path, batch: int, threads: int, repeats: int = 30, warmup: int = 10) -> dict[str, float]:
    """Latency of one ONNX Runtime inference of ``batch`` images, with ``threads`` intra-op threads."""
    timing = _time(onnx_runner(path, batch, threads), repeats, warmup)
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
#: Throughput: ONNX Runtime, one thread, a batch of 256 (issue 16: ≥ 0.7 × the MAC reduction).
THROUGHPUT = ("onnxruntime", 1, 256)


def config_key(engine: str, threads: int, batch: int = 1) -> str:
    return f"{engine}_{'all' if threads == 0 else threads}thread" + (f"_b{batch}" if batch != 1 else "")


def time_networks(
    networks: dict[str, dict[str, Any]], repeats: int, warmup: int, rounds: int, seed: int = 0,
    configs: tuple[tuple[str, int, int], ...] = (*((e, t, 1) for e, t in CONFIGS), THROUGHPUT),
) -> dict[str, dict[str, dict[str, Any]]]:
    """Time every network in every configuration, all networks of a configuration interleaved.

    ``networks`` maps a name to ``{"onnx": path, "model": compacted module,
    "input_shape": shape}``. ``repeats`` timed runs per network and
    configuration are spread over ``rounds`` rounds (:func:`evosynth.analysis.timing.interleave`).
    Returns, per network and :func:`config_key`, the latency summary, FPS and the
    per-round samples (``rounds_ms``) that :func:`runtime_rows` pairs.
    """
    import torch

    from evosynth.analysis.timing import interleave, latency

    per_round = -(-repeats // rounds)
    # "all cores": those this process may use (taskset, cgroup cpuset, Snakemake's threads), not the machine's
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    out: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in networks}
    for engine, threads, batch in configs:
        n = threads or cores
        # sessions built in a random order: whatever the order of allocation favours, no network always gets it
        items, built = list(networks.items()), {}
        for i in np.random.default_rng(seed).permutation(len(items)):
            name, net = items[i]
            built[name] = (onnx_runner(net["onnx"], batch, n) if engine == "onnxruntime"
                           else torch_runner(net["model"], tuple(net["input_shape"]), batch))
        runners = {name: built[name] for name in networks}
        previous = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            samples = interleave(runners, rounds, per_round, warmup, seed)
        finally:
            torch.set_num_threads(previous)
        for name, rounds_ms in samples.items():
            summary = latency(rounds_ms)
            out[name][config_key(engine, threads, batch)] = {
                **summary, "fps": batch * 1e3 / summary["median_ms"], "batch": batch, "threads": n,
                "rounds_ms": rounds_ms,
            }
    return out


def runtime_rows(generations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table 3 rows: size, MACs, FPS per configuration, measured speed-up, MAC reduction, accuracy.

    Each generation dict carries ``generation``, ``accuracy``, ``macs``,
    ``size_mb`` and one timing dict per :func:`config_key`. Speed-up is against
    generation 0 in the same configuration; ``best_speedup`` takes the faster runtime.
    """
    return [speedup_row(gen, generations[0]) for gen in generations]


def speedup_row(gen: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """One network against its ancestor: FPS and round-paired speed-up (median, p10, p90) per configuration.

    A configuration timed with per-round samples (``rounds_ms``) gets its
    speed-up round by round (:func:`evosynth.analysis.timing.speedup`); one
    without them (an older runtime.json) the ratio of the FPS.
    """
    from evosynth.analysis.timing import speedup

    row = {k: gen[k] for k in ("generation", "accuracy", "macs", "size_mb", "architecture") if k in gen}
    row["mac_reduction"] = base["macs"] / gen["macs"]
    keys = [config_key(e, t) for e, t in CONFIGS] + [config_key(*THROUGHPUT)]
    for key in (k for k in keys if k in gen and k in base):
        row[f"{key}_fps"] = gen[key]["fps"]
        if "rounds_ms" in gen[key] and "rounds_ms" in base[key]:
            paired = speedup(base[key]["rounds_ms"], gen[key]["rounds_ms"])
            row[f"{key}_speedup"] = paired["median"]
            row[f"{key}_speedup_p10"], row[f"{key}_speedup_p90"] = paired["p10"], paired["p90"]
        else:
            row[f"{key}_speedup"] = gen[key]["fps"] / base[key]["fps"]
    if "pytorch_1thread_speedup" in row and "onnxruntime_1thread_speedup" in row:
        row["best_1thread_speedup"] = max(row["onnxruntime_1thread_speedup"], row["pytorch_1thread_speedup"])
    throughput = f"{config_key(*THROUGHPUT)}_speedup"
    if throughput in row:
        row["throughput_vs_mac_reduction"] = row[throughput] / row["mac_reduction"]
    return row


def spread(row: dict[str, Any], key: str) -> str:
    """A speed-up with its spread, e.g. ``4.21× [4.05–4.40]``."""
    value = f"{row[f'{key}_speedup']:.2f}×"
    if f"{key}_speedup_p10" in row:
        value += f" [{row[f'{key}_speedup_p10']:.2f}–{row[f'{key}_speedup_p90']:.2f}]"
    return value


def markdown(rows: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    b256 = config_key(*THROUGHPUT)
    lines = [
        "| generation | architecture | size MB | MACs | MAC reduction | FPS ORT 1 thread | FPS ORT all"
        " | FPS PyTorch 1 thread | FPS PyTorch all | speed-up (ORT 1 thread) | speed-up (PyTorch 1 thread)"
        " | throughput speed-up (ORT 1 thread, batch 256) | ÷ MAC reduction | accuracy |",
        "|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        through = (f"{spread(r, b256)} | {r['throughput_vs_mac_reduction']:.2f}" if f"{b256}_speedup" in r
                   else "– | –")
        lines.append(
            f"| {r['generation']} | {r['architecture']} | {r['size_mb']:.3f} | {r['macs']:,} | {r['mac_reduction']:.1f}×"
            f" | {r['onnxruntime_1thread_fps']:,.0f} | {r['onnxruntime_allthread_fps']:,.0f}"
            f" | {r['pytorch_1thread_fps']:,.0f} | {r['pytorch_allthread_fps']:,.0f}"
            f" | {spread(r, 'onnxruntime_1thread')} | {spread(r, 'pytorch_1thread')} | {through}"
            f" | {100 * r['accuracy']:.2f} % |"
        )
    lines += ["", timing_note(machine)]
    return "\n".join(lines) + "\n"


def timing_note(machine: dict[str, Any]) -> str:
    """How and where the timings were taken (one line under every runtime table)."""
    libs = ", ".join(f"{k} {v}" for k, v in machine["libraries"].items())
    return (
        f"Measured on {machine['hostname']}: {machine['cpu']}, {machine['cores']} cores, {machine['system']}; {libs}."
        " Every network timed in one process, interleaved in rounds in a random order; FPS from the median of"
        " all timed runs after warm-up; speed-up: median over rounds of the ratio of the two networks' medians"
        " in the same round, [10th–90th percentile of the rounds]. 'all' = every core."
    )


#: The configurations drawn in runtime.png: row key prefix, legend label.
DRAWN = (("onnxruntime_1thread", "ONNX Runtime, 1 thread"), ("onnxruntime_allthread", "ONNX Runtime, all cores"),
         ("pytorch_1thread", "PyTorch, 1 thread"), ("pytorch_allthread", "PyTorch, all cores"),
         ("onnxruntime_1thread_b256", "ONNX Runtime, 1 thread, batch-256 throughput"))


def plot_speedup(rows: list[dict[str, Any]], path: Path) -> None:
    """Measured speed-up over generation 0 per generation: one point per configuration with its spread over
    the rounds (10th–90th percentile), not joined (the rounds' noise is no trend), beside the MAC reduction
    (what a speed-up proportional to MACs would read) and a reference line at 1.0× (no speed-up).

    The speed-up axis is logarithmic and always includes 1.0 with at least ±10 % around it, so that load noise
    of a few percent is drawn as the small thing it is.
    """
    from evosynth import figures

    fig, (ax,) = figures.grid(1, panel=(7.5, 4.2))
    later = [r for r in rows if r["generation"] != rows[0]["generation"]] or rows  # generation 0 is the 1.0 line
    drawn = [(key, label) for key, label in DRAWN if any(f"{key}_speedup" in r for r in later)]
    width = 0.5 / max(len(drawn), 1)
    values = [1.0]
    for k, (key, label) in enumerate(drawn):
        mine = [r for r in later if f"{key}_speedup" in r]
        x = [r["generation"] + (k - (len(drawn) - 1) / 2) * width for r in mine]
        y = [r[f"{key}_speedup"] for r in mine]
        low = [r.get(f"{key}_speedup_p10", r[f"{key}_speedup"]) for r in mine]
        high = [r.get(f"{key}_speedup_p90", r[f"{key}_speedup"]) for r in mine]
        ax.errorbar(x, y, yerr=[[a - b for a, b in zip(y, low)], [b - a for a, b in zip(y, high)]], fmt="o",
                    ms=4, capsize=2, lw=1, label=label)
        values += low + high
    reduction = [r["mac_reduction"] for r in later]
    ax.plot([r["generation"] for r in later], reduction, "k_", ms=16, mew=2, ls="none",
            label="MAC reduction (speed-up proportional to MACs)")
    ax.axhline(1.0, color="0.3", lw=1, ls="--", label="1.0× (no speed-up)")
    values += reduction
    figures.ratio_axis(ax, "y", values, "measured speed-up")
    bottom, top = min(min(values) / 1.05, 1 / 1.1), max(max(values) * 1.05, 1.1)
    ax.set_ylim(bottom, top)
    ax.set(xlabel="generation", title="Measured speed-up over generation 0, batch 1 unless noted")
    figures.tidy(ax)
    figures.figure_legend(fig, columns=2, title="points: median over rounds; bars: 10th–90th percentile of the rounds",
                          title_fontsize="small")
    figures.save_figure(fig, path, dpi=100)
