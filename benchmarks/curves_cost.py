"""The trade-off curves' cost: the estimated wall time of the curves target from params.yaml.

The curves target (``render_dvc.py --with curves``, then ``dvc repro
pipelines/curves/dvc.yaml``; or ``snakemake -c2 curves``) trains every chain
of ``curves.evolved`` and ``curves.baselines`` (baselines on their own
schedule: their own generation count), then every from-scratch control of
``curves.scratch`` (``ancestor_epochs + g × epochs`` epochs each), then the
report. The chains are costed as in ``evidence_cost.py`` (its
:func:`chains_cost` and reference figures: every network as the dense
ancestor, an upper bound; one stage at a time); a control likewise.

    python benchmarks/curves_cost.py --dry                       # reference figures, nothing measured
    python benchmarks/curves_cost.py --images 60000 --threads 1  # measure this machine's epoch first
"""

from __future__ import annotations

import sys
from pathlib import Path

from evidence_cost import REFERENCE, chains_cost, cost_parser, scaled_figures

from evosynth.pipeline.curves import curve_runs, scratch_runs
from evosynth.pipeline.params import load_params, training_spec
from evosynth.pipeline.seeds import members
from evosynth.pipeline.steps.scratch import total_epochs

ROOT = Path(__file__).resolve().parents[1]
#: The curves stage: read every metrics file, interpolate, plot two figures.
REPORT_S = 30.0


def curves_cost(params: dict, epoch_s: float, evaluate_s: float, stage_s: float, other_s: float) -> dict[str, float]:
    """Wall seconds of the curves target: its chains, its controls (one stage each), its report."""
    chains = list(dict.fromkeys(chain for name in curve_runs(params) for chain in members(params, name)))
    cost = chains_cost(params, chains, epoch_s, evaluate_s, stage_s, other_s)
    controls = scratch_runs(params)
    scratch_epochs = sum(total_epochs(training_spec(params, chain)["train"], g) for chain, g, _ in controls)
    scratch_s = scratch_epochs * epoch_s + len(controls) * (evaluate_s + stage_s)
    return {**cost, "controls": len(controls), "scratch_epochs": scratch_epochs, "scratch_s": scratch_s,
            "wall_s": cost["wall_s"] + scratch_s + REPORT_S}


def estimate_line(params: dict, label: str, figures: tuple[float, ...]) -> str:
    cost = curves_cost(params, *figures)
    return (f"- {label}: {cost['chains']} chains, {cost['ancestors']} ancestors, {cost['generations']} offspring,"
            f" {cost['epochs']} full-set epochs; {cost['controls']} from-scratch controls,"
            f" {cost['scratch_epochs']} epochs ({cost['scratch_s'] / 3600:.2f} h); epoch {figures[0]:.1f} s, evaluate"
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
    print("\n".join(lines))


if __name__ == "__main__":
    main()
