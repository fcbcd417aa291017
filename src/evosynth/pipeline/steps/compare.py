"""Step ``compare``: every comparison of params.yaml, a paper's claim against its control."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import read_json
from evosynth.pipeline.layout import metrics_files
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish
from evosynth.reporting import comparisons as comparisons_mod


def run_compare(params: dict[str, Any], out_dir: Path) -> list[dict[str, Any]]:
    """The measured results note: every comparison of params.yaml, claim by claim."""
    started = time.time()
    comparisons = params["comparisons"]
    involved = {c[role] for c in comparisons.values() for role in ("treatment", "control")}
    metrics = {
        exp: [read_json(path) for path in metrics_files(exp, params["experiments"][exp])] for exp in involved
    }
    files = step_files("compare")
    results = comparisons_mod.comparison_report(
        comparisons, metrics, *(out_dir / f for f in files[:-1]),
        title="Measured results: each paper's claim against its control",
    )
    finish("compare", {"comparisons": comparisons}, started, out_dir, files)
    return results


def main(params: dict[str, Any], args: Namespace) -> None:
    for row in run_compare(params, args.out_dir):
        print(f"{row['comparison']}: the claim {row['outcome']}")
