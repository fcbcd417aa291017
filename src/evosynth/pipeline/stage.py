"""A stage of the workflow: its command line, inputs, outputs and params, and the code stages.

The plan (:mod:`evosynth.pipeline.plan`) builds these for every experiment; both engines read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evosynth.pipeline import codedeps, numerics
from evosynth.pipeline.outputs import STEP_MODULES, STEP_PARAMS, step_files
from evosynth.pipeline.seeds import BASELINE_FAMILIES, FAMILIES

PARAMS_FILE = "params.yaml"
TOLERANCE = "papers.tolerance"
#: The params key of the numerics mode: every step computing with torch reads it (the timing steps run native).
NUMERICS = "numerics"

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
        parts = [self.step, self.unit, self.experiment, self.dataset]  # one of them; transfer: two
        if self.generation is not None:
            parts.append(f"gen{self.generation}")
        if self.member is not None:
            parts.append(f"m{self.member}")
        return "-".join(p for p in parts if p)


def param_values(params: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The values of dotted ``keys`` in ``params`` (what a step reads); a key absent from params is left out."""
    values = {}
    for key in keys:
        parts = key.split(".")
        node: Any = params
        families = {"experiments": FAMILIES, "baselines": BASELINE_FAMILIES}.get(parts[0])
        if families and len(parts) > 1 and parts[1] in params.get(families, {}):  # as written: the seeds' family
            node, parts = params[families], parts[1:]
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            values[key] = node
    return values


def cmd(subcommand: str, *args: str) -> str:
    return " ".join(["evosynth", subcommand, "--params", PARAMS_FILE, *args])


def make_step(
    step: str, subcommand: str, folder: str, deps: list[str], args: list[str],
    params: tuple[str, ...] | None = None, family: str | None = None, **where: Any,
) -> Step:
    """One step; a chain of an experiment with seeds reads its family's keys (its seed is in its name)."""
    exp, gen, member = where.get("experiment"), where.get("generation"), where.get("member")
    target = ["--experiment", exp] if exp else []
    target += ["--generation", str(gen)] if gen is not None else []
    target += ["--member", str(member)] if member is not None else []
    outs = tuple(f"{folder}/{f}" for f in step_files(step, dataset=where.get("dataset", "")))
    read = params or (
        tuple(f"experiments.{family or exp}.{key}" for key in STEP_PARAMS[step] if not (family and key == "seed"))
        if exp
        else (f"datasets.{where['dataset']}",)
    )
    return Step(
        step=step,
        folder=folder,
        cmd=cmd(subcommand, *target, *args, "--out-dir", folder),
        deps=(codedeps.record_path(STEP_MODULES[step]), *deps),
        outs=outs,
        params=(*read, *((TOLERANCE,) if step == "report" else ()),  # a report's summary picks within the tolerance
                *(() if subcommand in numerics.TIMING_STEPS else (NUMERICS,))),
        metrics=tuple(o for o in outs if o.endswith("/summary.json")),  # one small file per experiment
        **where,
    )


def code_steps(steps: list[Step]) -> list[Step]:
    """One code stage per step module the plan runs (:mod:`evosynth.pipeline.codedeps`)."""
    used: dict[str, bool] = {}
    for step in steps:
        module = STEP_MODULES[step.step]
        used[module] = used.get(module, False) or step.default
    return [
        Step(step="code", folder=codedeps.RECORD_DIR,
             cmd=cmd("code", "--module", module, "--out-dir", codedeps.RECORD_DIR),
             deps=codedeps.stage_code(module), outs=(codedeps.record_path(module),), params=(),
             default=default, unit=module)
        for module, default in sorted(used.items())
    ]
