"""The workflow as data: every step, its command, inputs, outputs and params.

Both engines read this plan: ``dvc.yaml`` is rendered from it and the
Snakefile's input functions look steps up in it, so the two DAGs agree by
construction (and a test checks that they do). Generation g names its
parent g−1 explicitly, since DVC templating has no arithmetic.

Per experiment ``e`` (DESIGN.md §2b)::

    prepare                         data/prepared/<dataset>.npz
    stress_train  gen0              results/e/gen0/model.pt      (the ancestor)
    encode        gen g ≥ 1         results/e/gen<g>/genome.pt   (genome of g−1)
    synthesize    gen g             results/e/gen<g>/offspring.pt
    retrain       gen g             results/e/gen<g>/model.pt
    evaluate      gen g ≥ 0         results/e/gen<g>/metrics.json
    report                          reports/e/generations.{csv,md,png}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PARAMS_FILE = "params.yaml"

#: Files each step writes into its output folder; the last one is its provenance.
STEP_FILES: dict[str, tuple[str, ...]] = {
    "prepare": ("{dataset}.npz", "{dataset}.card.json", "{dataset}.provenance.json"),
    "stress_train": ("model.pt", "train_log.json", "stress_train.provenance.json"),
    "encode": ("genome.pt", "encode.provenance.json"),
    "synthesize": ("offspring.pt", "synthesis.json", "synthesize.provenance.json"),
    "retrain": ("model.pt", "train_log.json", "retrain.provenance.json"),
    "evaluate": ("metrics.json", "evaluate.provenance.json"),
    "report": ("generations.csv", "generations.md", "generations.png", "report.provenance.json"),
}

#: The keys of an experiment's params that each step reads (DVC reruns a step
#: only when one of them changes; Snakemake gets the same values as params).
STEP_PARAMS: dict[str, tuple[str, ...]] = {
    "stress_train": ("dataset", "architecture", "seed", "train", "data"),
    "encode": ("method",),
    "synthesize": ("method", "environment", "init", "seed"),
    "retrain": ("seed", "train", "data"),
    "evaluate": ("seed", "data"),
    "report": ("generations",),
}

#: The library modules each step runs (besides steps.py): a change to one reruns the steps using it.
STEP_CODE: dict[str, tuple[str, ...]] = {
    "prepare": ("data.py",),
    "stress_train": ("training.py", "models.py", "masks.py", "data.py"),
    "encode": ("encoding.py",),
    "synthesize": ("synthesis.py", "masks.py"),
    "retrain": ("training.py", "models.py", "masks.py", "data.py"),
    "evaluate": ("metrics.py", "masks.py", "data.py"),
    "report": ("report.py",),
}
CODE_DIR = "src/evosynth"


def code_deps(step: str) -> tuple[str, ...]:
    return tuple(f"{CODE_DIR}/{module}" for module in ("steps.py", *STEP_CODE[step]))


@dataclass(frozen=True)
class Step:
    """One job of the workflow."""

    step: str
    cmd: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    params: tuple[str, ...]
    experiment: str | None = None
    generation: int | None = None
    dataset: str | None = None
    metrics: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """The stage name: ``<step>-<experiment>-gen<g>`` (letters, digits, _ and - only)."""
        parts = [self.step, self.dataset or self.experiment]
        if self.generation is not None:
            parts.append(f"gen{self.generation}")
        return "-".join(p for p in parts if p)


def prepared_path(dataset: str) -> str:
    return f"data/prepared/{dataset}.npz"


def generation_dir(experiment: str, generation: int) -> str:
    return f"results/{experiment}/gen{generation}"


def report_dir(experiment: str) -> str:
    return f"reports/{experiment}"


def step_files(step: str, **names: str) -> list[str]:
    """The file names a step writes (its provenance last)."""
    return [f.format(**names) for f in STEP_FILES[step]]


def _outs(step: str, folder: str, **names: str) -> tuple[str, ...]:
    return tuple(f"{folder}/{f}" for f in step_files(step, **names))


def _cmd(subcommand: str, *args: str) -> str:
    return " ".join(["evosynth", subcommand, "--params", PARAMS_FILE, *args])


def _exp_step(
    step: str, subcommand: str, exp: str, gen: int | None, deps: list[str], args: list[str], folder: str
) -> Step:
    gen_args = ["--generation", str(gen)] if gen is not None else []
    outs = _outs(step, folder)
    return Step(
        step=step,
        cmd=_cmd(subcommand, "--experiment", exp, *gen_args, *args, "--out-dir", folder),
        deps=(*code_deps(step), *deps),
        outs=outs,
        params=tuple(f"experiments.{exp}.{key}" for key in STEP_PARAMS[step]),
        experiment=exp,
        generation=gen,
        metrics=tuple(o for o in outs if o.endswith("metrics.json")),
    )


def build_plan(params: dict[str, Any]) -> list[Step]:
    """Every step of every experiment in ``params`` (validated), in dependency order."""
    steps: list[Step] = []
    used = sorted({exp["dataset"] for exp in params["experiments"].values()})
    for dataset in used:
        outs = _outs("prepare", "data/prepared", dataset=dataset)
        steps.append(
            Step(
                step="prepare",
                cmd=_cmd("prepare", "--dataset", dataset, "--out-dir", "data/prepared"),
                deps=code_deps("prepare"),
                outs=outs,
                params=(f"datasets.{dataset}",),
                dataset=dataset,
            )
        )
    for exp, spec in params["experiments"].items():
        data = prepared_path(spec["dataset"])
        ancestor = f"{generation_dir(exp, 0)}/model.pt"
        metrics = []
        for gen in range(spec["generations"] + 1):
            folder = generation_dir(exp, gen)
            model = f"{folder}/model.pt"
            if gen == 0:
                steps.append(_exp_step("stress_train", "train", exp, 0, [data], ["--data", data], folder))
                lineage = ["--ancestor", ancestor]
                evaluate_deps = [model, data]
            else:
                parent = f"{generation_dir(exp, gen - 1)}/model.pt"
                genome = f"{folder}/genome.pt"
                offspring = f"{folder}/offspring.pt"
                steps += [
                    _exp_step("encode", "encode", exp, gen, [parent], ["--parent", parent], folder),
                    _exp_step(
                        "synthesize",
                        "synthesize",
                        exp,
                        gen,
                        [genome, parent],
                        ["--genome", genome, "--parent", parent],
                        folder,
                    ),
                    _exp_step(
                        "retrain",
                        "train",
                        exp,
                        gen,
                        [offspring, data],
                        ["--data", data, "--init", offspring],
                        folder,
                    ),
                ]
                lineage = ["--ancestor", ancestor, "--parent", parent]
                evaluate_deps = [model, data, ancestor, parent]
            steps.append(
                _exp_step(
                    "evaluate",
                    "evaluate",
                    exp,
                    gen,
                    evaluate_deps,
                    ["--model", model, "--data", data, *lineage],
                    folder,
                )
            )
            metrics.append(f"{folder}/metrics.json")
        steps.append(
            _exp_step("report", "report", exp, None, metrics, ["--metrics", *metrics], report_dir(exp))
        )
    return steps
