"""Step ``picks``: the synthesized network of several runs timed side by side, in one process (issue 16, item 3).

For every run of ``runtime.picks`` (an experiment or a pruning baseline) the
synthesized network is the last generation within ``papers.tolerance`` of its
ancestor (the papers' 1 %). Each is timed with its ancestor, every network
interleaved in rounds in a random order (:mod:`evosynth.analysis.timing`):
batch-1 latency in ONNX Runtime with one thread, and batch-256 throughput
against the MAC reduction. Runs sharing an ancestor share its timing.
"""

from __future__ import annotations

import tempfile
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.analysis import runtime
from evosynth.analysis.export import export_onnx
from evosynth.artifacts import read_json, write_csv, write_json, write_text
from evosynth.nets.compaction import compact
from evosynth.pipeline.layout import chain_metrics
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish, load_network
from evosynth.reporting.selection import synthesized_generation

#: Batch-1 latency and batch-256 throughput, both ONNX Runtime with one thread.
PICK_CONFIGS = (("onnxruntime", 1, 1), runtime.THROUGHPUT)


def picked(params: dict[str, Any], run: str, root: Path = Path()) -> tuple[Path, Path]:
    """The folders of a run's ancestor and of its synthesized network (last generation within tolerance)."""
    files = [root / m for m in chain_metrics(run, params)]
    rows = [{**read_json(f), "folder": f.parent} for f in files]
    tolerance = (params.get("papers") or {}).get("tolerance", 0.01)
    return rows[0]["folder"], synthesized_generation(rows, tolerance)["folder"]


def run_picks(params: dict[str, Any], out_dir: Path, root: Path = Path()) -> list[dict[str, Any]]:
    """Time every run's pick and its ancestor interleaved; one row per run, speed-ups with their spread."""
    started = time.time()
    settings = params["runtime"]
    pairs = {run: picked(params, run, root) for run in settings["picks"]}
    folders = list(dict.fromkeys(f for pair in pairs.values() for f in pair))
    with tempfile.TemporaryDirectory() as tmp:
        networks = {}
        for i, folder in enumerate(folders):
            model, masks, ckpt = load_network(folder / "model.pt")
            shape = tuple(ckpt["input_shape"])
            small = compact(model, masks, shape).model
            export_onnx(small, shape, Path(tmp) / f"{i}.onnx")
            networks[str(folder)] = {"onnx": Path(tmp) / f"{i}.onnx", "model": small, "input_shape": shape}
        timed = runtime.time_networks(networks, settings["repeats"], settings["warmup"], settings["rounds"],
                                      configs=PICK_CONFIGS)
    rows, measured = [], {}
    for run, (ancestor, pick) in pairs.items():
        base, gen = ({**read_json(f / "metrics.json"), **timed[str(f)]} for f in (ancestor, pick))
        row = {"run": run, "folder": str(pick), **runtime.speedup_row(gen, base),
               **{k: gen[k] for k in ("synapses", "synaptic_efficiency", "cluster_efficiency") if k in gen},
               "ancestor_accuracy": base["accuracy"]}
        rows.append(row)
        measured[run] = {"ancestor": str(ancestor), "pick": str(pick), "timings": timed[str(pick)],
                         "ancestor_timings": timed[str(ancestor)]}
    machine = runtime.host()
    files = step_files("picks")
    write_text(out_dir / files[0], _markdown(rows, machine))
    write_csv(out_dir / files[1], rows)
    write_json(out_dir / files[2], {"host": machine, "runs": measured})
    finish("picks", {"runtime": settings}, started, out_dir, files)
    return rows


def _markdown(rows: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    b1, b256 = runtime.config_key("onnxruntime", 1), runtime.config_key(*runtime.THROUGHPUT)
    lines = [
        "# The picks side by side: each run's synthesized network against its ancestor\n",
        ("| run | generation | accuracy (ancestor) | synaptic eff. | cluster eff. | architecture | MAC reduction"
         " | batch-1 speed-up, ORT 1 thread | batch-256 throughput speed-up | ÷ MAC reduction |"),
        "|:---|---:|:---|---:|---:|:---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['generation']} | {100 * r['accuracy']:.2f} % ({100 * r['ancestor_accuracy']:.2f} %)"
            f" | {r.get('synaptic_efficiency', float('nan')):.1f}× | {r.get('cluster_efficiency', float('nan')):.1f}×"
            f" | {r['architecture']} | {r['mac_reduction']:.2f}× | {runtime.spread(r, b1)} | {runtime.spread(r, b256)}"
            f" | {r['throughput_vs_mac_reduction']:.2f} |"
        )
    return "\n".join(lines) + "\n\n" + runtime.timing_note(machine) + "\n"


def main(params: dict[str, Any], args: Namespace) -> None:
    for row in run_picks(params, args.out_dir):
        print(f"{row['run']}: gen{row['generation']} {row['onnxruntime_1thread_speedup']:.2f}× batch 1")
