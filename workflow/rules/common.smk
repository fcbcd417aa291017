# Input functions and the plan lookup shared by every rule. The plan is built
# by evosynth from params.yaml, exactly as for dvc.yaml.
import json
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

# {run} is one member's folder under results/: <experiment>/gen<g>[/m<k>]
EXPERIMENT = r"[A-Za-z][A-Za-z0-9_]*"
# Offspring of experiments are synthesized, offspring of baselines pruned: the names tell them apart.
ANCESTOR = r"[A-Za-z][A-Za-z0-9_]*[/]gen0([/]m[0-9]+)?"
OFFSPRING = r"[A-Za-z][A-Za-z0-9_]*[/]gen[1-9][0-9]*([/]m[0-9]+)?"
EVOLVED = f"({'|'.join(PARAMS['experiments'])})[/]gen[1-9][0-9]*([/]m[0-9]+)?"
PRUNED = f"({'|'.join(PARAMS['baselines']) or '(?!)'})[/]gen[1-9][0-9]*"


wildcard_constraints:
    exp=EXPERIMENT,
    dataset=EXPERIMENT,
    module=r"[a-z_]+",
    run=r"[A-Za-z][A-Za-z0-9_]*[/]gen[0-9]+([/]m[0-9]+)?",
    scored=r"[A-Za-z][A-Za-z0-9_]*[/][A-Za-z][A-Za-z0-9_]*[/]gen[0-9]+([/]m[0-9]+)?",


def all_outputs():
    """The default target: every step but those of experiments with default: false (request their files)."""
    return [out for step in PLAN.values() if step.default for out in step.outs]


def _step(rule_step, wildcards):
    """The plan's step for a job: its name is the step, then the run folder's parts.

    A rule without wildcards (features, papers) has exactly one step of its kind.
    """
    if "run" in wildcards.keys():
        where = Path(wildcards.run).parts
    elif "scored" in wildcards.keys():  # <experiment>/<test set>/gen<g>[/m<k>] under reports/
        where = Path(wildcards.scored).parts
    else:
        where = [w for w in (wildcards.get("dataset"), wildcards.get("exp"), wildcards.get("module")) if w]
    if not where:
        (only,) = [step for step in PLAN.values() if step.step == rule_step]
        return only
    return PLAN["-".join([rule_step, *where])]


def step_inputs(rule_step):
    """Input function: the step's dependencies, as listed in the plan."""
    return lambda wildcards: list(_step(rule_step, wildcards).deps)


def step_cmd(rule_step):
    """Params function: the step's command line, identical to dvc.yaml's cmd."""
    return lambda wildcards: _step(rule_step, wildcards).cmd


def step_values(rule_step):
    """Params function: the params.yaml values the step reads (rerun trigger)."""
    return lambda wildcards: json.dumps(param_values(PARAMS, _step(rule_step, wildcards).params), sort_keys=True)
