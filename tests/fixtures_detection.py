"""Tiny KITTI object-detection copies in the published on-disk layout, written by the tests.

``<root>/training/image_2/NNNNNN.png`` (Pillow) and ``<root>/training/label_2/NNNNNN.txt``
with KITTI's 15 fields per line.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image


class Obj(NamedTuple):
    kind: str
    box: tuple[float, float, float, float]  # left, top, right, bottom in original pixels
    truncated: float = 0.0
    occluded: int = 0


def label_line(obj: Obj) -> str:
    """One label_2 line as KITTI writes it (3-D fields are placeholders; DontCare as in KITTI)."""
    left, top, right, bottom = obj.box
    box = f"{left:.2f} {top:.2f} {right:.2f} {bottom:.2f}"
    if obj.kind == "DontCare":
        return f"DontCare -1 -1 -10 {box} -1 -1 -1 -1000 -1000 -1000 -10"
    return f"{obj.kind} {obj.truncated:.2f} {obj.occluded} -1.57 {box} 1.52 1.63 3.88 -0.65 1.71 46.70 -1.59"


class Frame(NamedTuple):
    size: tuple[int, int]  # original (height, width)
    colour: tuple[int, int, int]  # the image is one solid RGB colour
    objects: list[Obj]


#: Four frames at KITTI's sizes: easy, moderate-only and hard-only objects, neighbour classes,
#: DontCare regions, and a frame with nothing to detect. Object centres fall in distinct cells
#: of a 13×13 grid, so each gets its own YOLOv2 target.
FRAMES = {
    "000000": Frame((375, 1242), (200, 30, 40), [
        Obj("Car", (100.0, 150.0, 300.0, 250.0)),  # easy: 100 px high, visible, not truncated
        Obj("Car", (700.0, 160.0, 800.0, 200.0), 0.0, 1),  # moderate and hard: partly occluded
        Obj("DontCare", (1000.0, 150.0, 1100.0, 180.0)),
    ]),
    "000001": Frame((370, 1224), (10, 120, 240), [
        Obj("Pedestrian", (400.0, 120.0, 440.0, 220.0)),  # easy
        Obj("Van", (800.0, 150.0, 1000.0, 260.0)),
        Obj("Cyclist", (600.0, 140.0, 650.0, 230.0)),
    ]),
    "000002": Frame((375, 1242), (0, 0, 0), [
        Obj("Car", (500.0, 180.0, 620.0, 260.0), 0.4, 2),  # hard only
        Obj("Pedestrian", (1100.0, 100.0, 1140.0, 200.0)),  # easy
    ]),
    "000003": Frame((375, 1242), (255, 255, 255), [Obj("DontCare", (10.0, 10.0, 60.0, 40.0))]),
}


def write_kitti(root: Path, frames: dict[str, Frame] = FRAMES) -> Path:
    """Write ``frames`` under ``root/training/{image_2,label_2}``; return ``root``."""
    images, labels = root / "training" / "image_2", root / "training" / "label_2"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for frame, spec in frames.items():
        height, width = spec.size
        pixels = np.empty((height, width, 3), dtype=np.uint8)
        pixels[:] = spec.colour
        Image.fromarray(pixels).save(images / f"{frame}.png")
        (labels / f"{frame}.txt").write_text("".join(label_line(o) + "\n" for o in spec.objects))
    return root
