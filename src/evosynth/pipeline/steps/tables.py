"""Step ``paper_tables``: the paper tables of one experiment that runs by name, quoted beside measured.

EvoNet Tables I and II (an experiment with ``test_on`` sets: its own test set
and each ``test_on`` set, EvoNet §III) and the cluster paper's Table 3 (a
DetectNet experiment on KITTI, cluster paper §3); the default experiments'
tables are the ``papers`` step's.
"""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import read_json, write_text
from evosynth.pipeline.layout import metrics_files, transfer_metrics
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish, step_params
from evosynth.reporting.cluster import detectnet_table
from evosynth.reporting.evonet import evonet_tables
from evosynth.reporting.table import Table


def experiment_tables(params: dict[str, Any], experiment: str) -> list[Table]:
    """The paper tables of ``experiment`` from its metrics files (and its ``test_on`` scores)."""
    spec = params["experiments"][experiment]
    own = metrics_files(experiment, spec)
    tables = []
    if spec["architecture"] == "detectnet":
        tables.append(detectnet_table(experiment, [read_json(Path(f)) for f in own], own))
    if spec["test_on"]:
        files = {spec["dataset"]: own, **{d: transfer_metrics(experiment, spec, d) for d in spec["test_on"]}}
        sets = {d: (params["datasets"][d]["source"], [read_json(Path(f)) for f in paths], paths)
                for d, paths in files.items()}
        tables += evonet_tables(experiment, sets)
    return tables


def run_paper_tables(params: dict[str, Any], experiment: str, out_dir: Path) -> list[str]:
    """Write reports/<experiment>/paper_tables.{md,csv}; the tables' titles."""
    started = time.time()
    tables = experiment_tables(params, experiment)
    names = step_files("paper_tables")
    write_text(out_dir / names[0], "\n".join(t.markdown() for t in tables))
    write_text(out_dir / names[1], "\n".join(t.csv() for t in tables))
    finish("paper_tables", step_params(params["experiments"][experiment], "paper_tables"), started, out_dir, names)
    return [t.title for t in tables]


def main(params: dict[str, Any], args: Namespace) -> None:
    for title in run_paper_tables(params, args.experiment, args.out_dir):
        print(f"{args.experiment}: {title}")
