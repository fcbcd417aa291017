# Input functions and the plan lookup shared by every rule. The plan is built
# by evosynth from params.yaml, exactly as for dvc.yaml.
import json

from snakemake.utils import validate

from evosynth.errors import ParamsError
from evosynth.params import SCHEMA_PATH, validate_params
from evosynth.plan import build_plan

try:
    PARAMS = validate_params(config, check_files=True, source="params.yaml")
except ParamsError as exc:
    raise WorkflowError(str(exc)) from None
validate(config, str(SCHEMA_PATH))

PLAN = {step.name: step for step in build_plan(PARAMS)}


wildcard_constraints:
    exp="[A-Za-z][A-Za-z0-9_]*",
    dataset="[A-Za-z][A-Za-z0-9_]*",
    g="[0-9]+",
    child="[1-9][0-9]*",


def all_outputs():
    return [out for step in PLAN.values() for out in step.outs]


def _step(rule_step, wildcards):
    gen = 0 if rule_step == "stress_train" else wildcards.get("g", wildcards.get("child"))
    parts = [rule_step, wildcards.get("dataset") or wildcards.get("exp")]
    if gen is not None:
        parts.append(f"gen{int(gen)}")
    return PLAN["-".join(parts)]


def step_inputs(rule_step):
    """Input function: the step's dependencies, as listed in the plan."""
    return lambda wildcards: list(_step(rule_step, wildcards).deps)


def step_cmd(rule_step):
    """Params function: the step's command line, identical to dvc.yaml's cmd."""
    return lambda wildcards: _step(rule_step, wildcards).cmd


def step_values(rule_step):
    """Params function: the params.yaml values the step reads (rerun trigger)."""

    def values(wildcards):
        read = {}
        for key in _step(rule_step, wildcards).params:
            node = PARAMS
            for part in key.split("."):
                node = node[part]
            read[key] = node
        return json.dumps(read, sort_keys=True)

    return values
