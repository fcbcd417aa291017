"""Where a run's files live: generation and member folders, reports, metrics files.

Per experiment ``e``, generation ``g`` and population member ``k``::

    data/prepared/<dataset>.npz          the prepared dataset
    results/e/gen<g>[/m<k>]/             one network (m<k> only in a sexual population of g ≥ 1)
    reports/e/                           its generation table, plot and runtime report
    reports/e/<test set>/gen<g>[/m<k>]/  a generation scored on another set (``test_on``)
    reports/methods/                     the comparisons
    reports/evidence/                    the evidence set's verdicts over seeds (named target)
    reports/picks/                       the pick set's report (named target pickset outside the default)

Generation 0 of an experiment with ``ancestor: a`` is experiment a's folder.
"""

from __future__ import annotations

from typing import Any

from evosynth.pipeline.seeds import chain_generations


def prepared_path(dataset: str) -> str:
    return f"data/prepared/{dataset}.npz"


def population_size(spec: dict[str, Any], generation: int) -> int:
    """Members of a generation: a population descends from one ancestor (generation 0)."""
    return spec["population"]["size"] if spec["method"] == "sexual" and generation > 0 else 1


def member_dir(experiment: str, generation: int, member: int, size: int) -> str:
    folder = f"results/{experiment}/gen{generation}"
    return folder if size == 1 else f"{folder}/m{member}"


def run_dir(experiment: str, spec: dict[str, Any], generation: int, member: int = 0) -> str:
    """The folder of one member of one generation; generation 0 may be another experiment's (``ancestor``)."""
    return member_dir(run_owner(experiment, spec, generation), generation, member, population_size(spec, generation))


def run_owner(experiment: str, spec: dict[str, Any], generation: int) -> str:
    """The experiment whose folder (and step) a generation is: a shared generation 0 is its ancestor's."""
    return (spec.get("ancestor") or experiment) if generation == 0 else experiment


def report_dir(experiment: str) -> str:
    return f"reports/{experiment}"


COMPARE_DIR = "reports/methods"
PICKS_DIR = "reports/picks"
EVIDENCE_DIR = "reports/evidence"


def transfer_dir(experiment: str, dataset: str, generation: int, member: int = 0, size: int = 1) -> str:
    """Where a generation's scores on another set of its task go (EvoNet Table II: HKU-IS)."""
    folder = f"{report_dir(experiment)}/{dataset}/gen{generation}"
    return folder if size == 1 else f"{folder}/m{member}"


def transfer_metrics(experiment: str, spec: dict[str, Any], dataset: str) -> list[str]:
    """Every generation's (and member's) metrics.json on the test set ``dataset``."""
    return [
        f"{transfer_dir(experiment, dataset, gen, k, population_size(spec, gen))}/metrics.json"
        for gen in range(spec["generations"] + 1)
        for k in range(population_size(spec, gen))
    ]


def metrics_files(experiment: str, spec: dict[str, Any]) -> list[str]:
    """Every generation's (and member's) metrics.json of an experiment."""
    return [
        f"{run_dir(experiment, spec, gen, k)}/metrics.json"
        for gen in range(spec["generations"] + 1)
        for k in range(population_size(spec, gen))
    ]


def chain_metrics(name: str, params: dict[str, Any]) -> list[str]:
    """Every generation's metrics.json of an experiment, or of a baseline (its generation 0 is the followed one's)."""
    if name not in params["baselines"]:
        return metrics_files(name, params["experiments"][name])
    followed = params["baselines"][name]["follow"]
    spec = params["experiments"][followed]
    return [f"{run_dir(followed, spec, 0)}/metrics.json"] + [
        f"{member_dir(name, g, 0, 1)}/metrics.json" for g in range(1, chain_generations(params, name) + 1)
    ]


def default_experiments(params: dict[str, Any]) -> list[str]:
    """The experiments of the default target, in params order."""
    return [name for name, spec in params["experiments"].items() if spec.get("default", True)]


def default_baselines(params: dict[str, Any]) -> list[str]:
    """The baselines of the default target: those following an experiment of it."""
    return [name for name, spec in params["baselines"].items()
            if params["experiments"][spec["follow"]].get("default", True)]
