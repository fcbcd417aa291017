"""What the timing steps share: networks read from their folders, compacted, exported and timed side by side.

Every network of a comparison is compacted, exported to ONNX in a temporary
folder and timed in one process, all networks interleaved in rounds in a
random order (:func:`evosynth.analysis.runtime.time_networks`). A second copy
of one network (``control``) is timed among them as the harness check: its
speed-up against the original must read 1.00× within the spread of the rounds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from evosynth.analysis import runtime
from evosynth.analysis.export import export_onnx
from evosynth.nets.compaction import compact
from evosynth.pipeline.steps.common import load_network

CONTROL = "control"  # the name of the timed second copy of one network


def time_folders(folders: list[str], control: str, settings: dict[str, Any], root: Path,
                 configs: tuple[tuple[str, int, int], ...]) -> dict[str, Any]:
    """Compact, export and time every folder's model.pt and a second copy of ``control``'s, all interleaved;
    per folder (and :data:`CONTROL`), per configuration: the latency summary and the per-round samples."""
    with tempfile.TemporaryDirectory() as tmp:
        networks = {}
        for i, (name, folder) in enumerate([*((f, f) for f in folders), (CONTROL, control)]):
            model, masks, ckpt = load_network(root / folder / "model.pt")
            shape = tuple(ckpt["input_shape"])
            small = compact(model, masks, shape).model
            export_onnx(small, shape, Path(tmp) / f"{i}.onnx")
            networks[name] = {"onnx": Path(tmp) / f"{i}.onnx", "model": small, "input_shape": shape}
        return runtime.time_networks(networks, settings["repeats"], settings["warmup"], settings["rounds"],
                                     configs=configs)
