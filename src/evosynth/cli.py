"""The ``evosynth`` command: one subcommand per workflow step.

DVC's ``cmd:`` and Snakemake's ``shell:`` call exactly these commands (see
:mod:`evosynth.plan`). Every subcommand validates ``params.yaml`` before any
compute and reports a problem as one line, exiting non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from evosynth import __version__, warm
from evosynth.errors import EvosynthError, ParamsError
from evosynth.params import load_params, training_spec


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evosynth",
        description="Evolutionary synthesis of small, fast deep neural networks"
        " (EvoNet and its successors). Each subcommand is one step of a generation;"
        " `dvc repro` or `snakemake` chain them as described by params.yaml.",
    )
    parser.add_argument("--version", action="version", version=f"evosynth {__version__}")
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("EVOSYNTH_THREADS", "0")) or None,
        help="CPU threads for torch (default: $EVOSYNTH_THREADS, else torch's default)."
        " Fix it to compare runs across machines of the same kind (float reductions depend on it).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="STEP")

    def step(name: str, help: str, experiment: bool = True, generation: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
        if experiment:
            p.add_argument("--experiment", required=True, help="a key of `experiments` (or `baselines`) in params.yaml")
        if generation:
            p.add_argument("--generation", type=int, required=True, help="generation number (0: the ancestor)")
            p.add_argument("--member", type=int, help="population member (sexual synthesis)")
        if name != "check":
            p.add_argument("--out-dir", type=Path, required=True, help="folder for this step's artifacts")
        return p

    p = step("check", "Validate params.yaml (and that every dataset's files exist), then exit.", False, False)
    p = step("prepare", "Read a dataset in its published format; write data/prepared/<name>.npz and a data card.", False, False)
    p.add_argument("--dataset", required=True, help="a key of `datasets` in params.yaml")
    p = step("train", "Masked training of the ancestor (no --init) or of an offspring (--init offspring.pt).")
    p.add_argument("--data", type=Path, required=True, help="prepared .npz")
    p.add_argument("--init", type=Path, help="offspring checkpoint written by `synthesize`")
    p = step(
        "encode",
        "Write the genome of the previous generation for one offspring: P(s|w) (EvoNet eq. 1),"
        " P(c)·P(s|c) (cluster-driven), or the mated genome of two parents (sexual synthesis).",
    )
    p.add_argument("--parent", type=Path, action="append", required=True,
                   help="a trained model.pt of the previous generation (repeat for a population)")
    p.add_argument("--parent-metrics", type=Path, action="append",
                   help="metrics.json of each --parent, in the same order (sexual synthesis: fitness)")
    p = step("synthesize", "Sample an offspring's synapses from the genome and the environmental factor models.")
    p.add_argument("--genome", type=Path, required=True, help="genome.pt written by `encode`")
    p = step("evaluate", "The task's scores (accuracy; KITTI AP per class and difficulty; saliency MAE and F-beta),"
             " living synapses, efficiencies, architecture and MACs of a generation.")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True,
                   help="prepared .npz: the experiment's, or another set of its task (EvoNet Table II: HKU-IS)")
    p.add_argument("--ancestor", type=Path, required=True, help="generation 0 model.pt")
    p.add_argument("--genome", type=Path, help="the genome the network was synthesized from (omit for generation 0)")
    p.add_argument("--parent", type=Path, help="a pruning baseline's parent model.pt (instead of --genome)")
    step("compare", "Check each comparison of params.yaml (a paper's claim against its control).", False, False)
    p = step("features", "Feature analysis of an experiment: t-SNE and 1-NN (StressedNets Figure 7, Table 4).",
             generation=False)
    p.add_argument("--data", type=Path, required=True, help="prepared .npz")
    p.add_argument("--generation-dir", type=Path, action="append", required=True, help="each generation's folder")
    step("papers", "The papers' tables and figures from every run, and reports/index.md.", False, False)
    p = step("prune", "A pruning baseline's offspring: the parent pruned to the followed run's synapse count.")
    p.add_argument("--parent", type=Path, required=True, help="the baseline's previous model.pt")
    p.add_argument("--target-metrics", type=Path, required=True, help="the followed experiment's metrics.json")
    p = step("export", "Export a generation's compacted network as ONNX (model.onnx) and TorchScript (model.ts).")
    p.add_argument("--model", type=Path, required=True, help="the generation's model.pt")
    p = sub.add_parser(
        "runtime",
        help="Time networks batch 1 (ONNX Runtime and PyTorch, 1 thread and all cores).",
        description="Pipeline mode (--experiment, --generation-dir, --out-dir): the Table-3 report of every"
        " generation. Device mode (--model file.onnx): time one exported network on this machine with"
        " onnxruntime and numpy only, e.g. on a Jetson: `evosynth runtime --model gen8.onnx`.",
    )
    p.add_argument("--model", type=Path, help="device mode: an exported .onnx file")
    p.add_argument("--repeats", type=int, default=30, help="device mode: timed runs (default 30)")
    p.add_argument("--warmup", type=int, default=10, help="device mode: untimed runs first (default 10)")
    p.add_argument("--json", type=Path, help="device mode: also write the measurements to this file")
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
    p.add_argument("--experiment", help="pipeline mode: a key of `experiments`")
    p.add_argument("--generation-dir", type=Path, action="append", help="pipeline mode: each generation's folder")
    p.add_argument("--out-dir", type=Path, help="pipeline mode: folder for the report")
    p = step("report", "Generation table (CSV, Markdown) and plot of one experiment.", generation=False)
    p.add_argument("--metrics", type=Path, nargs="+", required=True, help="metrics.json of each generation")
    return parser


def _check_target(params: dict[str, Any], args: argparse.Namespace) -> None:
    chains = [*params["experiments"], *params["baselines"]]
    if getattr(args, "experiment", None) is not None and args.experiment not in chains:
        raise ParamsError(f"--experiment: {args.experiment!r} is not in params.yaml; allowed: {', '.join(chains)}")
    if getattr(args, "dataset", None) is not None and args.dataset not in params["datasets"]:
        raise ParamsError(f"--dataset: {args.dataset!r} is not in params.yaml; allowed: {', '.join(params['datasets'])}")
    generation = getattr(args, "generation", None)
    if generation is not None:
        last = training_spec(params, args.experiment)["generations"]
        if not 0 <= generation <= last:
            raise ParamsError(f"--generation: {generation} is outside 0..{last} of experiment {args.experiment!r}")
    member = getattr(args, "member", None)
    if member is not None:
        size = training_spec(params, args.experiment)["population"]["size"]
        if not 0 <= member < size:
            raise ParamsError(f"--member: {member} is outside 0..{size - 1} of experiment {args.experiment!r}")


def _device_runtime(args: argparse.Namespace) -> None:
    """Time one exported ONNX network here (needs onnxruntime and numpy only)."""
    from evosynth import runtime

    if not args.model.is_file():
        raise ParamsError(f"--model: {args.model}: no such file")
    machine = runtime.host()
    results = {
        f"{threads or 'all'} thread(s)": runtime.measure_onnx(
            args.model, 1, threads or os.cpu_count() or 1, args.repeats, args.warmup
        )
        for threads in (1, 0)
    }
    print(f"{args.model} on {machine['cpu']} ({machine['cores']} cores), ONNX Runtime, batch 1:")
    for label, r in results.items():
        print(f"  {label}: {r['median_ms']:.3f} ms median (p10 {r['p10_ms']:.3f}, p90 {r['p90_ms']:.3f}), {r['fps']:,.0f} FPS")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "host": machine, "onnxruntime": results}, indent=2))


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run one step here, or in a fork of the warm server (:mod:`evosynth.warm`); its exit status."""
    if args.command == "runtime" and args.model is not None:
        _device_runtime(args)
        return 0
    params = load_params(args.params, check_files=args.command in ("check", "prepare"))
    _check_target(params, args)
    if args.command == "check":
        print(f"{args.params}: valid ({len(params['experiments'])} experiments, {len(params['datasets'])} datasets)")
        return 0
    if warm.enabled():
        code = warm.run_warm(argv)
        if code is not None:
            return code
    import torch  # after validation: bad input fails fast

    from evosynth import steps

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.command == "prepare":
        card = steps.run_prepare(params, args.dataset, args.out_dir)
        print(json.dumps({k: card[k] for k in ("image_shape", "num_classes")} | {"train": card["train"]["count"], "test": card["test"]["count"]}))
    elif args.command == "train":
        steps.run_train(params, args.experiment, args.generation, args.data, args.out_dir, args.init, args.member)
    elif args.command == "encode":
        chosen = steps.run_encode(
            params, args.experiment, args.generation, args.parent, args.out_dir, args.parent_metrics, args.member
        )
        print(f"{args.experiment} gen{args.generation}: genome from {', '.join(chosen['parents'])}")
    elif args.command == "synthesize":
        summary = steps.run_synthesize(params, args.experiment, args.generation, args.genome, args.out_dir, args.member)
        print(
            f"{args.experiment} gen{args.generation}: kept {summary['synapses']:,} of {summary['parent_synapses']:,}"
            f" synapses (ratio {summary['realised_ratio']:.3f}, expected {summary['expected_ratio']:.3f})"
        )
    elif args.command == "evaluate":
        metrics = steps.run_evaluate(
            params, args.experiment, args.generation, args.model, args.data, args.ancestor, args.out_dir,
            args.genome, args.member, args.parent,
        )
        print(
            f"{args.experiment} gen{args.generation}: accuracy {metrics['accuracy']:.4f},"
            f" {metrics['synapses']:,} synapses ({metrics['synaptic_efficiency']:.2f}×),"
            f" architecture {metrics['architecture']}"
        )
    elif args.command == "report":
        steps.run_report(params, args.experiment, args.metrics, args.out_dir)
    elif args.command == "features":
        info = steps.run_features(params, args.experiment, args.data, args.generation_dir, args.out_dir)
        print(f"{args.experiment}: feature analysis of generation 0 and generation {info['synthesized']}")
    elif args.command == "papers":
        steps.run_papers(params, args.out_dir)
    elif args.command == "prune":
        summary = steps.run_prune(params, args.experiment, args.generation, args.parent, args.target_metrics, args.out_dir)
        print(f"{args.experiment} gen{args.generation}: {summary['synapses']:,} synapses"
              f" (target {summary['target_synapses']:,}), {summary['filters']} filters")
    elif args.command == "export":
        steps.run_export(params, args.experiment, args.generation, args.model, args.out_dir)
    elif args.command == "runtime":
        if not (args.experiment and args.generation_dir and args.out_dir):
            raise ParamsError("runtime: give --model (device mode) or --experiment, --generation-dir and --out-dir")
        steps.run_runtime(params, args.experiment, args.generation_dir, args.out_dir)
    elif args.command == "compare":
        for row in steps.run_compare(params, args.out_dir):
            print(f"{row['comparison']}: the claim {row['outcome']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        return run(args, argv)
    except ParamsError as exc:
        print(f"evosynth: error: {exc}", file=sys.stderr)
        return 2
    except EvosynthError as exc:
        print(f"evosynth {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
