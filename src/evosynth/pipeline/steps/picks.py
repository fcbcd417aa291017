"""Step ``picks``: the pick set's report (issue 16): the pick against each run of ``runtime.picks`` and its ablations.

Every generation of every chain (every seed) of ``runtime.picks`` is
compacted, exported and timed in one process, all networks interleaved in
rounds in a random order (:mod:`evosynth.analysis.timing`): batch-1 latency
in ONNX Runtime with one thread and batch-256 throughput, each network's
speed-up paired round by round with its own ancestor's. A second copy of the
pick's first ancestor is timed among them as the harness check (it must read
1.00×). The report itself is :mod:`evosynth.reporting.picks` (tables and
verdicts), :mod:`evosynth.reporting.picks_markdown` (picks.md) and
:mod:`evosynth.reporting.picks_figures` (Pareto figures).
"""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.analysis import runtime
from evosynth.analysis.timing import speedup
from evosynth.artifacts import read_json, write_csv, write_json, write_text
from evosynth.pipeline.layout import chain_metrics
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.pickset import pick_of, seeded_chains
from evosynth.pipeline.steps.common import finish
from evosynth.pipeline.steps.report import tolerance_of
from evosynth.pipeline.steps.timed import CONTROL, time_folders
from evosynth.reporting import picks as report
from evosynth.reporting import picks_markdown as words
from evosynth.reporting.picks_figures import FIGURES, pareto_figures
from evosynth.scores import DECISION

#: Batch-1 latency and batch-256 throughput, both ONNX Runtime with one thread.
PICK_CONFIGS = (("onnxruntime", 1, 1), runtime.THROUGHPUT)


def _chains(params: dict[str, Any], names: list[str], root: Path) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """run → seed → that chain's metrics rows (with the folder each was read from), by generation."""
    return {name: {seed: [{**read_json(root / m), "folder": str(Path(m).parent)} for m in chain_metrics(chain, params)]
                   for seed, chain in seeded_chains(params, name).items()} for name in names}


def run_picks(params: dict[str, Any], out_dir: Path, root: Path = Path()) -> dict[str, Any]:
    """Time every network of the set, write reports/picks/; return the report's tables."""
    started = time.time()
    settings, section, tolerance = params["runtime"], params["picks"], tolerance_of(params)
    pick = pick_of(params)
    runs = _chains(params, params["runtime"]["picks"], root)
    ablations = _chains(params, section["ablations"], root)
    folders = list(dict.fromkeys(r["folder"] for chains in runs.values() for rows in chains.values() for r in rows))
    first = runs[pick][min(runs[pick])][0]["folder"]  # the pick's first ancestor: the control is its copy
    timed = time_folders(folders, first, settings, root, PICK_CONFIGS)
    measured = []
    for run, chains in runs.items():
        for seed, rows in chains.items():
            base = {**rows[0], **timed[rows[0]["folder"]]}
            for i, row in enumerate(rows):
                speed = runtime.speedup_row({**row, **timed[row["folder"]]}, base)
                rows[i] = {**row, **{k: v for k, v in speed.items() if k.endswith(("speedup", "_p10", "_p90"))},
                           report.THROUGHPUT: speed[report.THROUGHPUT]}
                measured.append({"run": run, "seed": seed, "chain_folder": row["folder"], **speed})
            chains[seed] = report.with_reductions(rows)
    control = {runtime.config_key(e, t, b): speedup(timed[first][runtime.config_key(e, t, b)]["rounds_ms"],
                                                    timed[CONTROL][runtime.config_key(e, t, b)]["rounds_ms"])
               for e, t, b in PICK_CONFIGS}
    tables = report.picks_tables(runs, pick, ablations, tolerance, section["confidence"], DECISION)
    files = step_files("picks")
    machine = runtime.host()
    text = words.markdown(tables, pick, tolerance, section["confidence"], words.control_lines(first, control),
                           section["targets"])
    write_text(out_dir / files[0], text)
    write_csv(out_dir / files[1], report.selected_rows({**tables["selected"], **tables["ablation_selected"]}))
    write_csv(out_dir / files[2], [*tables["summaries"], *tables["comparisons"], *tables["ablations"]])
    pareto_figures(runs, tables["selected"], pick, tolerance, {name: out_dir / f"{name}.png" for name, _ in FIGURES})
    write_text(out_dir / files[6], _runtime_markdown(tables["selected"], control, first, machine))
    write_csv(out_dir / files[7], measured)
    write_json(out_dir / files[8], {"host": machine, "control": {"copy_of": first, "speedup": control},
                                    "networks": timed})
    finish("picks", {"runtime": settings, "picks": section, "pick": pick, "papers.tolerance": tolerance},
           started, out_dir, files)
    return tables


def _runtime_markdown(chosen: dict[str, dict[int, dict[str, Any]]], control: dict[str, Any], first: str,
                      machine: dict[str, Any]) -> str:
    """Each run's selected network per seed beside its ancestor, and the control."""
    b1, b256 = runtime.config_key("onnxruntime", 1), runtime.config_key(*runtime.THROUGHPUT)
    lines = [
        "# The picks timed side by side: each run's selected network against its ancestor, per seed\n",
        ("| run | seed | generation | accuracy (ancestor) | synaptic eff. | cluster eff. | architecture | MAC reduction"
         " | batch-1 speed-up, ORT 1 thread | batch-256 throughput speed-up | ÷ MAC reduction |"),
        "|:---|---:|---:|:---|---:|---:|:---|---:|---:|---:|---:|",
    ]
    for run, per_seed in chosen.items():
        for seed, r in sorted(per_seed.items()):
            lines.append(
                f"| {run} | {seed} | {r['generation']} | {100 * r['accuracy']:.2f} % ({100 * r['ancestor_accuracy']:.2f} %)"
                f" | {r['synaptic_efficiency']:.1f}× | {r['cluster_efficiency']:.1f}× | {r['architecture']}"
                f" | {r['mac_reduction']:.2f}× | {runtime.spread(r, b1)} | {runtime.spread(r, b256)}"
                f" | {r[report.THROUGHPUT]:.2f} |")
    lines += ["", f"Control, a second copy of {first}: batch 1 {control[b1]['median']:.3f}×"
              f" [{control[b1]['p10']:.3f}–{control[b1]['p90']:.3f}], batch 256 {control[b256]['median']:.3f}×"
              f" [{control[b256]['p10']:.3f}–{control[b256]['p90']:.3f}] (must read 1.00× within the spread)."]
    return "\n".join(lines) + "\n\n" + runtime.timing_note(machine) + "\n"


def main(params: dict[str, Any], args: Namespace) -> None:
    tables = run_picks(params, args.out_dir)
    for other, statement in tables["statements"].items():
        print(f"{other}: {statement['sentence']}")
