"""What each step writes and which params it reads: the contract between a step and the plan.

A module of its own so that a step's code depends on this contract and not on
the whole plan (editing how experiments are laid out must not rerun every stage).
"""

from __future__ import annotations

#: Files each step writes into its output folder; the last one is its provenance.
STEP_FILES: dict[str, tuple[str, ...]] = {
    "prepare": ("{dataset}.npz", "{dataset}.card.json", "{dataset}.provenance.json"),
    "stress_train": ("model.pt", "train_log.json", "stress_train.provenance.json"),
    "encode": ("genome.pt", "encode.provenance.json"),
    "synthesize": ("offspring.pt", "synthesis.json", "synthesize.provenance.json"),
    "retrain": ("model.pt", "train_log.json", "retrain.provenance.json"),
    "evaluate": ("metrics.json", "evaluate.provenance.json"),
    "transfer": ("metrics.json", "evaluate.provenance.json"),  # evaluate on another set of the task
    "paper_tables": ("paper_tables.md", "paper_tables.csv", "paper_tables.provenance.json"),
    "report": ("generations.csv", "generations.md", "generations.png", "summary.json", "plots.csv",
               "report.provenance.json"),
    "compare": ("comparisons.md", "comparisons.csv", "comparisons.png", "compare.provenance.json"),
    "evidence": ("evidence.md", "evidence.csv", "evidence.png", "sweep.png", "evidence.provenance.json"),
    "export": ("model.onnx", "model.ts", "export.provenance.json"),
    "prune": ("offspring.pt", "prune.json", "prune.provenance.json"),
    "runtime": ("runtime.md", "runtime.csv", "runtime.png", "runtime.json", "runtime.provenance.json"),
    "picks": ("picks.md", "picks.csv", "verdicts.csv", "pareto_synapses.png", "pareto_filters.png",
              "pareto_latency.png", "runtime.md", "runtime.csv", "runtime.json", "picks.provenance.json"),
    "probe_train": ("model.pt", "metrics.json", "train_log.json", "probe_train.provenance.json"),
    "probe": ("probe.md", "probe.csv", "probe.png", "probe.provenance.json"),
    "scratch": ("model.pt", "metrics.json", "train_log.json", "scratch.provenance.json"),
    "latency": ("latency.json", "latency.provenance.json"),
    "curves": ("curves.md", "curves.csv", "curves_synapses.png", "curves_macs.png", "curves_latency.png",
               "search.csv", "curves_search.png", "curves.provenance.json"),
    "features": ("features_tsne.png", "stressednets_table4.md", "stressednets_table4.csv", "features.provenance.json"),
    "papers": (
        *(f"papers/{name}.{ext}" for name in ("stressednets_table1", "stressednets_table2", "stressednets_table3",
                                               "cluster_tables", "baselines") for ext in ("md", "csv")),
        "papers/sexual_vs_asexual.png", "papers/factor_sweep.png", "papers/factor_sweep.md", "papers/pareto.png",
        "index.md", "papers/papers.provenance.json",
    ),
}

#: The keys of an experiment's params that each step reads (DVC reruns a step
#: only when one of them changes; Snakemake gets the same values as params). A key
#: without a default (``width``) is read, and recorded, only where it is written.
STEP_PARAMS: dict[str, tuple[str, ...]] = {
    "stress_train": ("dataset", "architecture", "width", "seed", "train", "data"),
    "encode": ("method", "encoding", "population", "mating", "seed"),
    "synthesize": ("method", "encoding", "environment", "init", "seed"),
    "retrain": ("seed", "train", "data"),
    "evaluate": ("seed", "data", "environment"),
    "transfer": ("seed", "data", "environment"),
    "paper_tables": ("generations", "architecture", "test_on"),
    "report": ("generations", "method", "dataset", "architecture", "environment", "init"),
    "export": ("architecture",),
    "runtime": ("generations",),
}


#: Architectures whose experiments get a ``paper_tables`` step (a paper table quotes them).
PAPER_TABLE_ARCHITECTURES = ("detectnet",)


def step_files(step: str, **names: str) -> list[str]:
    """The file names a step writes (its provenance last)."""
    return [f.format(**names) for f in STEP_FILES[step]]


#: The module under evosynth.pipeline.steps that runs each step (its ``main``).
STEP_MODULES: dict[str, str] = {
    "prepare": "prepare", "stress_train": "train", "encode": "encode", "synthesize": "synthesize",
    "retrain": "train", "evaluate": "evaluate", "report": "report", "compare": "compare", "export": "export",
    "prune": "prune", "runtime": "runtime", "features": "features", "papers": "papers", "evidence": "evidence",
    "transfer": "evaluate", "paper_tables": "tables", "picks": "picks", "probe_train": "probe_train", "probe": "probe",
    "scratch": "scratch", "latency": "latency", "curves": "curves",
}
