"""The subcommands of ``evosynth``: each step's arguments and the module that runs it.

Light on purpose (argparse only): the CLI parses and validates every command
line before torch is imported, so bad input fails in a fraction of a second.
The step modules (:mod:`evosynth.pipeline.steps`) hold the code; the plan
(:mod:`evosynth.pipeline.plan`) writes the command lines.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evosynth.pipeline.outputs import STEP_MODULES


@dataclass(frozen=True)
class Arg:
    """One option of a subcommand, as ``argparse.add_argument`` takes it."""

    flag: str
    options: dict[str, Any] = field(default_factory=dict)


def arg(flag: str, **options: Any) -> Arg:
    return Arg(flag, options)


@dataclass(frozen=True)
class Command:
    """A subcommand: its help, which run it names (experiment, generation), its own options."""

    name: str
    help: str
    step: str  # the module under evosynth.pipeline.steps
    experiment: bool = True
    generation: bool = True
    out_dir: bool = True
    args: tuple[Arg, ...] = ()

    @property
    def module(self) -> str:
        return f"evosynth.pipeline.steps.{self.step}"

    def add_to(self, sub: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(self.name, help=literal(self.help), description=literal(self.help, description=True))
        p.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
        if self.experiment:
            p.add_argument("--experiment", required=True, help="a key of `experiments` (or `baselines`) in params.yaml")
        if self.generation:
            p.add_argument("--generation", type=int, required=True, help="generation number (0: the ancestor)")
            p.add_argument("--member", type=int, help="population member (sexual synthesis)")
        if self.out_dir:
            p.add_argument("--out-dir", type=Path, required=True, help="folder for this step's artifacts")
        for a in self.args:
            options = {**a.options, **({"help": literal(a.options["help"])} if "help" in a.options else {})}
            p.add_argument(a.flag, **options)
        return p


def literal(text: str, description: bool = False) -> str:
    """``text`` escaped so that argparse prints it as written ("95 % t interval" would crash ``--help``).

    argparse %-formats every help string, and a description only when it contains ``%(prog)``.
    """
    if description and "%(prog)" not in text:
        return text
    return text.replace("%", "%%")


#: The module of ``evosynth runtime --model``: one exported network timed here, without torch.
DEVICE_RUNTIME = "evosynth.pipeline.steps.device"

_DATA = arg("--data", type=Path, required=True, help="prepared .npz")

COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command("check", "Validate params.yaml (and that every dataset's files exist), then exit.", "check",
            experiment=False, generation=False, out_dir=False),
    Command("handover", "Hand a finished run from one engine to the other without rerunning a step: --to snakemake"
            " after `dvc repro` (snakemake --touch records it), --to dvc after `snakemake` (dvc commit records it);"
            " see docs/engines.md.", "handover", experiment=False, generation=False, out_dir=False,
            args=(arg("--to", required=True, choices=("snakemake", "dvc"), help="the engine that runs next"),)),
    Command("code", "Record the sha256 of every source file a step module runs (its stages depend on the record).",
            "code", experiment=False, generation=False,
            args=(arg("--module", required=True, choices=sorted(set(STEP_MODULES.values())),
                      help="a step module of evosynth.pipeline.steps"),)),
    Command("prepare", "Read a dataset in its published format; write data/prepared/<name>.npz and a data card.",
            "prepare", experiment=False, generation=False,
            args=(arg("--dataset", required=True, help="a key of `datasets` in params.yaml"),)),
    Command("train", "Masked training of the ancestor (no --init) or of an offspring (--init offspring.pt).", "train",
            args=(_DATA, arg("--init", type=Path, help="offspring checkpoint written by `synthesize`"),
                  arg("--teacher", type=Path, help="the parent's model.pt (train.distill: distillation;"
                      " with train.distill.teacher: ancestor, the ancestor's)"))),
    Command("encode", "Write the genome of the previous generation for one offspring: P(s|w) (EvoNet eq. 1),"
            " P(c)·P(s|c) (cluster-driven), or the mated genome of two parents (sexual synthesis).", "encode",
            args=(arg("--parent", type=Path, action="append", required=True,
                      help="a trained model.pt of the previous generation (repeat for a population)"),
                  arg("--parent-metrics", type=Path, action="append",
                      help="metrics.json of each --parent, in the same order (sexual synthesis: fitness)"))),
    Command("synthesize", "Sample an offspring's synapses from the genome and the environmental factor models.",
            "synthesize", args=(arg("--genome", type=Path, required=True, help="genome.pt written by `encode`"),
                                arg("--parent-metrics", type=Path, action="append",
                                    help="environment.adaptive: metrics.json of each parent"),
                                arg("--ancestor-metrics", type=Path,
                                    help="environment.adaptive: the ancestor's metrics.json"))),
    Command("evaluate", "The task's scores (accuracy; KITTI AP per class and difficulty; saliency MAE and F-beta),"
            " living synapses, efficiencies, architecture and MACs of a generation.", "evaluate",
            args=(arg("--model", type=Path, required=True),
                  arg("--data", type=Path, required=True,
                      help="prepared .npz: the experiment's, or another set of its task (EvoNet Table II: HKU-IS)"),
                  arg("--ancestor", type=Path, required=True, help="generation 0 model.pt"),
                  arg("--genome", type=Path,
                      help="the genome the network was synthesized from (omit for generation 0)"),
                  arg("--parent", type=Path, help="a pruning baseline's parent model.pt (instead of --genome)"))),
    Command("compare", "Check each comparison of params.yaml (a paper's claim against its control).", "compare",
            experiment=False, generation=False),
    Command("evidence", "The evidence set's verdicts: every claim of params.yaml's evidence section paired by seed,"
            " with a 95 % t interval (reports/evidence/).", "evidence", experiment=False, generation=False),
    Command("features", "Feature analysis of an experiment: t-SNE and 1-NN (StressedNets Figure 7, Table 4).",
            "features", generation=False,
            args=(_DATA, arg("--generation-dir", type=Path, action="append", required=True,
                             help="each generation's folder"))),
    Command("papers", "The papers' tables and figures from every run, and reports/index.md.", "papers",
            experiment=False, generation=False),
    Command("prune", "A pruning baseline's offspring: the parent pruned to the followed run's synapse count, or to its own"
            " schedule's (F^g of the ancestor's).",
            "prune", args=(arg("--parent", type=Path, required=True, help="the baseline's previous model.pt"),
                           arg("--target-metrics", type=Path,
                               help="the followed experiment's metrics.json (a baseline without schedule)"),
                           arg("--ancestor", type=Path,
                               help="generation 0 model.pt (a baseline on its own schedule)"))),
    Command("export", "Export a generation's compacted network as ONNX (model.onnx) and TorchScript (model.ts).",
            "export", args=(arg("--model", type=Path, required=True, help="the generation's model.pt"),)),
    Command("runtime", "Time networks batch 1 (ONNX Runtime and PyTorch, 1 thread and all cores). Pipeline mode"
            " (--experiment, --generation-dir, --out-dir): the Table-3 report of every generation. Device mode"
            " (--model file.onnx): time one exported network on this machine with onnxruntime and numpy only,"
            " e.g. on a Jetson: `evosynth runtime --model gen8.onnx`.", "runtime",
            experiment=False, generation=False, out_dir=False,
            args=(arg("--model", type=Path, help="device mode: an exported .onnx file"),
                  arg("--repeats", type=int, default=30, help="device mode: timed runs (default 30)"),
                  arg("--warmup", type=int, default=10, help="device mode: untimed runs first (default 10)"),
                  arg("--json", type=Path, help="device mode: also write the measurements to this file"),
                  arg("--experiment", help="pipeline mode: a key of `experiments`"),
                  arg("--generation-dir", type=Path, action="append", help="pipeline mode: each generation's folder"),
                  arg("--out-dir", type=Path, help="pipeline mode: folder for the report"))),
    Command("tables", "The paper tables of one experiment, quoted rows beside measured ones: EvoNet Tables I-II"
            " (its own test set and each `test_on` set) and the cluster paper's KITTI DetectNet Table 3.", "tables",
            generation=False),
    Command("picks", "The pick set's report: every generation of every chain of runtime.picks timed side by side,"
            " interleaved in one process (batch-1 ONNX Runtime 1 thread, batch-256 throughput); each run's"
            " synthesized network against the pick and the pick against its ablations, paired by seed.", "picks",
            experiment=False, generation=False),
    Command("probe_train", "The capacity probe: one dense LeNet5 of the given widths (conv1 filters, conv2 filters,"
            " fc1 neurons) trained from scratch with probe.train and one of probe.seeds, tested on the reference's"
            " test set.", "probe_train", experiment=False, generation=False,
            args=(arg("--widths", type=int, nargs=3, required=True, metavar=("CONV1", "CONV2", "FC1"),
                      help="one entry of probe.widths"),
                  arg("--seed", type=int, required=True, help="one of probe.seeds"),
                  arg("--recipe", help="a key of probe.recipes (default: probe.train)"),
                  arg("--kernels", type=int, help="kernel-sparse: probe.kernel_sparse.kernels, the network's conv"
                      " kernels in all (conv2 keeps a fixed random set of whole kernels); default: dense"), _DATA,
                  arg("--teacher", type=Path, help="the reference's ancestor model.pt (probe.train.distill)"))),
    Command("scratch", "The from-scratch control: a chain's network of one generation, its architecture and mask"
            " trained from a fresh initialisation for the total epochs the network received.", "scratch",
            args=(arg("--model", type=Path, required=True, help="the network's model.pt"),
                  arg("--ancestor", type=Path, required=True, help="the chain's generation 0 model.pt"), _DATA)),
    Command("latency", "The trade-off curves' third axis: batch-1 ONNX Runtime latency (1 thread) of every network"
            " a curve point of one chain stands on (its generations and its from-scratch controls), interleaved in"
            " one process with a second copy of its seed's ancestor (the same-architecture control); speed-ups"
            " against the ancestor, paired by round.", "latency", experiment=False, generation=False,
            args=(arg("--chain", required=True, help="a chain of a run of the curves at one seed (curve_pick_s0)"),)),
    Command("curves", "The trade-off curves: accuracy against synaptic efficiency, MAC reduction and measured"
            " batch-1 speed-up per method over seeds, the table at fixed operating points, the controls trained"
            " from scratch and the search for the evolved configuration, chosen on validation (reports/curves/).",
            "curves", experiment=False, generation=False),
    Command("probe", "The capacity probe's report: accuracy over seeds per architecture against the reference's"
            " ancestor, with a t interval and whether it lies above the accuracy line (reports/probe/).", "probe",
            experiment=False, generation=False),
    Command("report", "Generation table (CSV, Markdown) and plot of one experiment.", "report", generation=False,
            args=(arg("--metrics", type=Path, nargs="+", required=True, help="metrics.json of each generation"),
                  arg("--runtime", type=Path, help="runtime.json of the experiment: its speed-up goes into summary.json"))),
)}
