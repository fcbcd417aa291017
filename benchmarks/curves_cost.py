"""The trade-off curves' cost: the estimated wall time of the curves target from params.yaml.

The curves target (``render_dvc.py --with curves``, then ``dvc repro
pipelines/curves/dvc.yaml``; or ``snakemake -c2 curves``) trains every chain
of ``curves.evolved``, ``curves.search.candidates`` and ``curves.baselines``
(baselines on their own schedule: their own generation count), then every
from-scratch control of ``curves.scratch`` (``ancestor_epochs + g × epochs``
epochs each), then one latency timing per chain, then the report. The chains
are costed as in ``evidence_cost.py`` (its :func:`chains_cost` and reference
figures: every network as the dense ancestor, an upper bound; one stage at a
time); a control likewise. A latency stage compacts, exports and opens an
ONNX Runtime session for each network of its chain (its seed's ancestor,
its generations, its controls) and its same-architecture control
(:data:`NETWORK_S` each), then calls every network ``warmup + rounds × (1 +
⌈repeats / rounds⌉)`` times (``runtime``'s harness settings), each call
costed as the dense ancestor's batch-1 latency (:data:`CALL_MS`, an upper bound).

    python benchmarks/curves_cost.py --dry                       # reference figures, nothing measured
    python benchmarks/curves_cost.py --images 60000 --threads 1  # measure this machine's epoch first
"""

from __future__ import annotations

import sys
from pathlib import Path

from evidence_cost import REFERENCE, chains_cost, cost_parser, scaled_figures

from evosynth.pipeline.curves import curve_chains, curve_runs, scratch_runs
from evosynth.pipeline.curves_steps import timed_networks
from evosynth.pipeline.params import load_params, training_spec
from evosynth.pipeline.seeds import members
from evosynth.pipeline.steps.scratch import total_epochs

ROOT = Path(__file__).resolve().parents[1]
#: The curves stage: read every metrics file and timing, choose, interpolate, plot five figures.
REPORT_S = 30.0
#: One network of a latency stage: load, compact, export to ONNX, open an ONNX Runtime session (an upper bound).
NETWORK_S = 0.5
#: One batch-1 ONNX Runtime call, 1 thread, of the dense LeNet5 ancestor: 0.125 ms measured on the quiet AMD EPYC
#: (reports/picks/runtime.json, the control); every network costed as the ancestor, an upper bound.
CALL_MS = 0.13
#: A latency stage's own overhead: the process, torch and onnxruntime imports, the record.
LATENCY_STAGE_S = 10.0
#: The command of one chain's group: its timing (which needs its networks and its controls) and its generation
#: report (which needs every generation's metrics: the last generation's evaluation is needed by nothing else).
GROUP = "dvc repro pipelines/curves/dvc.yaml:latency-{chain} pipelines/{chain}/dvc.yaml:report-{chain}"


def latency_cost(params: dict, chains: list[str] | None = None) -> dict[str, float]:
    """Wall seconds of the latency stages of ``chains`` (default: every chain of the curves): networks timed per
    chain (with the control), calls per network."""
    settings = params["runtime"]
    calls = settings["warmup"] + settings["rounds"] * (1 + -(-settings["repeats"] // settings["rounds"]))
    chains = curve_chains(params) if chains is None else chains
    networks = sum(len(timed_networks(params, chain)) + 1 for chain in chains)  # + the control
    seconds = len(chains) * LATENCY_STAGE_S + networks * (NETWORK_S + calls * CALL_MS / 1e3)
    return {"timed": networks, "calls": calls, "latency_s": seconds}


def controls_cost(params: dict, controls: list[tuple[str, int]], epoch_s: float, evaluate_s: float,
                  stage_s: float) -> tuple[int, float]:
    """(epochs, wall seconds) of from-scratch controls (chain, generation): each one stage, its total epochs."""
    epochs = sum(total_epochs(training_spec(params, chain)["train"], g) for chain, g in controls)
    return epochs, epochs * epoch_s + len(controls) * (evaluate_s + stage_s)


def curves_cost(params: dict, epoch_s: float, evaluate_s: float, stage_s: float, other_s: float) -> dict[str, float]:
    """Wall seconds of the curves target: its chains, its controls (one stage each), its timings, its report."""
    chains = list(dict.fromkeys(chain for name in curve_runs(params) for chain in members(params, name)))
    cost = chains_cost(params, chains, epoch_s, evaluate_s, stage_s, other_s)
    controls = [(chain, g) for chain, g, _ in scratch_runs(params)]
    scratch_epochs, scratch_s = controls_cost(params, controls, epoch_s, evaluate_s, stage_s)
    latency = latency_cost(params)
    return {**cost, "controls": len(controls), "scratch_epochs": scratch_epochs, "scratch_s": scratch_s, **latency,
            "wall_s": cost["wall_s"] + scratch_s + latency["latency_s"] + REPORT_S}


def groups(params: dict, epoch_s: float, evaluate_s: float, stage_s: float,
           other_s: float) -> list[tuple[str, int, float]]:
    """(run, chains, wall seconds) of the target's parts, in the order they can run: the evolved run (it trains
    every seed's ancestor), each candidate, each baseline; each with its chains' from-scratch controls and
    timings. A chain with its controls and its timing needs no other chain's networks (its seed's ancestor
    aside: a few minutes to retrain on a new machine): one session runs and commits it (:data:`GROUP`). The
    groups add up to the target less its report."""
    out = []
    for name in curve_runs(params):
        chains = members(params, name)
        mine = [(chain, g) for chain, g, _ in scratch_runs(params) if chain in chains]
        seconds = (chains_cost(params, chains, epoch_s, evaluate_s, stage_s, other_s)["wall_s"]
                   + controls_cost(params, mine, epoch_s, evaluate_s, stage_s)[1]
                   + latency_cost(params, chains)["latency_s"])
        out.append((name, len(chains), seconds))
    return out


def groups_table(params: dict, figures: tuple[float, ...]) -> str:
    rows = ["| run | chains | hours | a chain with its controls and timing |", "|:---|---:|---:|---:|"]
    rows += [f"| {name} | {count} | {seconds / 3600:.2f} | {seconds / count / 3600:.2f} |"
             for name, count, seconds in groups(params, *figures)]
    return "\n".join(rows)


def estimate_line(params: dict, label: str, figures: tuple[float, ...]) -> str:
    cost = curves_cost(params, *figures)
    return (f"- {label}: {cost['chains']} chains, {cost['ancestors']} ancestors, {cost['generations']} offspring,"
            f" {cost['epochs']} full-set epochs; {cost['controls']} from-scratch controls,"
            f" {cost['scratch_epochs']} epochs ({cost['scratch_s'] / 3600:.2f} h); {cost['timed']} networks timed"
            f" ({cost['calls']} calls each, {cost['latency_s'] / 60:.1f} min); epoch {figures[0]:.1f} s, evaluate"
            f" {figures[1]:.1f} s, {figures[2]:.1f} s per stage: **{cost['wall_s'] / 3600:.2f} h** (`dvc repro`,"
            " one stage at a time).")


def main(argv: list[str] | None = None) -> None:
    args = cost_parser(__doc__, ROOT / "params.yaml").parse_args(argv)
    params = load_params(args.params)
    if not params.get("curves"):
        sys.exit(f"{args.params}: no curves section: there are no curves to cost")
    lines = []
    if not args.dry:
        lines.append(estimate_line(params, "scaled from this run, batch 64", scaled_figures(args)))
    lines.append(estimate_line(params, "quiet-machine reference", REFERENCE))
    lines += ["", "By run at the reference figures (upper bounds; one session runs and commits a chain with its"
              " controls and timing, or several):", "", groups_table(params, REFERENCE), "",
              f"One chain's group (`render_dvc.py --with curves` first): `{GROUP}`."]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
