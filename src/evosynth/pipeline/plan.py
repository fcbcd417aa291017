"""The workflow as data: every step, its command, inputs, outputs and params.

Both engines read this plan: ``dvc.yaml`` is rendered from it and the
Snakefile's input functions look steps up in it, so the two DAGs agree by
construction (and a test checks that they do). Generation g names its
parents in g−1 explicitly, since DVC templating has no arithmetic.

Per experiment ``e`` and population member ``m`` (docs/architecture.md §3.1)::

    prepare                         data/prepared/<dataset>.npz
    stress_train  gen0              results/e/gen0[/m<k>]/model.pt      (the ancestors)
    encode        gen g ≥ 1         results/e/gen<g>[/m<k>]/genome.pt   (genome from g−1)
    synthesize    gen g             results/e/gen<g>[/m<k>]/offspring.pt
    retrain       gen g             results/e/gen<g>[/m<k>]/model.pt
    evaluate      gen g ≥ 0         results/e/gen<g>[/m<k>]/metrics.json
    report                          reports/e/generations.{csv,md,png}
    export        gen g (runtime)   results/e/gen<g>/model.{onnx,ts}
    runtime                         reports/e/runtime.{md,csv,png,json}
    compare (all experiments)       reports/methods/comparisons.{md,csv,png}
    features (one experiment)       reports/papers/features_tsne.png, stressednets_table4.*
    papers (everything)             reports/papers/*, reports/index.md

A pruning baseline ``b`` following experiment ``e`` starts from e's ancestor
and, for every generation g, prunes its previous network to e's synapse count
at g, then retrains with e's data, epochs and seed::

    prune         gen g ≥ 1         results/b/gen<g>/offspring.pt
    retrain, evaluate, report       as for an experiment

An experiment with ``ancestor: a`` starts from experiment a's generation 0
(same dataset, architecture, seed, training and data): it has no
stress_train step of its own, and a treatment and its control then differ
only in what the papers vary.

A generation with one member (every generation of every method but sexual
synthesis, and generation 0 of that: the population descends from one
ancestor, so mated weights stay aligned) has no ``m<k>`` folder. A sexual
offspring's encode step depends on every member of the previous generation,
because its parents are chosen when it runs (at random or by fitness).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from evosynth.pipeline import codedeps
from evosynth.pipeline.layout import (  # noqa: F401 (re-exported: the plan's public surface)
    COMPARE_DIR,
    chain_metrics,
    default_experiments,
    member_dir,
    metrics_files,
    population_size,
    prepared_path,
    report_dir,
    run_dir,
    run_owner,
)
from evosynth.pipeline.outputs import STEP_FILES, STEP_MODULES, STEP_PARAMS, step_files  # noqa: F401 (re-exported)

PARAMS_FILE = "params.yaml"
TOLERANCE = "papers.tolerance"  # a report's summary picks the last generation within it

@dataclass(frozen=True)
class Step:
    """One job of the workflow."""

    step: str
    folder: str
    cmd: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    params: tuple[str, ...]
    experiment: str | None = None
    generation: int | None = None
    member: int | None = None
    dataset: str | None = None
    metrics: tuple[str, ...] = field(default=())
    default: bool = True  # part of the default target (experiments with ``default: false`` are run by name)
    unit: str | None = None  # what a step without experiment or dataset is about (a code stage's step module)

    @property
    def name(self) -> str:
        """The stage name, e.g. ``retrain-e-gen3`` or ``encode-e-gen2-m1`` (letters, digits, _ and -)."""
        parts = [self.step, self.unit or self.dataset or self.experiment]
        if self.generation is not None:
            parts.append(f"gen{self.generation}")
        if self.member is not None:
            parts.append(f"m{self.member}")
        return "-".join(p for p in parts if p)


def param_values(params: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The values of dotted ``keys`` in ``params`` (what a step reads); a key absent from params is left out."""
    values = {}
    for key in keys:
        node: Any = params
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            values[key] = node
    return values


def _cmd(subcommand: str, *args: str) -> str:
    return " ".join(["evosynth", subcommand, "--params", PARAMS_FILE, *args])


def _step(
    step: str, subcommand: str, folder: str, deps: list[str], args: list[str],
    params: tuple[str, ...] | None = None, **where: Any,
) -> Step:
    exp, gen, member = where.get("experiment"), where.get("generation"), where.get("member")
    target = ["--experiment", exp] if exp else []
    target += ["--generation", str(gen)] if gen is not None else []
    target += ["--member", str(member)] if member is not None else []
    outs = tuple(f"{folder}/{f}" for f in step_files(step, dataset=where.get("dataset", "")))
    return Step(
        step=step,
        folder=folder,
        cmd=_cmd(subcommand, *target, *args, "--out-dir", folder),
        deps=(codedeps.record_path(STEP_MODULES[step]), *deps),
        outs=outs,
        params=params or (
            tuple(f"experiments.{exp}.{key}" for key in STEP_PARAMS[step])
            if exp
            else (f"datasets.{where['dataset']}",)
        ),
        metrics=tuple(o for o in outs if o.endswith("/summary.json")),  # one small file per experiment
        **where,
    )


def _experiment_steps(exp: str, spec: dict[str, Any]) -> list[Step]:
    data = prepared_path(spec["dataset"])
    ancestor = f"{run_dir(exp, spec, 0)}/model.pt"
    sexual = spec["method"] == "sexual"
    steps: list[Step] = []
    for gen in range(0 if spec.get("ancestor") is None else 1, spec["generations"] + 1):
        size = population_size(spec, gen)
        previous = [run_dir(exp, spec, gen - 1, k) for k in range(population_size(spec, gen - 1))] if gen else []
        for k in range(size):
            folder = run_dir(exp, spec, gen, k)
            where = {"experiment": exp, "generation": gen, "member": k if size > 1 else None}
            model = f"{folder}/model.pt"
            if gen == 0:
                steps.append(_step("stress_train", "train", folder, [data], ["--data", data], **where))
                lineage: list[str] = []
            else:
                genome, offspring = f"{folder}/genome.pt", f"{folder}/offspring.pt"
                parents = [f"{p}/model.pt" for p in previous]
                parent_args = [a for p in parents for a in ("--parent", p)]
                fitness = [f"{p}/metrics.json" for p in previous] if sexual else []
                fitness_args = [a for m in fitness for a in ("--parent-metrics", m)]
                steps += [
                    _step("encode", "encode", folder, parents + fitness, parent_args + fitness_args, **where),
                    _step("synthesize", "synthesize", folder, [genome], ["--genome", genome], **where),
                    _step("retrain", "train", folder, [offspring, data], ["--data", data, "--init", offspring], **where),
                ]
                lineage = ["--genome", genome]
            evaluate_deps = [model, data] + ([ancestor] if model != ancestor else []) + lineage[1:]
            steps.append(
                _step(
                    "evaluate",
                    "evaluate",
                    folder,
                    evaluate_deps,
                    ["--model", model, "--data", data, "--ancestor", ancestor, *lineage],
                    **where,
                )
            )
    metrics = metrics_files(exp, spec)
    steps.append(
        _step("report", "report", report_dir(exp), metrics, ["--metrics", *metrics], experiment=exp,
              params=(*(f"experiments.{exp}.{key}" for key in STEP_PARAMS["report"]), TOLERANCE))
    )
    return steps


def _runtime_steps(exp: str, spec: dict[str, Any], runtime: dict[str, Any]) -> list[Step]:
    """Export every generation's compacted network and time them all (one member per generation)."""
    steps, args, deps = [], [], []
    for gen in range(spec["generations"] + 1):
        folder = run_dir(exp, spec, gen)
        model = f"{folder}/model.pt"
        owner = run_owner(exp, spec, gen)
        steps.append(_step("export", "export", folder, [model], ["--model", model], experiment=owner, generation=gen))
        deps += [model, f"{folder}/model.onnx", f"{folder}/metrics.json"]
        args += ["--generation-dir", folder]
    read = (f"experiments.{exp}.generations", "runtime")
    steps.append(_step("runtime", "runtime", report_dir(exp), deps, args, params=read, experiment=exp))
    return steps


def _with_speed(report: Step) -> Step:
    """A report step that also reads the experiment's runtime.json (its summary then holds the measured speed-up)."""
    timing = f"{report.folder}/runtime.json"
    cmd = report.cmd.replace(" --out-dir ", f" --runtime {timing} --out-dir ")
    return replace(report, deps=(*report.deps, timing), cmd=cmd)


def _paper_steps(params: dict[str, Any]) -> list[Step]:
    """The feature analysis and the papers' tables, figures and index (docs/method.md §11.2)."""
    papers = params["papers"]
    exp = papers["features"]
    spec = params["experiments"][exp]
    gens = [run_dir(exp, spec, g) for g in range(spec["generations"] + 1)]
    data = prepared_path(spec["dataset"])
    features = _step(
        "features", "features", "reports/papers",
        [*(f"{g}/{f}" for g in gens for f in ("model.pt", "metrics.json")), data],
        ["--data", data, *(a for g in gens for a in ("--generation-dir", g))],
        params=("papers", f"experiments.{exp}.generations"), experiment=exp,
    )
    runs = dict.fromkeys([*papers["table1"], *papers["cluster_tables"], *papers["sexual"].values(),
                          *papers["sweep"], papers["baselines"]["evolved"], *papers["baselines"]["against"]])
    deps = [m for run in runs for m in chain_metrics(run, params)]
    deps += [f"{report_dir(papers['runtime'])}/runtime.json", *features.outs[:-1]]
    deps += [f"{report_dir(e)}/generations.png" for e in [*default_experiments(params), *params["baselines"]]]
    if params["comparisons"]:
        deps += [f"{COMPARE_DIR}/comparisons.md", f"{COMPARE_DIR}/comparisons.png"]
    read = ("papers", *(f"experiments.{e}.generations" for e in default_experiments(params)))
    return [features, _step("papers", "papers", "reports", deps, [], params=read)]


def _baseline_steps(name: str, spec: dict[str, Any], params: dict[str, Any]) -> list[Step]:
    followed = spec["follow"]
    exp = params["experiments"][followed]
    data = prepared_path(exp["dataset"])
    ancestor = f"{run_dir(followed, exp, 0)}/model.pt"
    reads = {s: tuple(f"experiments.{followed}.{k}" for k in STEP_PARAMS[s]) for s in ("retrain", "evaluate")}
    steps = []
    for gen in range(1, exp["generations"] + 1):
        folder = member_dir(name, gen, 0, 1)
        parent = ancestor if gen == 1 else f"{member_dir(name, gen - 1, 0, 1)}/model.pt"
        target = f"{member_dir(followed, gen, 0, 1)}/metrics.json"
        offspring, model = f"{folder}/offspring.pt", f"{folder}/model.pt"
        where = {"experiment": name, "generation": gen}
        steps += [
            _step("prune", "prune", folder, [parent, target], ["--parent", parent, "--target-metrics", target],
                  params=(f"baselines.{name}",), **where),
            _step("retrain", "train", folder, [offspring, data], ["--data", data, "--init", offspring],
                  params=reads["retrain"], **where),
            _step("evaluate", "evaluate", folder, [model, data, ancestor, parent],
                  ["--model", model, "--data", data, "--ancestor", ancestor, "--parent", parent],
                  params=reads["evaluate"], **where),
        ]
    metrics = chain_metrics(name, params)
    steps.append(_step("report", "report", report_dir(name), metrics, ["--metrics", *metrics],
                       params=(f"baselines.{name}", f"experiments.{followed}.generations", TOLERANCE), experiment=name))
    return steps


def build_plan(params: dict[str, Any]) -> list[Step]:
    """Every step of every experiment in ``params`` (validated), in dependency order.

    Steps of experiments with ``default: false`` (and the preparation of data
    only they use) carry ``default=False``: the engines run them when named.
    """
    steps: list[Step] = []
    defaults = default_experiments(params)
    in_default = {params["experiments"][e]["dataset"] for e in defaults}
    for dataset in sorted({exp["dataset"] for exp in params["experiments"].values()}):
        prepare = _step("prepare", "prepare", "data/prepared", [], ["--dataset", dataset], dataset=dataset)
        steps.append(replace(prepare, default=dataset in in_default))
    for exp, spec in params["experiments"].items():
        chain = _experiment_steps(exp, spec)
        if exp in params["runtime"]["experiments"]:
            chain += _runtime_steps(exp, spec, params["runtime"])
            chain = [_with_speed(step) if step.step == "report" else step for step in chain]
        steps += chain if exp in defaults else [replace(step, default=False) for step in chain]
    for name, spec in params["baselines"].items():
        steps += _baseline_steps(name, spec, params)
    if params.get("papers"):
        steps += _paper_steps(params)
    if params["comparisons"]:
        involved = sorted({c[role] for c in params["comparisons"].values() for role in ("treatment", "control")})
        deps = [m for exp in involved for m in metrics_files(exp, params["experiments"][exp])]
        read = ("comparisons", *(f"experiments.{e}.generations" for e in involved))
        steps.append(_step("compare", "compare", COMPARE_DIR, deps, [], params=read))
    steps = list({step.name: step for step in steps}.values())  # a shared ancestor's export is one step
    return _code_steps(steps) + steps


def _code_steps(steps: list[Step]) -> list[Step]:
    """One code stage per step module the plan runs (:mod:`evosynth.pipeline.codedeps`)."""
    used: dict[str, bool] = {}
    for step in steps:
        module = STEP_MODULES[step.step]
        used[module] = used.get(module, False) or step.default
    return [
        Step(step="code", folder=codedeps.RECORD_DIR,
             cmd=_cmd("code", "--module", module, "--out-dir", codedeps.RECORD_DIR),
             deps=codedeps.stage_code(module), outs=(codedeps.record_path(module),), params=(),
             default=default, unit=module)
        for module, default in sorted(used.items())
    ]
