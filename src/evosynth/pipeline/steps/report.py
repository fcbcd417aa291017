"""Step ``report``: one experiment's (or baseline's) generation table and plot."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import read_json
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish, step_params
from evosynth.reporting import generations as report_mod


def run_report(params: dict[str, Any], experiment: str, metrics: list[Path], out_dir: Path) -> None:
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
    report_mod.generation_report(experiment, title, rows, *(out_dir / f for f in files[:-1]))
    finish("report", used, started, out_dir, files)


def main(params: dict[str, Any], args: Namespace) -> None:
    run_report(params, args.experiment, args.metrics, args.out_dir)
