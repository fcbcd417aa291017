"""Step ``report``: one experiment's (or baseline's) generation table and plot."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import read_json, write_csv, write_json
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish, step_params
from evosynth.reporting import generations as report_mod
from evosynth.reporting import summary


def run_report(params: dict[str, Any], experiment: str, metrics: list[Path], out_dir: Path,
               runtime: Path | None = None) -> None:
    started = time.time()
    rows = [read_json(path) for path in metrics]
    files = step_files("report")
    if experiment in params["baselines"]:
        spec = params["baselines"][experiment]
        title, used = f"{spec['method']} pruning following {spec['follow']} (baseline)", spec
    else:
        exp = params["experiments"][experiment]
        env = exp["environment"]
        title = (
            f"{exp['method']} on {exp['dataset']} ({exp['architecture']}), F = {env['factor']}"
            f" ({env['mode']} mode), init {exp['init']}"
        )
        used = step_params(exp, "report")
    report_mod.generation_report(experiment, title, rows, *(out_dir / f for f in files[:3]))
    tolerance = tolerance_of(params)
    speed = summary.speedup(read_json(runtime)["generations"]) if runtime else {}
    write_json(out_dir / files[3], {**summary.summary(rows, tolerance), **speed})
    write_csv(out_dir / files[4], summary.plot_rows(rows))
    finish("report", {**used, "papers.tolerance": tolerance}, started, out_dir, files)


def tolerance_of(params: dict[str, Any]) -> float:
    """The accuracy tolerance of the synthesized network (``papers.tolerance``; the papers' 1 % without it)."""
    return float((params.get("papers") or {}).get("tolerance", 0.01))


def main(params: dict[str, Any], args: Namespace) -> None:
    run_report(params, args.experiment, args.metrics, args.out_dir, args.runtime)
