"""Render the DVC pipeline from params.yaml through evosynth's plan (the DAG both engines share).

    python workflow/scripts/render_dvc.py            # rewrite dvc.yaml and pipelines/*/dvc.yaml
    python workflow/scripts/render_dvc.py --check    # exit 1 if any of them is stale

Run it after changing the experiments in params.yaml (names, generations,
datasets); changes of values inside an experiment need no re-rendering.

The stages of each experiment's generations live in
``pipelines/<experiment>/dvc.yaml`` (run from the project root: ``wdir``),
each with its own small ``dvc.lock``: DVC rewrites a stage's lock file after
every stage, and one lock file of several hundred stages made that cost more
than the stages themselves. ``dvc.yaml`` at the root holds what a user asks
for by name (data preparation, every experiment's report, runtime, compare,
features, papers), so plain ``dvc repro`` reaches every default experiment
through its report. Experiments with ``default: false`` keep all their stages
in their own file, rendered only on request (DVC collects every dvc.yaml in
the repository, so a file for each never-run experiment made every ``dvc
status`` list them all as deleted and cost seconds to parse)::

    python workflow/scripts/render_dvc.py --with cluster_alexnet_cifar10   # then:
    dvc repro pipelines/cluster_alexnet_cifar10/dvc.yaml

An experiment rendered once stays rendered (its file is kept fresh) until
its file is deleted. The evidence set's verdict stage is
``pipelines/evidence/dvc.yaml``, rendered with every chain it needs by
``--with evidence`` (then ``dvc repro pipelines/evidence/dvc.yaml``): a
stage of the root file would run in every plain ``dvc repro``, which
reproduces all of ./dvc.yaml. The pick set is the same:
``--with pickset`` renders the picks stage (``pipelines/picks/dvc.yaml``)
with every chain of the pick, its ablations and its baselines, each chain's
file complete with its report. An experiment with seeds is named by its
family (``--with pick``: every chain ``pick_s<k>``). The capacity probe's trainings and report are
``pipelines/probe/dvc.yaml`` (``--with probe``); the trade-off curves' from-scratch controls, latency timings
and report are ``pipelines/curves/dvc.yaml`` (``--with curves``). Metrics are one small ``summary.json`` per
experiment; the per-generation values are plot data (``plots.csv``), drawn by
the template in ``.dvc/plots/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from evosynth.errors import ParamsError
from evosynth.pipeline.codedeps import code_files
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.paramsfile import read_params_file
from evosynth.pipeline.plan import PARAMS_FILE, Step, build_plan
from evosynth.pipeline.seeds import BASELINE_FAMILIES, FAMILIES, members
from evosynth.pipeline.stage import param_values

HEADER = "# Generated from params.yaml by workflow/scripts/render_dvc.py: do not edit by hand.\n"


#: Steps kept in the root dvc.yaml (for the default target): the ones users name.
ROOT_STEPS = ("prepare", "report", "paper_tables", "runtime", "compare", "features", "papers", "picks")
ROOT_FILE = "dvc.yaml"
#: Outputs kept in DVC's cache (and remote), not in git: networks, exports and prepared datasets.
CACHED_SUFFIXES = (".pt", ".onnx", ".ts", ".npz")
#: Trainings whose report reads only their small files: each stage is one network, run in groups that may
#: finish on different machines (a session's DVC cache does not follow the next one), so their metrics, logs
#: and records live in git beside the report that reads them and only the model goes to DVC's cache.
SPLIT_STEPS = ("probe_train", "scratch")
#: Dependencies only the code stages of dvc.yaml have (see :func:`_stage`).
DVC_ONLY_DEPS = (PARAMS_FILE,)


#: Steps that share the file of another step belonging to no experiment: the probe's trainings go with its report.
STEP_GROUPS = {"prepare": "data", "probe_train": "probe", "scratch": "curves", "latency": "curves"}


def pipeline_file(step: Step) -> str:
    """The dvc.yaml that holds ``step``, relative to the project root: an experiment's own file, the data
    preparation's, or one per step that belongs to no experiment (code records, evidence, picks, the probe)."""
    if step.default and step.step in ROOT_STEPS:
        return ROOT_FILE
    return f"pipelines/{step.experiment or STEP_GROUPS.get(step.step, step.step)}/dvc.yaml"


def _stage(step: Step, raw: dict[str, Any], wdir: str | None) -> dict[str, Any]:
    stage: dict[str, Any] = {"cmd": step.cmd}
    if wdir:
        stage["wdir"] = wdir
    if step.deps:
        stage["deps"] = list(step.deps)
    params = list(param_values(raw, step.params))
    if params:
        stage["params"] = params
    # metrics and reports are small and live in git, so `dvc metrics diff` /
    # `dvc plots diff` compare them across commits; a stage writing a model or a dataset goes to DVC's cache
    # (a split step's model alone: SPLIT_STEPS).
    cached = [out.endswith(CACHED_SUFFIXES) for out in step.outs]
    if step.step not in SPLIT_STEPS:
        cached = [any(cached)] * len(cached)
    stage["outs"] = [out if keep else {out: {"cache": False}} for out, keep in zip(step.outs, cached)]
    if step.step == "code":
        # Every stage depends on a code stage, so with params.yaml as a dependency the code stages
        # rerun first after any edit: `evosynth code` validates the file and a bad value stops
        # `dvc repro` before DVC deletes any output (persist: not even the record). A valid edit
        # rewrites the records byte for byte, so nothing downstream reruns for it. Snakemake
        # validates at parse time and needs no such dependency (its code rules would rerun by mtime).
        stage["deps"] = [*DVC_ONLY_DEPS, *stage.get("deps", [])]
        stage["outs"] = [{out: {"cache": False, "persist": True}} for out in step.outs]
    return stage


#: The Vega-Lite templates of the line plots (.dvc/plots/<name>.json): one colour per line named in words, whole
#: generations; accuracy on a linear axis, the ratios over generation 0 on a log axis.
TEMPLATE, LOG_TEMPLATE = "evosynth_lines", "evosynth_log"
#: The plot data's quantities: column, axis title.
PLOTTED = (
    ("accuracy_percent", "test accuracy (%)"),
    ("synaptic_efficiency", "× generation 0's synapses"),
    ("cluster_efficiency", "× generation 0's kernels"),
    ("mac_reduction", "× generation 0's MACs"),
)


def _plots(step: Step, up: str, members: int) -> list[dict[str, Any]]:
    """Line plots of the report's plots.csv (one line per population member) and every PNG it writes."""
    table = up + next(o for o in step.outs if o.endswith("/plots.csv"))
    tags = [f"_m{k}" for k in range(members)] if members > 1 else [""]
    common = {"x": "generation", "x_label": "generation", "template": TEMPLATE}
    plots = [{f"{step.experiment}: accuracy": {
        **common, "y": {table: [f"accuracy_percent{t}" for t in tags]}, "y_label": "test accuracy (%)",
        "title": f"{step.experiment}: test accuracy (%) vs generation"}}]
    plots.append({f"{step.experiment}: efficiency": {
        **common, "template": LOG_TEMPLATE, "y": {table: [f"{key}{t}" for key, _ in PLOTTED[1:] for t in tags]},
        "y_label": "× generation 0 (synapses, kernels, MACs; log scale)",
        "title": f"{step.experiment}: synaptic, cluster efficiency, MAC reduction vs generation"}})
    return plots


def _images(step: Step, up: str) -> list[str]:
    """The PNGs a step writes, declared as image plots (``dvc plots show`` embeds them)."""
    return [up + o for o in step.outs if o.endswith(".png")]


def _members(step: Step, params: dict[str, Any]) -> int:
    spec = params["experiments"].get(step.experiment or "")
    return spec["population"]["size"] if spec and spec["method"] == "sexual" else 1


#: Named targets that are one step outside every experiment: target → step (its file: pipelines/<step>/dvc.yaml).
NAMED_STEPS = {"evidence": "evidence", "pickset": "picks", "probe": "probe", "curves": "curves"}


def rendered_steps(params: dict[str, Any], opted: set[str]) -> list[Step]:
    """The steps rendered into dvc.yaml files: the default target's, and those the ``opted`` targets need.

    A target is an experiment or baseline with ``default: false`` (its chain
    and report; a family with seeds: every chain), ``evidence`` (the verdict
    stage) or ``pickset`` (the picks stage); every step they depend on (a
    chain, a prepare or code stage) is rendered with them, and every chain
    they reach is rendered whole, report included, so that its file is the
    same whether it was named or reached.
    """
    plan = build_plan(params)
    producer = {out: step for step in plan for out in step.outs}
    chains = {c for name in opted for c in members(params, name)}
    steps = {NAMED_STEPS[t] for t in opted if t in NAMED_STEPS}
    names = _upstream([s for s in plan if (s.default and s.step not in ("prepare", "code"))
                       or s.experiment in chains or s.step in steps or STEP_GROUPS.get(s.step) in steps], producer)
    reached = {s.experiment for s in plan if s.name in names and s.experiment}  # each rendered whole
    names |= _upstream([s for s in plan if s.experiment in reached], producer)
    return [s for s in plan if s.name in names]


def _upstream(todo: list[Step], producer: dict[str, Step]) -> set[str]:
    """The names of the steps ``todo`` and of every step they depend on."""
    names: set[str] = set()
    while todo:
        step = todo.pop()
        if step.name not in names:
            names.add(step.name)
            todo += [producer[d] for d in step.deps if d in producer]
    return names


def optional_targets(params: dict[str, Any]) -> list[str]:
    """What ``--with`` accepts: the experiments with ``default: false`` (and their families), the baselines
    following one of them, ``evidence`` and ``probe`` if params has them, and ``pickset`` when the picks stage is outside the default."""
    named = [e for e, spec in params["experiments"].items() if not spec.get("default", True)]
    named += [b for b, spec in params["baselines"].items() if spec["follow"] in named]
    named += [f for f in (*params[FAMILIES], *params[BASELINE_FAMILIES]) if set(members(params, f)) <= set(named)]
    picks = [s for s in build_plan(params) if s.step == "picks"]
    return (named + (["evidence"] if params.get("evidence") else []) + (["pickset"] if picks and not picks[0].default else [])
            + (["probe"] if params.get("probe") else []) + (["curves"] if params.get("curves") else []))


def _target_file(name: str) -> str:
    return f"pipelines/{NAMED_STEPS.get(name, name)}/dvc.yaml"


def render(params: dict[str, Any], raw: dict[str, Any], opted: set[str] = frozenset()) -> dict[str, str]:
    """The text of every dvc.yaml (root first), keyed by its path relative to the project root.

    A stage lists the params keys it reads that ``raw`` (the file as written)
    contains: DVC refuses keys missing from params.yaml, and a key left to its
    default can only change by being written, which makes the stage stale.
    Paths in a file under pipelines/ (its metrics and plots) are relative to it.
    ``opted`` names experiments with ``default: false`` to render as well.
    """
    documents: dict[str, dict[str, Any]] = {ROOT_FILE: {"stages": {}, "metrics": [], "plots": []}}
    for step in rendered_steps(params, set(opted)):
        path = pipeline_file(step)
        up = "../" * path.count("/")
        document = documents.setdefault(path, {"stages": {}, "metrics": [], "plots": []})
        document["stages"][step.name] = _stage(step, raw, up.rstrip("/") or None)
        document["metrics"] += [up + m for m in step.metrics]
        if step.step == "report":
            document["plots"] += _plots(step, up, _members(step, params))
        document["plots"] += _images(step, up)
    for path, document in documents.items():
        document["stages"] = _slice_params(path, document["stages"])
    return {
        path: HEADER + yaml.safe_dump({k: v for k, v in doc.items() if v}, sort_keys=False, width=120)
        for path, doc in documents.items()
    }


#: Where each dvc.yaml keeps the params its stages track (workflow/scripts/params_slice.py): beside a file
#: under pipelines/, and for the root file in pipelines/ itself (the root folder holds the project's own files).
SLICE_NAME = "params.json"
SLICE_SCRIPT = "workflow/scripts/params_slice.py"
#: The project modules the slice script imports (its code, with the script itself).
SLICE_MODULES = ("evosynth.artifacts", "evosynth.pipeline.params", "evosynth.pipeline.paramsfile",
                 "evosynth.pipeline.stage")


def slice_path(path: str) -> str:
    """The params slice of the dvc.yaml at ``path`` (relative to the project root, as its stages' wdir is)."""
    return f"pipelines/{SLICE_NAME}" if path == ROOT_FILE else f"{path.rsplit('/', 1)[0]}/{SLICE_NAME}"


def slice_stage(path: str) -> str:
    """The name of the stage that writes the params slice of the dvc.yaml at ``path``."""
    return "params-root" if path == ROOT_FILE else f"params-{path.split('/')[1]}"


def _slice_params(path: str, stages: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stages of one dvc.yaml, pointed at their own small copy of their params keys.

    DVC parses and walks a stage's params file each time it checks the stage;
    on params.yaml that was 75 % of a no-op ``dvc status`` (see the script's
    docstring). A first stage copies the keys into the file's ``params.json``
    (:func:`slice_path`), from params.yaml as a whole-file dependency; the others track them there.
    """
    keys = list(dict.fromkeys(k for stage in stages.values() for k in stage.get("params", [])))
    if not keys:
        return stages
    out = slice_path(path)
    for stage in stages.values():
        if stage.get("params"):
            stage["params"] = [{out: stage["params"]}]
    code = sorted({f for module in SLICE_MODULES for f in code_files(module)})
    first = {"cmd": f"python {SLICE_SCRIPT} --params {PARAMS_FILE} --out {out} {' '.join(keys)}",
             "wdir": ("../" * path.count("/")).rstrip("/") or None,
             "deps": [PARAMS_FILE, SLICE_SCRIPT, *code], "outs": [{out: {"cache": False, "persist": True}}]}
    return {slice_stage(path): {k: v for k, v in first.items() if v is not None}, **stages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--root", type=Path, default=Path("."), help="the project folder (default: .)")
    parser.add_argument("--check", action="store_true", help="only check that the dvc.yaml files are up to date")
    parser.add_argument("--with", dest="opted", action="append", default=[], metavar="TARGET",
                        help="also render an experiment with default: false, evidence, pickset, probe or curves (repeatable)")
    args = parser.parse_args(argv)
    try:
        raw = read_params_file(args.params)
        params = validate_params(raw, source=str(args.params))
        optional = optional_targets(params)
        unknown = [e for e in args.opted if e not in optional]
        if unknown:
            raise ParamsError(f"{args.params}: --with {unknown[0]}: not an experiment with default: false, evidence,"
                              " pickset, probe nor curves;"
                              f" allowed: {', '.join(optional) or 'none'}")
        # an optional experiment whose file exists was asked for before: it stays rendered
        opted = set(args.opted) | {e for e in optional if (args.root / _target_file(e)).is_file()}
        texts = render(params, raw, opted)
    except ParamsError as exc:
        print(f"render_dvc: error: {exc}", file=sys.stderr)
        return 2
    extra = [p for p in sorted(args.root.glob("pipelines/*/dvc.yaml")) if p.relative_to(args.root).as_posix() not in texts]
    stale = [path for path, text in texts.items() if not (args.root / path).is_file() or (args.root / path).read_text() != text]
    if args.check:
        for path in [*stale, *(p.relative_to(args.root).as_posix() for p in extra)]:
            print(f"{path} is stale: run python workflow/scripts/render_dvc.py", file=sys.stderr)
        return 1 if stale or extra else 0
    for path in stale:
        (args.root / path).parent.mkdir(parents=True, exist_ok=True)
        (args.root / path).write_text(texts[path])
    for old in extra:  # an experiment removed from params.yaml: its pipeline and lock go too
        for name in ("dvc.yaml", "dvc.lock", SLICE_NAME):
            (old.parent / name).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
