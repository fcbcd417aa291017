"""Step ``evidence``: the evidence set's verdicts, every claim paired by seed with its interval."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.artifacts import read_json
from evosynth.pipeline.layout import metrics_files
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.seeds import FAMILIES, member_name
from evosynth.pipeline.steps.common import finish
from evosynth.reporting.evidence import evidence_report


def run_evidence(params: dict[str, Any], out_dir: Path) -> list[dict[str, Any]]:
    """Read every chain of every claim and sweep point; write reports/evidence/."""
    started = time.time()
    evidence, families = params["evidence"], params[FAMILIES]
    names = dict.fromkeys([*(c[r] for c in evidence["claims"].values() for r in ("treatment", "control")),
                           *evidence["sweep"]])
    runs = {}
    for family in names:
        chains = {seed: member_name(family, seed) for seed in families[family]["seeds"]}
        runs[family] = {seed: [read_json(p) for p in metrics_files(exp, params["experiments"][exp])]
                        for seed, exp in chains.items()}
    factors = {name: families[name]["environment"]["factor"] for name in evidence["sweep"]}
    files = step_files("evidence")
    rows = evidence_report(evidence, runs, factors, [out_dir / f for f in files[:-1]])
    finish("evidence", {"evidence": evidence, "families": {n: families[n] for n in names}}, started, out_dir, files)
    return rows


def main(params: dict[str, Any], args: Namespace) -> None:
    for row in run_evidence(params, args.out_dir):
        print(f"{row['claim']}: {row['verdict']} ({row['mean']:+.3f} {row['unit']},"
              f" interval [{row['low']:+.3f}, {row['high']:+.3f}], {row['seeds']} seeds)")
