"""Step ``latency``: the trade-off curves' third axis, measured batch-1 latency of one chain's networks.

Every network a curve point of the chain stands on (each of its generations,
its seed's ancestor first, and the chain's from-scratch controls) is
compacted, exported and timed in one process with ONNX Runtime, one thread,
batch 1, all interleaved in rounds in a random order
(:mod:`evosynth.analysis.timing`), beside a second copy of the seed's
ancestor, the same-architecture control (it must read 1.00× within the
spread of the rounds). Each network's speed-up is taken against that
ancestor round by round, so speed-ups of chains timed in different stages
(or sessions, or on other machines of the same kind) share their reference.
One stage per chain needs no other chain's networks: a chain is trained,
controlled, timed and committed as one group, and the report reads only the
small files in git. Native kernels in every numerics mode
(:data:`evosynth.pipeline.numerics.TIMING_STEPS`): it times what users run.

latency.json holds, per network folder, the latency summary (median, 10th
and 90th percentile, in ms), the per-round samples the speed-up was paired
on (so the speed-up recomputes from the file) and the speed-up (median over
rounds, spread, 95 % bootstrap interval); the control; the host.
"""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.analysis import runtime
from evosynth.analysis.timing import speedup, within
from evosynth.artifacts import write_json
from evosynth.errors import ParamsError
from evosynth.pipeline.curves import curve_chains
from evosynth.pipeline.curves_steps import timed_networks
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.pickset import chain_seed
from evosynth.pipeline.steps.common import finish
from evosynth.pipeline.steps.timed import CONTROL, time_folders

#: Batch 1, ONNX Runtime, one intra-op thread.
CONFIG = ("onnxruntime", 1, 1)
KEY = runtime.config_key(*CONFIG)
#: The harness settings read from ``runtime`` (shared with the other timing steps).
SETTINGS = ("repeats", "rounds", "warmup")


def run_latency(params: dict[str, Any], chain: str, out_dir: Path, root: Path = Path()) -> dict[str, Any]:
    """Time every network of ``chain`` beside a copy of its seed's ancestor; write latency.json."""
    started = time.time()
    chains = curve_chains(params) if params.get("curves") else []
    if chain not in chains:
        allowed = ", ".join(chains) or "(no curves section)"
        raise ParamsError(f"--chain: {chain!r} is not a chain of the curves; allowed: {allowed}")
    settings = {k: params["runtime"][k] for k in SETTINGS}
    folders = timed_networks(params, chain)
    ancestor = folders[0]
    timed = time_folders(folders, ancestor, settings, root, (CONFIG,))
    base = timed[ancestor][KEY]["rounds_ms"]
    networks = {folder: {**{k: v for k, v in timed[folder][KEY].items() if k not in ("batch", "threads", "fps")},
                         "speedup": speedup(base, timed[folder][KEY]["rounds_ms"])} for folder in folders}
    control = speedup(base, timed[CONTROL][KEY]["rounds_ms"])
    record = {"chain": chain, "seed": chain_seed(params, chain), "configuration": KEY, "ancestor": ancestor,
              "host": runtime.host(),
              "control": {"copy_of": ancestor, "speedup": control, "within_spread": within(1.0, control)},
              "networks": networks}
    files = step_files("latency")
    write_json(out_dir / files[0], record)
    finish("latency", {"runtime": settings, "chain": chain, "networks": folders}, started, out_dir, files)
    return record


def main(params: dict[str, Any], args: Namespace) -> None:
    record = run_latency(params, args.chain, args.out_dir)
    c = record["control"]["speedup"]
    print(f"{args.chain}: {len(record['networks'])} networks timed; control (a copy of {record['ancestor']})"
          f" {c['median']:.3f}x [{c['p10']:.3f}-{c['p90']:.3f}]")
