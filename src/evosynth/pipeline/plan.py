"""The workflow as data: every step, its command, inputs, outputs and params.

Both engines read this plan: ``dvc.yaml`` is rendered from it and the
Snakefile's input functions look steps up in it, so the two DAGs agree by
construction (and a test checks that they do). Generation g names its
parents in g−1 explicitly, since DVC templating has no arithmetic.

Per experiment ``e`` and population member ``m`` (docs/architecture.md §3.1)::

    prepare                         data/prepared/<dataset>.npz
    stress_train  gen0              results/e/gen0[/m<k>]/model.pt      (the ancestors)
    encode        gen g ≥ 1         results/e/gen<g>[/m<k>]/genome.pt   (genome from g−1)
    synthesize    gen g             results/e/gen<g>[/m<k>]/offspring.pt (+ parents' and gen0 metrics.json
                                                                          with environment.adaptive)
    retrain       gen g             results/e/gen<g>[/m<k>]/model.pt    (+ the teacher's model.pt with train.distill)
    evaluate      gen g ≥ 0         results/e/gen<g>[/m<k>]/metrics.json
    report                          reports/e/generations.{csv,md,png}
    transfer      gen g ≥ 0, d in test_on   reports/e/<d>/gen<g>[/m<k>]/metrics.json (no retraining)
    paper_tables (test_on, DetectNet)  reports/e/paper_tables.{md,csv} (EvoNet Tables I-II, cluster paper Table 3)
    export        gen g (runtime)   results/e/gen<g>/model.{onnx,ts}
    runtime                         reports/e/runtime.{md,csv,png,json}
    compare (all experiments)       reports/methods/comparisons.{md,csv,png}
    picks (runtime.picks, picks)    reports/picks/  (each run's pick against the pick, per seed; every generation timed)
    probe_train, probe (probe)      results/probe/w<widths>_s<seed>/, reports/probe/probe.{md,csv,png} (pipeline/probe.py)
    scratch, curves (curves)        results/scratch/<chain>/gen<g>/, reports/curves/ (pipeline/curves.py)
    features (one experiment)       reports/papers/features_tsne.png, stressednets_table4.*
    papers (everything)             reports/papers/*, reports/index.md

A pruning baseline ``b`` following experiment ``e`` starts from e's ancestor
and, for every generation g, prunes its previous network to e's synapse count
at g, then retrains with e's data, epochs and seed::

    prune         gen g ≥ 1         results/b/gen<g>/offspring.pt
    retrain, evaluate, report       as for an experiment

An experiment with ``ancestor: a`` starts from experiment a's generation 0
(same dataset, architecture and width, seed, training and data): it has no
stress_train step of its own, and a treatment and its control then differ
only in what the papers vary.

A generation with one member (every generation of every method but sexual
synthesis, and generation 0 of that: the population descends from one
ancestor, so mated weights stay aligned) has no ``m<k>`` folder. A sexual
offspring's encode step depends on every member of the previous generation,
because its parents are chosen when it runs (at random or by fitness).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from evosynth.data.raw import raw_paths
from evosynth.pipeline.layout import (  # noqa: F401 (re-exported: the plan's public surface)
    COMPARE_DIR,
    EVIDENCE_DIR,
    PICKS_DIR,
    chain_generations,
    chain_metrics,
    default_baselines,
    default_experiments,
    member_dir,
    metrics_files,
    population_size,
    prepared_path,
    report_dir,
    run_dir,
    run_owner,
    transfer_dir,
    transfer_metrics,
)
from evosynth.pipeline.outputs import (  # noqa: F401 (re-exported)
    PAPER_TABLE_ARCHITECTURES,
    STEP_FILES,
    STEP_MODULES,
    STEP_PARAMS,
    step_files,
)
from evosynth.pipeline.curves_steps import curves_steps
from evosynth.pipeline.pickset import ablation_chains, timed_chains
from evosynth.pipeline.probe_steps import probe_steps
from evosynth.pipeline.seeds import FAMILIES, members
from evosynth.pipeline.stage import PARAMS_FILE, Step, cmd, code_steps, make_step, param_values  # noqa: F401 (re-exported)


def distills(spec: dict[str, Any]) -> bool:
    """Offspring of this experiment learn from a teacher's outputs (train.distill): the teacher is a dependency."""
    return spec["train"].get("distill", {}).get("alpha", 0.0) > 0


def teachers(spec: dict[str, Any], parents: list[str], ancestor: str) -> list[str]:
    """The model.pt an offspring learns from (train.distill.teacher): its parent's or its ancestor's; none without."""
    if not distills(spec):
        return []
    return [ancestor] if spec["train"]["distill"].get("teacher") == "ancestor" else parents


def _experiment_steps(exp: str, spec: dict[str, Any]) -> list[Step]:
    data = prepared_path(spec["dataset"])
    ancestor = f"{run_dir(exp, spec, 0)}/model.pt"
    sexual = spec["method"] == "sexual"
    family = spec.get("family")
    steps: list[Step] = []
    for gen in range(0 if spec.get("ancestor") is None else 1, spec["generations"] + 1):
        size = population_size(spec, gen)
        previous = [run_dir(exp, spec, gen - 1, k) for k in range(population_size(spec, gen - 1))] if gen else []
        for k in range(size):
            folder = run_dir(exp, spec, gen, k)
            where = {"experiment": exp, "generation": gen, "member": k if size > 1 else None, "family": family}
            model = f"{folder}/model.pt"
            if gen == 0:
                steps.append(make_step("stress_train", "train", folder, [data], ["--data", data], **where))
                lineage: list[str] = []
            else:
                genome, offspring = f"{folder}/genome.pt", f"{folder}/offspring.pt"
                parents = [f"{p}/model.pt" for p in previous]
                parent_args = [a for p in parents for a in ("--parent", p)]
                fitness = [f"{p}/metrics.json" for p in previous] if sexual else []
                fitness_args = [a for m in fitness for a in ("--parent-metrics", m)]
                adaptive = [f"{p}/metrics.json" for p in previous] if spec["environment"].get("adaptive") else []
                if adaptive:  # the environment reads how far the parents' accuracy fell below the ancestor's
                    adaptive.append(f"{run_dir(exp, spec, 0)}/metrics.json")
                adaptive_args = [a for m in adaptive[:-1] for a in ("--parent-metrics", m)]
                adaptive_args += ["--ancestor-metrics", adaptive[-1]] if adaptive else []
                teacher = teachers(spec, parents, ancestor)  # one member per generation (params.py checks)
                steps += [
                    make_step("encode", "encode", folder, parents + fitness, parent_args + fitness_args, **where),
                    make_step("synthesize", "synthesize", folder, [genome, *adaptive], ["--genome", genome, *adaptive_args],
                          **where),
                    make_step("retrain", "train", folder, [offspring, data, *teacher],
                          ["--data", data, "--init", offspring, *(a for t in teacher for a in ("--teacher", t))],
                          **where),
                ]
                lineage = ["--genome", genome]
            evaluate_deps = [model, data] + ([ancestor] if model != ancestor else []) + lineage[1:]
            steps.append(
                make_step(
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
        make_step("report", "report", report_dir(exp), metrics, ["--metrics", *metrics], experiment=exp, family=family)
    )
    if not spec["test_on"] and spec["architecture"] not in PAPER_TABLE_ARCHITECTURES:
        return steps
    return steps + _transfer_steps(exp, spec)


def _transfer_steps(exp: str, spec: dict[str, Any]) -> list[Step]:
    """Every generation scored on each ``test_on`` set without retraining; the paper tables (EvoNet
    Tables I–II, cluster paper Table 3) from them and the experiment's own metrics."""
    ancestor = f"{run_dir(exp, spec, 0)}/model.pt"
    steps, tables = [], list(metrics_files(exp, spec))
    read = tuple(f"experiments.{exp}.{key}" for key in STEP_PARAMS["transfer"])
    for dataset in spec["test_on"]:
        data = prepared_path(dataset)
        for gen in range(spec["generations"] + 1):
            size = population_size(spec, gen)
            for k in range(size):
                run = run_dir(exp, spec, gen, k)
                lineage = ["--genome", f"{run}/genome.pt"] if gen else []
                deps = [f"{run}/model.pt", data] + ([ancestor] if gen else []) + lineage[1:]
                args = ["--model", f"{run}/model.pt", "--data", data, "--ancestor", ancestor, *lineage]
                where = {"experiment": exp, "generation": gen, "member": k if size > 1 else None}
                step = make_step("transfer", "evaluate", transfer_dir(exp, dataset, gen, k, size), deps, args,
                             params=read, **where)
                steps.append(replace(step, dataset=dataset))
        tables += transfer_metrics(exp, spec, dataset)
    steps.append(make_step("paper_tables", "tables", report_dir(exp), tables, [], experiment=exp))
    return steps


def _runtime_steps(exp: str, spec: dict[str, Any], runtime: dict[str, Any]) -> list[Step]:
    """Export every generation's compacted network and time them all (one member per generation)."""
    steps, args, deps = [], [], []
    for gen in range(spec["generations"] + 1):
        folder = run_dir(exp, spec, gen)
        model = f"{folder}/model.pt"
        owner = run_owner(exp, spec, gen)
        steps.append(make_step("export", "export", folder, [model], ["--model", model], experiment=owner, generation=gen))
        deps += [model, f"{folder}/model.onnx", f"{folder}/metrics.json"]
        args += ["--generation-dir", folder]
    read = (f"experiments.{exp}.generations", "runtime")
    steps.append(make_step("runtime", "runtime", report_dir(exp), deps, args, params=read, experiment=exp))
    return steps


def _with_speed(report: Step) -> Step:
    """A report step that also reads the experiment's runtime.json (its summary then holds the measured speed-up)."""
    timing = f"{report.folder}/runtime.json"
    line = report.cmd.replace(" --out-dir ", f" --runtime {timing} --out-dir ")
    return replace(report, deps=(*report.deps, timing), cmd=line)


def _paper_steps(params: dict[str, Any]) -> list[Step]:
    """The feature analysis and the papers' tables, figures and index (docs/method.md §11.2)."""
    papers = params["papers"]
    exp = papers["features"]
    spec = params["experiments"][exp]
    gens = [run_dir(exp, spec, g) for g in range(spec["generations"] + 1)]
    data = prepared_path(spec["dataset"])
    features = make_step(
        "features", "features", "reports/papers",
        [*(f"{g}/{f}" for g in gens for f in ("model.pt", "metrics.json")), data],
        ["--data", data, *(a for g in gens for a in ("--generation-dir", g))],
        params=("papers", f"experiments.{exp}.generations"), experiment=exp,
    )
    runs = dict.fromkeys([*papers["table1"], *papers["cluster_tables"], *papers["sexual"].values(),
                          *papers["sweep"], papers["baselines"]["evolved"], *papers["baselines"]["against"]])
    deps = [m for run in runs for m in chain_metrics(run, params)]
    deps += [f"{report_dir(papers['runtime'])}/runtime.json", *features.outs[:-1]]
    deps += [f"{report_dir(e)}/generations.png" for e in [*default_experiments(params), *default_baselines(params)]]
    if params["comparisons"]:
        deps += [f"{COMPARE_DIR}/comparisons.md", f"{COMPARE_DIR}/comparisons.png"]
    read = ("papers", *(f"experiments.{e}.generations" for e in default_experiments(params)))
    return [features, make_step("papers", "papers", "reports", deps, [], params=read)]


def _baseline_steps(name: str, spec: dict[str, Any], params: dict[str, Any]) -> list[Step]:
    followed = spec["follow"]
    exp = params["experiments"][followed]
    data = prepared_path(exp["dataset"])
    ancestor = f"{run_dir(followed, exp, 0)}/model.pt"
    # a chain of a baseline with seeds reads its family's keys as written (the seed is in the chain's name)
    source, own = exp.get("family") or followed, spec.get("family") or name
    reads = {s: tuple(f"experiments.{source}.{k}" for k in STEP_PARAMS[s] if not (exp.get("family") and k == "seed"))
             for s in ("retrain", "evaluate")}
    steps, scheduled = [], bool(spec.get("schedule"))
    for gen in range(1, chain_generations(params, name) + 1):
        folder = member_dir(name, gen, 0, 1)
        parent = ancestor if gen == 1 else f"{member_dir(name, gen - 1, 0, 1)}/model.pt"
        # its own course reads the ancestor's synapse count; following reads the followed run's at this generation
        against = ("--ancestor", ancestor) if scheduled else ("--target-metrics", f"{member_dir(followed, gen, 0, 1)}/metrics.json")
        offspring, model = f"{folder}/offspring.pt", f"{folder}/model.pt"
        teacher = teachers(exp, [parent], ancestor)  # the followed run's training: its own parent, or the ancestor
        where = {"experiment": name, "generation": gen}
        steps += [
            make_step("prune", "prune", folder, list(dict.fromkeys([parent, against[1]])), ["--parent", parent, *against],
                  params=(f"baselines.{own}",), **where),
            make_step("retrain", "train", folder, [offspring, data, *teacher],
                  ["--data", data, "--init", offspring, *(a for t in teacher for a in ("--teacher", t))],
                  params=reads["retrain"], **where),
            make_step("evaluate", "evaluate", folder, [model, data, ancestor, parent],
                  ["--model", model, "--data", data, "--ancestor", ancestor, "--parent", parent],
                  params=reads["evaluate"], **where),
        ]
    metrics = chain_metrics(name, params)
    steps.append(make_step("report", "report", report_dir(name), metrics, ["--metrics", *metrics],
                       params=(f"baselines.{own}", *(() if scheduled else (f"experiments.{source}.generations",))),
                       experiment=name))
    return steps


def _picks_step(params: dict[str, Any]) -> Step:
    """The picks report (named target ``pickset`` outside the default): every generation of every chain of
    ``runtime.picks`` timed in one process (the selected generation is known once run), and the ablations' metrics."""
    timed, ablations = timed_chains(params), ablation_chains(params)
    metrics = list(dict.fromkeys(m for run in timed for m in chain_metrics(run, params)))
    deps = [f for m in metrics for f in (m, m.replace("metrics.json", "model.pt"))]
    deps += [m for run in ablations for m in chain_metrics(run, params) if m not in metrics]
    names = [*params["runtime"]["picks"], *params["picks"]["ablations"]]
    experiments = {**params["experiments"], **params[FAMILIES]}
    read = ("runtime", "picks", *(("papers",) if params.get("papers") else ()),
            *(f"experiments.{r}.{k}" for r in names if r in experiments for k in ("generations", "seeds")),
            *(f"baselines.{r}" for r in names if r not in experiments))
    step = make_step("picks", "picks", PICKS_DIR, deps, [], params=read)
    every = set(timed + ablations) <= {*default_experiments(params), *default_baselines(params)}
    return replace(step, default=every)


def build_plan(params: dict[str, Any]) -> list[Step]:
    """Every step of every experiment in ``params`` (validated), in dependency order.

    Steps of experiments with ``default: false`` (and the preparation of data
    only they use) carry ``default=False``: the engines run them when named.
    """
    steps: list[Step] = []
    defaults = default_experiments(params)
    in_default = {params["experiments"][e]["dataset"] for e in defaults}
    in_default |= {d for e in defaults for d in params["experiments"][e]["test_on"]}
    used = {d for exp in params["experiments"].values() for d in [exp["dataset"], *exp["test_on"]]}
    for dataset in sorted(used):
        raw = list(raw_paths(params["datasets"][dataset]))  # the user's files: a changed one re-prepares
        prepare = make_step("prepare", "prepare", "data/prepared", raw, ["--dataset", dataset], dataset=dataset)
        steps.append(replace(prepare, default=dataset in in_default))
    for exp, spec in params["experiments"].items():
        chain = _experiment_steps(exp, spec)
        if exp in params["runtime"]["experiments"]:
            chain += _runtime_steps(exp, spec, params["runtime"])
            # the report reads the timings: it moves after them, as the plan is in dependency order
            chain = [s for s in chain if s.step != "report"] + [_with_speed(s) for s in chain if s.step == "report"]
        steps += chain if exp in defaults else [replace(step, default=False) for step in chain]
    for name, spec in params["baselines"].items():
        chain = _baseline_steps(name, spec, params)
        steps += chain if name in default_baselines(params) else [replace(step, default=False) for step in chain]
    if params.get("papers"):
        steps += _paper_steps(params)
    if params["comparisons"]:
        involved = sorted({c[role] for c in params["comparisons"].values() for role in ("treatment", "control")})
        deps = [m for exp in involved for m in metrics_files(exp, params["experiments"][exp])]
        read = ("comparisons", *(f"experiments.{e}.generations" for e in involved))
        steps.append(make_step("compare", "compare", COMPARE_DIR, deps, [], params=read))
    if params.get("evidence"):
        steps.append(replace(_evidence_step(params), default=False))
    if params.get("probe"):  # the capacity probe (pipeline/probe.py): a named target
        steps += [replace(step, default=False) for step in probe_steps(params)]
    if params["runtime"]["picks"]:
        steps.append(_picks_step(params))
    if params.get("curves"):  # the trade-off curves (pipeline/curves.py): a named target
        steps += [replace(step, default=False) for step in curves_steps(params)]
    steps = list({step.name: step for step in steps}.values())  # a shared ancestor's export is one step
    return code_steps(steps) + steps


def _evidence_step(params: dict[str, Any]) -> Step:
    """The evidence set's verdicts (named target ``evidence``): every chain of every claim and sweep point."""
    evidence = params["evidence"]
    families = dict.fromkeys([*(c[r] for c in evidence["claims"].values() for r in ("treatment", "control")),
                              *evidence["sweep"]])
    deps = [m for family in families for exp in members(params, family)
            for m in metrics_files(exp, params["experiments"][exp])]
    read = ("evidence", *(f"experiments.{f}.{k}" for f in families for k in ("seeds", "generations")))
    return make_step("evidence", "evidence", EVIDENCE_DIR, deps, [], params=read)
