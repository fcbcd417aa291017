"""Render dvc.yaml from params.yaml through evosynth's plan (the DAG both engines share).

    python workflow/scripts/render_dvc.py            # rewrite dvc.yaml
    python workflow/scripts/render_dvc.py --check    # exit 1 if dvc.yaml is stale

Run it after changing the experiments in params.yaml (names, generations,
datasets); changes of values inside an experiment need no re-rendering.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from evosynth.errors import ParamsError
from evosynth.params import load_params
from evosynth.plan import build_plan

HEADER = "# Generated from params.yaml by workflow/scripts/render_dvc.py: do not edit by hand.\n"


def _present(raw: dict[str, Any], key: str) -> bool:
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def render(params: dict[str, Any], raw: dict[str, Any]) -> str:
    """dvc.yaml text for every step of ``params``' experiments.

    A stage lists the params keys it reads that ``raw`` (the file as written)
    contains: DVC refuses keys missing from params.yaml, and a key left to its
    default can only change by being written, which makes dvc.yaml stale.
    """
    stages: dict[str, Any] = {}
    plots: list[dict[str, Any]] = []
    for step in build_plan(params):
        stage: dict[str, Any] = {"cmd": step.cmd}
        if step.deps:
            stage["deps"] = list(step.deps)
        stage["params"] = [key for key in step.params if _present(raw, key)]
        # metrics and reports are small and live in git, so `dvc metrics diff` /
        # `dvc plots diff` compare them across commits; models go to DVC's cache.
        in_git = step.step in ("evaluate", "report", "compare", "runtime")
        stage["outs"] = [{out: {"cache": False}} if in_git else out for out in step.outs]
        stages[step.name] = stage
        if step.step == "report":
            table = step.outs[0]
            plots.append(
                {f"{step.experiment}: accuracy": {"x": "generation", "y": {table: "accuracy"}, "template": "linear"}}
            )
            plots.append(
                {
                    f"{step.experiment}: efficiency": {
                        "x": "generation",
                        "y": {table: ["synaptic_efficiency", "cluster_efficiency", "mac_reduction"]},
                        "template": "linear",
                    }
                }
            )
    metrics = [out for step in build_plan(params) for out in step.metrics]
    document = {"stages": stages, "metrics": metrics, "plots": plots}
    return HEADER + yaml.safe_dump(document, sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, default=Path("dvc.yaml"))
    parser.add_argument("--check", action="store_true", help="only check that --out is up to date")
    args = parser.parse_args(argv)
    try:
        text = render(load_params(args.params), yaml.safe_load(args.params.read_text()))
    except ParamsError as exc:
        print(f"render_dvc: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if not args.out.is_file() or args.out.read_text() != text:
            print(f"{args.out} is stale: run python workflow/scripts/render_dvc.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
