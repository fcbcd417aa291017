"""Step ``probe``: the capacity probe's report, every architecture over its seeds against the reference's ancestor."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import read_json
from evosynth.errors import ParamsError
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.probe import probe_runs
from evosynth.pipeline.probe_steps import reference_ancestor
from evosynth.pipeline.steps.common import finish
from evosynth.reporting.probe import probe_report, summarise


def run_probe(params: dict[str, Any], out_dir: Path, root: Path = Path()) -> tuple[str, list[dict[str, Any]]]:
    """Read every probe network's metrics and the reference ancestor's; write reports/probe/. The answer and rows."""
    started = time.time()
    probe = params.get("probe")
    if not probe:
        raise ParamsError("probe: missing; allowed: a probe section in params.yaml (docs/method.md §13.7)")
    runs = [read_json(root / folder / "metrics.json") for _, _, _, folder, _ in probe_runs(probe)]
    reference = read_json(root / reference_ancestor(params) / "metrics.json")
    rows = summarise(runs, reference, probe["tolerance"], probe["targets"], probe["confidence"])
    info = {**{k: probe[k] for k in ("reference", "tolerance", "targets", "confidence", "train", "seeds", "recipes",
                                     "recipe_widths")},
            "kernel_sparse": probe.get("kernel_sparse"),
            "test_images": runs[0]["test_images"]}
    files = step_files("probe")
    outcome, _ = probe_report(rows, reference, info, [out_dir / f for f in files[:-1]])
    finish("probe", {"probe": probe}, started, out_dir, files)
    return outcome, rows


def main(params: dict[str, Any], args: Namespace) -> None:
    outcome, rows = run_probe(params, args.out_dir)
    for row in rows:
        print(f"{row['architecture']}: {row['accuracy_mean']:.2f} % over {row['seeds']} seeds, {row['verdict']}"
              f" (targets {'met' if row['meets_targets'] else 'not met'})")
    print(f"probe: {outcome}")
