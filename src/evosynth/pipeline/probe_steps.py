"""The capacity probe's stages (:mod:`evosynth.pipeline.probe` describes them), for the plan."""

from __future__ import annotations

from typing import Any

from evosynth.pipeline.layout import prepared_path, run_dir
from evosynth.pipeline.probe import PROBE_DIR, distills, probe_runs, probe_unit
from evosynth.pipeline.stage import Step, make_step


def reference_ancestor(params: dict[str, Any]) -> str:
    """The folder of the reference experiment's ancestor (generation 0, perhaps another experiment's)."""
    name = params["probe"]["reference"]
    return run_dir(name, params["experiments"][name], 0)


def probe_steps(params: dict[str, Any]) -> list[Step]:
    """Every probe training and the report (all outside the default target)."""
    probe, name = params["probe"], params["probe"]["reference"]
    spec = params["experiments"][name]
    data = prepared_path(spec["dataset"])
    ancestor = reference_ancestor(params)
    teacher = [f"{ancestor}/model.pt"] if distills(probe) else []
    # what a training reads: its settings, and the reference's data (which set, which subsets, their seed), as
    # written in params.yaml: a seed's chain reads its family's keys (its seed is in its name)
    family = spec.get("family")
    reads = ("probe.train", *(f"experiments.{family or name}.{key}" for key in ("dataset", "data", "seed")
                              if not (family and key == "seed")))
    steps, metrics = [], []
    for widths, recipe, seed, folder, kernels in probe_runs(probe):
        args = ["--widths", *map(str, widths), "--seed", str(seed), *(["--recipe", recipe] if recipe else []),
                *(["--kernels", str(kernels)] if kernels else []),
                "--data", data, *(a for t in teacher for a in ("--teacher", t))]
        step = make_step("probe_train", "probe_train", folder, [data, *teacher], args,
                         params=(*reads, *([f"probe.recipes.{recipe}"] if recipe else []),
                                 *(["probe.kernel_sparse.kernels"] if kernels else [])),
                         unit=probe_unit(widths, seed, recipe, kernels))
        steps.append(step)
        metrics.append(f"{folder}/metrics.json")
    deps = [*metrics, f"{ancestor}/metrics.json"]
    steps.append(make_step("probe", "probe", PROBE_DIR, deps, [], params=("probe",)))
    return steps
