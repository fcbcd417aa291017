"""Step ``export``: a generation's compacted network as ONNX and TorchScript, for devices without evosynth."""

from __future__ import annotations

import time
from argparse import Namespace
from pathlib import Path
from typing import Any

from evosynth.analysis.export import export_onnx, export_torchscript
from evosynth.nets.compaction import compact
from evosynth.pipeline.outputs import step_files
from evosynth.pipeline.steps.common import finish, load_network, step_params


def run_export(params: dict[str, Any], experiment: str, generation: int, model_path: Path, out_dir: Path) -> None:
    """TorchScript and ONNX files of the compacted network, for devices without evosynth."""
    started = time.time()
    exp = params["experiments"][experiment]
    model, masks, ckpt = load_network(model_path)
    shape = tuple(ckpt["input_shape"])
    small = compact(model, masks, shape).model
    files = step_files("export")
    export_onnx(small, shape, out_dir / files[0])
    export_torchscript(small, shape, out_dir / files[1])
    finish("export", step_params(exp, "export"), started, out_dir, files)


def main(params: dict[str, Any], args: Namespace) -> None:
    run_export(params, args.experiment, args.generation, args.model, args.out_dir)
