# Input functions and the plan lookup shared by every rule. The plan is built
# by evosynth from params.yaml, exactly as for dvc.yaml.
import json
import os
import re
from pathlib import Path

from snakemake.utils import validate

from evosynth.errors import ParamsError
from evosynth.pipeline.params import SCHEMA_PATH, validate_params
from evosynth.pipeline.plan import STEP_FILES, build_plan, param_values

# The steps read params.yaml themselves (RAW: the Snakefile read it as they do): validate it and make
# sure Snakemake's config is that file, so whatever `evosynth check` accepts is what every job runs.
try:
    PARAMS = validate_params(RAW, check_files=True, source="params.yaml")
    if config != RAW:
        raise ParamsError("params.yaml: Snakemake's config differs from the file (--config or --configfile?);"
                          " allowed: edit params.yaml, which every step reads")
except ParamsError as exc:
    raise WorkflowError(str(exc)) from None
validate(config, str(SCHEMA_PATH))

PLAN = {step.name: step for step in build_plan(PARAMS)}
PAPERS_OUTPUTS = [f"reports/{name}" for name in STEP_FILES["papers"]]
REPORT_DIR = Path(workflow.basedir) / "report"


def papers_outputs():
    """The papers step's files; its tables (CSV) and figures (PNG) go into `snakemake --report`, captioned."""
    marked = []
    for path in PAPERS_OUTPUTS:
        name = Path(path).stem
        if path.endswith((".csv", ".png")):
            caption = "papers.rst" if not (REPORT_DIR / f"{name}.rst").is_file() else f"{name}.rst"
            kind = "figure" if path.endswith(".png") else "table"
            marked.append(report(path, caption=f"../report/{caption}", category="Papers", subcategory=name,
                                 labels={"name": name, "what": kind}))
        else:
            marked.append(path)
    return marked

# {run} is one member's folder under results/: <experiment>/gen<g>[/m<k>]. Every wildcard matches only
# what the plan holds, so a mistyped target is "No rule to produce <target>" (one line), never a
# traceback from an input function looking up a step that does not exist.
def _one_of(names):
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return f"(?:{alternatives})" if names else "(?!)"


RUNS = {s.folder.removeprefix("results/") for s in PLAN.values() if s.folder.startswith("results/") and s.step != "code"}
KNOWN_RUN = f"(?={_one_of(RUNS)}/)"  # a lookahead: the folder is one the plan has
EXPERIMENT = _one_of({s.experiment for s in PLAN.values() if s.experiment and s.folder == f"reports/{s.experiment}"})
SCORED = {s.folder.removeprefix("reports/") for s in PLAN.values() if s.step == "transfer"}
# Offspring of experiments are synthesized, offspring of baselines pruned: the names tell them apart.
ANCESTOR = f"{KNOWN_RUN}[A-Za-z][A-Za-z0-9_]*[/]gen0([/]m[0-9]+)?"
OFFSPRING = f"{KNOWN_RUN}[A-Za-z][A-Za-z0-9_]*[/]gen[1-9][0-9]*([/]m[0-9]+)?"
EVOLVED = f"{KNOWN_RUN}({'|'.join(PARAMS['experiments'])})[/]gen[1-9][0-9]*([/]m[0-9]+)?"
PRUNED = f"{KNOWN_RUN}({'|'.join(PARAMS['baselines']) or '(?!)'})[/]gen[1-9][0-9]*"


wildcard_constraints:
    exp=EXPERIMENT,
    dataset=_one_of({s.dataset for s in PLAN.values() if s.step == "prepare"}),
    module=_one_of({s.unit for s in PLAN.values() if s.step == "code"}),
    run=f"{KNOWN_RUN}[A-Za-z][A-Za-z0-9_]*[/]gen[0-9]+([/]m[0-9]+)?",
    scored=f"(?={_one_of(SCORED)}/)[A-Za-z][A-Za-z0-9_]*[/][A-Za-z][A-Za-z0-9_]*[/]gen[0-9]+([/]m[0-9]+)?",
    net=_one_of({s.unit for s in PLAN.values() if s.step == "probe_train"}),  # a probe network: w<widths>_s<seed>
    scratched=_one_of({Path(*s.unit.rsplit("-", 1)).as_posix() for s in PLAN.values() if s.step == "scratch"}),  # <chain>/gen<g>
    timed=_one_of({s.unit for s in PLAN.values() if s.step == "latency"}),  # <chain>: one latency timing of the curves


def all_outputs():
    """The default target: every step but those of experiments with default: false (request their files)."""
    return [out for step in PLAN.values() if step.default for out in step.outs]


def _step(rule_step, wildcards):
    """The plan's step for a job: its name is the step, then the run folder's parts.

    A rule without wildcards (features, papers, evidence, probe) has exactly one step of its kind.
    """
    if "run" in wildcards.keys():
        where = Path(wildcards.run).parts
    elif "scored" in wildcards.keys():  # <experiment>/<test set>/gen<g>[/m<k>] under reports/
        where = Path(wildcards.scored).parts
    elif "scratched" in wildcards.keys():  # a from-scratch control: <chain>/gen<g> under results/scratch/
        where = ["-".join(Path(wildcards.scratched).parts)]
    else:
        names = ("dataset", "exp", "module", "net", "timed")
        where = [w for w in (wildcards.get(n) for n in names) if w]
    if not where:
        found = [step for step in PLAN.values() if step.step == rule_step]
        if len(found) != 1:  # e.g. the pickset asked for with runtime.picks empty
            raise WorkflowError(f"params.yaml: the plan has no {rule_step} stage; allowed: give params.yaml"
                                f" what it needs (evidence: the evidence section; picks: runtime.picks)")
        return found[0]
    return PLAN["-".join([rule_step, *where])]


def _files(path):
    """A dependency as Snakemake must see it: a folder (a dataset's raw root) as the files under it.

    Snakemake dates a folder by the folder's own modification time, which a file edited inside it
    leaves alone; DVC hashes the folder's content, so dvc.yaml keeps the folder itself.
    """
    if not os.path.isdir(path):
        return [path]
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(path) for name in names)


def step_inputs(rule_step):
    """Input function: the step's dependencies, as listed in the plan (folders as their files)."""
    return lambda wildcards: [f for dep in _step(rule_step, wildcards).deps for f in _files(dep)]


def step_cmd(rule_step):
    """Params function: the step's command line, identical to dvc.yaml's cmd."""
    return lambda wildcards: _step(rule_step, wildcards).cmd


def step_values(rule_step):
    """Params function: the params.yaml values the step reads (rerun trigger)."""
    return lambda wildcards: json.dumps(param_values(PARAMS, _step(rule_step, wildcards).params), sort_keys=True)
