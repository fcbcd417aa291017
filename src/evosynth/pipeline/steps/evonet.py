"""Step ``evonet_tables``: EvoNet Tables I and II of one experiment (EvoNet §III, Tables I–II)."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import read_json, write_text
from evosynth.pipeline.layout import metrics_files, transfer_metrics
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish, step_params
from evosynth.reporting.evonet import evonet_tables


def run_evonet_tables(params: dict[str, Any], experiment: str, out_dir: Path) -> list[str]:
    """Every generation on the experiment's own test set (Table I) and on each ``test_on`` set (Table II)."""
    started = time.time()
    spec = params["experiments"][experiment]
    files = {spec["dataset"]: metrics_files(experiment, spec)}
    files.update({d: transfer_metrics(experiment, spec, d) for d in spec["test_on"]})
    sets = {d: (params["datasets"][d]["source"], [read_json(Path(f)) for f in paths], paths)
            for d, paths in files.items()}
    tables = evonet_tables(experiment, sets)
    names = step_files("evonet_tables")
    write_text(out_dir / names[0], "\n".join(t.markdown() for t in tables))
    write_text(out_dir / names[1], "\n".join(t.csv() for t in tables))
    finish("evonet_tables", step_params(spec, "evonet_tables"), started, out_dir, names)
    return [t.title for t in tables]


def main(params: dict[str, Any], args: Namespace) -> None:
    for title in run_evonet_tables(params, args.experiment, args.out_dir):
        print(f"{args.experiment}: {title}")
