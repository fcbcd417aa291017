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
in their own file: ``dvc repro pipelines/<experiment>/dvc.yaml`` runs one.
The evidence set's verdict stage is ``pipelines/evidence/dvc.yaml``
(``dvc repro pipelines/evidence/dvc.yaml``): a stage of the root file would
run in every plain ``dvc repro``, which reproduces all of ./dvc.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from evosynth.errors import ParamsError
from evosynth.pipeline.params import validate_params
from evosynth.pipeline.paramsfile import read_params_file
from evosynth.pipeline.plan import PARAMS_FILE, Step, build_plan

HEADER = "# Generated from params.yaml by workflow/scripts/render_dvc.py: do not edit by hand.\n"


def _present(raw: dict[str, Any], key: str) -> bool:
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


#: Steps kept in the root dvc.yaml (for the default target): the ones users name.
ROOT_STEPS = ("prepare", "report", "paper_tables", "runtime", "compare", "features", "papers", "picks")
ROOT_FILE = "dvc.yaml"
#: Dependencies only the code stages of dvc.yaml have (see :func:`_stage`).
DVC_ONLY_DEPS = (PARAMS_FILE,)


def pipeline_file(step: Step) -> str:
    """The dvc.yaml that holds ``step``, relative to the project root."""
    if step.default and step.step in ROOT_STEPS:
        return ROOT_FILE
    return f"pipelines/{step.experiment or (step.step if step.step in ('code', 'evidence', 'picks') else 'data')}/dvc.yaml"


def _stage(step: Step, raw: dict[str, Any], wdir: str | None) -> dict[str, Any]:
    stage: dict[str, Any] = {"cmd": step.cmd}
    if wdir:
        stage["wdir"] = wdir
    if step.deps:
        stage["deps"] = list(step.deps)
    params = [key for key in step.params if _present(raw, key)]
    if params:
        stage["params"] = params
    # metrics and reports are small and live in git, so `dvc metrics diff` /
    # `dvc plots diff` compare them across commits; models go to DVC's cache.
    in_git = step.step in ("code", "evaluate", "transfer", "report", "paper_tables", "compare", "runtime", "evidence",
                           "picks")
    stage["outs"] = [{out: {"cache": False}} if in_git else out for out in step.outs]
    if step.step == "code":
        # Every stage depends on a code stage, so with params.yaml as a dependency the code stages
        # rerun first after any edit: `evosynth code` validates the file and a bad value stops
        # `dvc repro` before DVC deletes any output (persist: not even the record). A valid edit
        # rewrites the records byte for byte, so nothing downstream reruns for it. Snakemake
        # validates at parse time and needs no such dependency (its code rules would rerun by mtime).
        stage["deps"] = [*DVC_ONLY_DEPS, *stage.get("deps", [])]
        stage["outs"] = [{out: {"cache": False, "persist": True}} for out in step.outs]
    return stage


def _plots(step: Step, up: str) -> list[dict[str, Any]]:
    table = up + step.outs[0]
    return [
        {f"{step.experiment}: accuracy": {"x": "generation", "y": {table: "accuracy"}, "template": "linear"}},
        {
            f"{step.experiment}: efficiency": {
                "x": "generation",
                "y": {table: ["synaptic_efficiency", "cluster_efficiency", "mac_reduction"]},
                "template": "linear",
            }
        },
    ]


def render(params: dict[str, Any], raw: dict[str, Any]) -> dict[str, str]:
    """The text of every dvc.yaml (root first), keyed by its path relative to the project root.

    A stage lists the params keys it reads that ``raw`` (the file as written)
    contains: DVC refuses keys missing from params.yaml, and a key left to its
    default can only change by being written, which makes the stage stale.
    Paths in a file under pipelines/ (its metrics and plots) are relative to it.
    """
    documents: dict[str, dict[str, Any]] = {ROOT_FILE: {"stages": {}, "metrics": [], "plots": []}}
    for step in build_plan(params):
        path = pipeline_file(step)
        up = "../" * path.count("/")
        document = documents.setdefault(path, {"stages": {}, "metrics": [], "plots": []})
        document["stages"][step.name] = _stage(step, raw, up.rstrip("/") or None)
        document["metrics"] += [up + m for m in step.metrics]
        if step.step == "report":
            document["plots"] += _plots(step, up)
    return {
        path: HEADER + yaml.safe_dump({k: v for k, v in doc.items() if v}, sort_keys=False, width=120)
        for path, doc in documents.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--root", type=Path, default=Path("."), help="the project folder (default: .)")
    parser.add_argument("--check", action="store_true", help="only check that the dvc.yaml files are up to date")
    args = parser.parse_args(argv)
    try:
        raw = read_params_file(args.params)
        texts = render(validate_params(raw, source=str(args.params)), raw)
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
        for name in ("dvc.yaml", "dvc.lock"):
            (old.parent / name).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
