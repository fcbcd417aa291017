"""``evosynth runtime --model file.onnx``: time one exported network on this machine (a device).

Needs onnxruntime and numpy only, no torch and no params file: the way to
measure a network on a Jetson or a phone-class board.
"""

from __future__ import annotations

import argparse
import json
import os

from evosynth.analysis import runtime
from evosynth.errors import ParamsError


def main(args: argparse.Namespace) -> None:
    """Time one exported ONNX network here (needs onnxruntime and numpy only)."""
    if not args.model.is_file():
        raise ParamsError(f"--model: {args.model}: no such file")
    machine = runtime.host()
    results = {
        f"{threads or 'all'} thread(s)": runtime.measure_onnx(
            args.model, 1, threads or os.cpu_count() or 1, args.repeats, args.warmup
        )
        for threads in (1, 0)
    }
    print(f"{args.model} on {machine['cpu']} ({machine['cores']} cores), ONNX Runtime, batch 1:")
    for label, r in results.items():
        print(f"  {label}: {r['median_ms']:.3f} ms median (p10 {r['p10_ms']:.3f}, p90 {r['p90_ms']:.3f}), {r['fps']:,.0f} FPS")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "host": machine, "onnxruntime": results}, indent=2))
