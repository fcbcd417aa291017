"""The literal-mode scale at which a method shrinks at a paper's realised rate (docs/method.md §11.6).

Literal mode draws every cluster and synapse with k·F·P (clipped to 1); with
k = 1 (the papers' product as printed) LeNet5 on Fashion-MNIST keeps far
less than F per generation, and both arms of the sexual comparison collapse
within a few generations. This script finds the one number k at which an
experiment's first offspring, drawn from a trained ancestor, keeps the target
share of the ancestor's synapses after keep-minimum and compaction (bisection
on k, the real encode and synthesize steps, the experiment's own seed). Put
the printed k into `environment.literal_scale` of BOTH arms: the control is
then at the paper's rate, and the treatment shrinks at whatever rate its method
gives under the same environment.

    python benchmarks/literal_rate.py --experiment ev_asexual_literal_s0 \\
        --ancestor results/ev_evonet_s0/gen0/model.pt --target 0.663

The sexual paper's asexual arm: 139x synaptic efficiency at generation 13,
139^(-1/12) = 0.663 per generation (quoted from the paper, not measured here).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

from evosynth.pipeline.params import load_params
from evosynth.pipeline.steps.encode import run_encode
from evosynth.pipeline.steps.synthesize import run_synthesize


def realised(params: dict, experiment: str, genome: Path, scale: float, work: Path) -> float:
    """The share of the parent's synapses the generation-1 offspring keeps at literal scale ``scale``."""
    trial = copy.deepcopy(params)
    trial["experiments"][experiment]["environment"]["literal_scale"] = scale
    out = work / f"k{scale:.6f}"
    out.mkdir(parents=True, exist_ok=True)
    return run_synthesize(trial, experiment, 1, genome, out)["realised_ratio"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--experiment", required=True, help="a literal-mode experiment (chain), e.g. ev_asexual_literal_s0")
    parser.add_argument("--ancestor", type=Path, required=True, help="its ancestor's model.pt (with its record)")
    parser.add_argument("--target", type=float, default=0.663, help="synapse ratio child/parent wanted (default 0.663)")
    parser.add_argument("--tolerance", type=float, default=0.005, help="absolute tolerance on the ratio")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    if args.experiment not in params["experiments"]:
        parser.error(f"--experiment {args.experiment!r} is not an experiment of {args.params}")
    if params["experiments"][args.experiment]["environment"]["mode"] != "literal":
        parser.error(f"--experiment {args.experiment!r} is not in literal mode")
    if not 0 < args.target < 1:
        parser.error(f"--target must lie in (0, 1), got {args.target}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run_encode(params, args.experiment, 1, [args.ancestor], work / "encode")
        genome = work / "encode" / "genome.pt"
        trials = {}

        def trial(k: float) -> float:
            trials[k] = realised(params, args.experiment, genome, k, work)
            print(f"k = {k:.4f}: ratio {trials[k]:.4f}", flush=True)
            return trials[k]

        lo, hi = 1.0, 1.0  # the same uniform numbers at every k: the ratio only grows with k
        while trial(hi) < args.target:
            lo, hi = hi, hi * 2
            if hi > 64:
                print(f"even k = 64 keeps less than {args.target}: not reachable in literal mode", file=sys.stderr)
                return 1
        for _ in range(20):
            if min(abs(r - args.target) for r in trials.values()) <= args.tolerance:
                break
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if trial(mid) < args.target else (lo, mid)
        k = min(trials, key=lambda x: abs(trials[x] - args.target))
        print(f"literal_scale: {k:.4f}  (ratio {trials[k]:.4f}, target {args.target})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
