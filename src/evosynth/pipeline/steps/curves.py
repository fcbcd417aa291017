"""Step ``curves``: the trade-off curves over seeds, the operating-point table and the from-scratch controls."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import read_json
from evosynth.errors import ParamsError
from evosynth.pipeline.curves import curve_runs, scratch_folder
from evosynth.pipeline.layout import chain_metrics
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.pickset import seeded_chains
from evosynth.pipeline.steps.common import finish
from evosynth.reporting.curves import trajectory
from evosynth.reporting.curves_report import curves_report

#: The accuracy quoted (test); the one deciding the best other method at a point is ``curves.decide_on``.
QUOTE = "accuracy"


def run_curves(params: dict[str, Any], out_dir: Path, root: Path = Path()) -> list[dict[str, Any]]:
    """Read every chain of the evolved run and its baselines, and every control; write reports/curves/."""
    started = time.time()
    curves = params.get("curves")
    if not curves:
        raise ParamsError("curves: missing; allowed: a curves section in params.yaml (docs/method.md §10.6)")
    decide = curves["decide_on"]
    keys = (QUOTE, decide, "synaptic_efficiency", "mac_reduction")
    methods = {name: {seed: trajectory([read_json(root / p) for p in chain_metrics(chain, params)], keys, chain)
                      for seed, chain in sorted(seeded_chains(params, name).items())}
               for name in curve_runs(params)}
    scratch = curves.get("scratch") or {}
    controls = {name: {g: {seed: read_json(root / scratch_folder(chain, g) / "metrics.json")
                           for seed, chain in sorted(seeded_chains(params, name).items())}
                       for g in scratch.get("generations", [])}
                for name in scratch.get("chains", [])}
    info = {"evolved": curves["evolved"], "confidence": curves["confidence"],
            "operating_points": curves["operating_points"], "decide_on": decide}
    files = step_files("curves")
    rows = curves_report(methods, controls, info, [out_dir / f for f in files[:-1]])
    finish("curves", {"curves": curves}, started, out_dir, files)
    return rows


def main(params: dict[str, Any], args: Namespace) -> None:
    for row in run_curves(params, args.out_dir):
        d = row["difference"]
        print(f"{row['axis']} {row['point']:g}×: evolved − {row['best_other'] or 'none'}"
              f" {d['mean']:+.2f} pp over {d['n']} seeds")
