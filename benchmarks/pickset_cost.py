"""The pick set's cost: the estimated wall time of the pickset target from params.yaml.

The pickset (``render_dvc.py --with pickset``, then ``dvc repro
pipelines/picks/dvc.yaml``; or ``snakemake pickset``) trains every chain of
the pick, its ablations and its baselines (one per seed), then the picks
stage times every generation of every chain of ``runtime.picks``. The
training is costed as in ``evidence_cost.py`` (its :func:`chains_cost` and
figures: every network as the dense ancestor, so an upper bound; one stage at
a time); the timing from the dense ancestor's batch-1 and batch-256 latency
in the committed runtime report (``reports/fmnist_evonet/runtime.json``,
generation 0), every call of every network costed at the dense figures.

    python benchmarks/pickset_cost.py --dry                       # reference figures, nothing measured
    python benchmarks/pickset_cost.py --images 60000 --threads 1  # measure this machine's epoch first
"""

from __future__ import annotations

import sys
from pathlib import Path

from evidence_cost import REFERENCE, chains_cost, cost_parser, scaled_figures

from evosynth.artifacts import read_json
from evosynth.pipeline.layout import chain_metrics
from evosynth.pipeline.params import load_params
from evosynth.pipeline.pickset import ablation_chains, timed_chains

ROOT = Path(__file__).resolve().parents[1]
#: Where the dense ancestor's measured latencies come from (generation 0 of the default runtime report).
TIMINGS = ROOT / "reports" / "fmnist_evonet" / "runtime.json"
#: The picks stage beyond its timings: export every network, read the metrics, write the report and figures.
REPORT_S = 60.0


def dense_latency(path: Path = TIMINGS) -> tuple[float, float]:
    """Milliseconds of one batch-1 and one batch-256 ONNX Runtime call (1 thread) of the dense ancestor."""
    ancestor = read_json(path)["generations"][0]
    return ancestor["onnxruntime_1thread"]["median_ms"], ancestor["onnxruntime_1thread_b256"]["median_ms"]


def timed_networks(params: dict) -> int:
    """Networks the picks stage times: every generation of every timed chain (shared ancestors once), the control."""
    folders = {m for chain in timed_chains(params) for m in chain_metrics(chain, params)}
    return len(folders) + 1


def timing_cost(params: dict, networks: int, b1_ms: float, b256_ms: float) -> float:
    """Seconds of the interleaved timing: per network and configuration, warm-up plus every timed call."""
    settings = params["runtime"]
    calls = settings["warmup"] + settings["rounds"] * -(-settings["repeats"] // settings["rounds"])
    return networks * calls * (b1_ms + b256_ms) / 1e3


def pickset_cost(params: dict, epoch_s: float, evaluate_s: float, stage_s: float, other_s: float,
                 b1_ms: float, b256_ms: float) -> dict[str, float]:
    """Wall seconds of the whole pick set: its chains, then the picks stage."""
    chains = list(dict.fromkeys([*timed_chains(params), *ablation_chains(params)]))
    cost = chains_cost(params, chains, epoch_s, evaluate_s, stage_s, other_s)
    networks = timed_networks(params)
    picks_s = timing_cost(params, networks, b1_ms, b256_ms) + REPORT_S
    return {**cost, "networks": networks, "picks_s": picks_s, "wall_s": cost["wall_s"] + picks_s}


def estimate_line(params: dict, label: str, figures: tuple[float, ...], latency: tuple[float, float]) -> str:
    cost = pickset_cost(params, *figures, *latency)
    return (f"- {label}: {cost['chains']} chains, {cost['ancestors']} ancestors, {cost['generations']} offspring,"
            f" {cost['epochs']} full-set epochs (epoch {figures[0]:.1f} s, evaluate {figures[1]:.1f} s,"
            f" {figures[2]:.1f} s per stage); picks stage: {cost['networks']} networks timed,"
            f" {cost['picks_s'] / 60:.1f} min: **{cost['wall_s'] / 3600:.2f} h** (`dvc repro`, one stage at a time).")


def main(argv: list[str] | None = None) -> None:
    args = cost_parser(__doc__, ROOT / "params.yaml").parse_args(argv)
    params = load_params(args.params)
    if not params["runtime"]["picks"]:
        sys.exit(f"{args.params}: runtime.picks is empty: there is no pick set to cost")
    latency = dense_latency()
    lines = [f"Dense ancestor, ONNX Runtime 1 thread ({TIMINGS.relative_to(ROOT)}, generation 0): batch 1"
             f" {latency[0]:.3f} ms, batch 256 {latency[1]:.1f} ms.", ""]
    if not args.dry:
        lines.append(estimate_line(params, "scaled from this run, batch 64", scaled_figures(args), latency))
    lines.append(estimate_line(params, "quiet-machine reference", REFERENCE, latency))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
