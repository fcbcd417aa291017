"""Step ``prepare``: read a dataset in its published format; write the prepared file and its data card."""

from __future__ import annotations

import json
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.data.sources import check_source, prepare
from evosynth.errors import DataError
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish


def run_prepare(params: dict[str, Any], dataset: str, out_dir: Path) -> dict[str, Any]:
    started = time.time()
    spec = params["datasets"][dataset]
    problem = check_source(spec)  # also for data only named experiments use, which `evosynth check` leaves out
    if problem:
        raise DataError(f"datasets.{dataset}.root: {problem}")
    files = step_files("prepare", dataset=dataset)
    card = prepare(spec, out_dir / files[0], out_dir / files[1])
    finish("prepare", spec, started, out_dir, files)
    return card


def main(params: dict[str, Any], args: Namespace) -> None:
    card = run_prepare(params, args.dataset, args.out_dir)
    shown = {k: card[k] for k in ("image_shape", "num_classes")}
    print(json.dumps(shown | {"train": card["train"]["count"], "test": card["test"]["count"]}))
