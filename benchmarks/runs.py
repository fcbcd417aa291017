"""The generation folders of an experiment, as the pipeline lays them out (generation 0 may be shared)."""

from __future__ import annotations

from pathlib import Path

from evosynth.pipeline.params import load_params
from evosynth.pipeline.plan import run_dir

ROOT = Path(__file__).resolve().parents[1]


def generation_dirs(experiment: str) -> list[Path]:
    """``results/<experiment>/gen<g>`` for every generation, generation 0 from its ``ancestor`` if shared."""
    params = load_params(ROOT / "params.yaml")
    if experiment not in params["experiments"]:
        raise SystemExit(f"{experiment!r} is not an experiment of params.yaml")
    spec = params["experiments"][experiment]
    return [ROOT / run_dir(experiment, spec, g) for g in range(spec["generations"] + 1)]
