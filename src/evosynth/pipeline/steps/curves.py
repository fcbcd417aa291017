"""Step ``curves``: the trade-off curves over seeds (three axes), the operating-point table, the from-scratch
controls and the search for the evolved configuration, chosen on validation."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import read_json
from evosynth.errors import ArtifactError, ParamsError
from evosynth.pipeline.curves import (configurations, curve_chains, curve_runs, curve_seeds, latency_folder,
                                      scratch_folder)
from evosynth.pipeline.layout import chain_metrics
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.pickset import seeded_chains
from evosynth.pipeline.steps.common import finish
from evosynth.reporting.curves import trajectory
from evosynth.reporting.curves_report import curves_report
from evosynth.scores import VALIDATION

#: The accuracy quoted (test); the one deciding the best other method at a point is ``curves.decide_on``;
#: the search reads validation accuracy only (:mod:`evosynth.reporting.curves_search`).
QUOTE = "accuracy"


def _series(params: dict[str, Any], name: str, keys: tuple[str, ...], timings: dict[str, dict[str, Any]],
            root: Path) -> dict[int, Any]:
    """seed → one chain's metrics by generation, each with its measured speed-up and latency."""
    out = {}
    for seed, chain in sorted(seeded_chains(params, name).items()):
        metrics = [{**read_json(root / p), **_timed(timings[chain], str(Path(p).parent), chain)}
                   for p in chain_metrics(chain, params)]
        out[seed] = trajectory(metrics, keys, chain)
    return out


def _timed(timing: dict[str, Any], folder: str, where: str) -> dict[str, float]:
    """A network's measured speed-up against its seed's ancestor and its median latency, from latency.json."""
    network = timing["networks"].get(folder)
    if network is None:
        raise ArtifactError(f"{where}: {folder} is not in the latency record of {timing['chain']};"
                            " allowed: a latency.json written for these runs (rerun the latency stage)")
    return {"latency_speedup": network["speedup"]["median"], "latency_ms": network["median_ms"]}


def run_curves(params: dict[str, Any], out_dir: Path, root: Path = Path()) -> dict[str, Any]:
    """Read every chain of every configuration tried and of the baselines, every control and every timing;
    choose a configuration on validation; write reports/curves/."""
    started = time.time()
    curves = params.get("curves")
    if not curves:
        raise ParamsError("curves: missing; allowed: a curves section in params.yaml (docs/method.md §10.6)")
    decide, tried = curves["decide_on"], configurations(params)
    search = curves["search"]
    seeds = curve_seeds(params)
    timings = {chain: read_json(root / latency_folder(chain) / "latency.json") for chain in curve_chains(params)}
    keys = (QUOTE, decide, "synaptic_efficiency", "mac_reduction", *((VALIDATION,) if len(tried) > 1 else ()))
    runs = {name: _series(params, name, keys, timings, root) for name in curve_runs(params)}
    scratch = curves.get("scratch") or {}
    controls = {name: {g: {seed: {**read_json(root / scratch_folder(chain, g) / "metrics.json"),
                                  **_timed(timings[chain], scratch_folder(chain, g), chain)}
                           for seed, chain in sorted(seeded_chains(params, name).items())}
                       for g in scratch.get("generations", [])}
                for name in scratch.get("chains", [])}
    info = {"confidence": curves["confidence"], "operating_points": curves["operating_points"], "decide_on": decide,
            "search_axis": search["axis"], "scratch_chains": scratch.get("chains", []), "seeds": seeds}
    files = step_files("curves")
    result = curves_report({n: runs[n] for n in tried}, {n: runs[n] for n in runs if n not in tried}, controls,
                           {chain: t["control"] for chain, t in timings.items()}, info,
                           [out_dir / f for f in files[:-1]])
    finish("curves", {"curves": curves}, started, out_dir, files)
    return result


def main(params: dict[str, Any], args: Namespace) -> None:
    result = run_curves(params, args.out_dir)
    found = result["search"]
    print(f"search: {found['tried']} configurations tried, chosen on validation: {found['chosen']}")
    if not found["compared"]:
        print(f"not compared yet: {found['chosen']} runs seeds {found['runs']}, the curves {curve_seeds(params)}"
              " (reports/curves/curves.md says what to change)")
    for row in result["rows"]:
        d, name = row["difference"], f"{row['axis']} {row['point']:g}×"
        if not d["n"]:  # no seed where the evolved run and another both reach the point
            print(f"{name}: no seed on which {found['chosen']} and another method both reach it")
            continue
        print(f"{name}: {found['chosen']} − {row['best_other']} {d['mean']:+.2f} pp over {d['n']} seed(s)")
