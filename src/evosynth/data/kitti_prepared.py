"""KITTI's prepared cache: the object benchmark read once and written as one ``.npz``.

StressedNets §4.1.3 trains YOLOv2 on KITTI cars and pedestrians. KITTI's test
labels are not public, so both parts of the prepared file come from its
training set (``<root>/training/{image_2,label_2}``, :mod:`evosynth.data.kitti`),
split by :func:`evosynth.data.kitti.split_frames`: a ``val_list`` file of frame ids
(e.g. the common ``ImageSets/val.txt``) or a seeded ``val_fraction`` (0.5).
The ``test`` part of the file is that validation subset.

Per part ``p`` (``train``, ``test``) the file holds ``x_p`` (uint8 N×3×S×S,
resized to ``image_size``, 416 as in YOLOv2), ``labels_p`` (int64 N×M label
codes, padded with ``kitti.PAD``), ``boxes_p`` (float32 N×M×4 in input
pixels), ``original_boxes_p`` (float64, original pixels), ``truncation_p``,
``occlusion_p``, ``sizes_p`` (original height, width) and ``frames_p``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from evosynth.artifacts import atomic_path, sha256, write_json
from evosynth.data.kitti import (
    CAR,
    CLASSES,
    PEDESTRIAN,
    KittiSplit,
    expected_layout,
    list_frames,
    load_frames,
    split_frames,
    yolo_classes,
)
from evosynth.data.prepared import read_prepared, seeded_subset
from evosynth.data.raw import root as raw_root
from evosynth.errors import DataError

DEFAULT_SIZE = 416  # YOLOv2's input (Redmon & Farhadi 2017)
SPLIT_SEED = 0
FIELDS = ("x", "labels", "boxes", "original_boxes", "truncation", "occlusion", "sizes", "frames")


def _root(spec: dict[str, Any]) -> Path:
    return Path(raw_root(spec))


def check_kitti(spec: dict[str, Any]) -> str | None:
    """Why a ``kitti`` dataset spec cannot be read, or None if it can (no download: a local copy only)."""
    root = _root(spec)
    if not root.is_dir():
        return f"{root}: dataset files not found; {expected_layout(root)}"
    try:
        list_frames(root)
    except DataError as exc:
        return str(exc)
    if spec.get("val_list") and not Path(spec["val_list"]).is_file():
        return f"{spec['val_list']}: validation list not found (one KITTI frame id a line)"
    return None


def read_kitti(spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of the prepared file (module docstring) for a ``kitti`` dataset spec."""
    root = _root(spec)
    size = int(spec.get("image_size", DEFAULT_SIZE))
    frames = list_frames(root)
    train, val = split_frames(frames, spec.get("val_fraction", 0.5), SPLIT_SEED, spec.get("val_list"))
    if not train or not val:
        raise DataError(f"kitti: {root}: {len(frames)} frames give {len(train)} training and {len(val)}"
                        " validation frames; both need at least one (set val_fraction or val_list)")
    arrays = {}
    for part, chosen in (("train", train), ("test", val)):
        split = load_frames(root, chosen, size)
        values = (split.images, split.labels, split.boxes, split.original_boxes, split.truncation,
                  split.occlusion, split.original_sizes)
        for field, value in zip(FIELDS, values):
            arrays[f"{field}_{part}"] = value.numpy()
        arrays[f"frames_{part}"] = np.asarray(split.frames, dtype=str)
    return arrays


def prepare_kitti(spec: dict[str, Any], out: str | Path, card: str | Path) -> dict[str, Any]:
    """Write the prepared ``.npz`` and its data card (objects per class and split); return the card."""
    arrays = read_kitti(spec)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as handle:  # np.savez would append .npz to a temp name
            np.savez(handle, **arrays)
    info: dict[str, Any] = {
        "source": "kitti",
        "root": str(_root(spec)),
        "task": "detection",
        "image_shape": list(arrays["x_train"].shape[1:]),
        "num_classes": len(CLASSES),
        "classes": list(CLASSES),
        "split": f"val_list {spec['val_list']}" if spec.get("val_list") else
        f"seeded: {spec.get('val_fraction', 0.5)} of KITTI's training frames (seed {SPLIT_SEED}) form the test part",
    }
    for part in ("train", "test"):
        labels = arrays[f"labels_{part}"]
        info[part] = {"count": int(len(labels)),
                      "per_class": [int((labels == CAR).sum()), int((labels == PEDESTRIAN).sum())]}
    info["sha256"] = {"prepared": sha256(out)} | {
        key: hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        for key, value in arrays.items()
    }
    write_json(card, info)
    return info


class Images:
    """uint8 N×3×S×S images read as float in [0, 1] batch by batch (4× less memory than preloading
    floats: 3,740 KITTI frames at 416² are 1.9 GB as bytes)."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    @property
    def shape(self) -> torch.Size:
        return self.images.shape

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: Any) -> torch.Tensor:
        return self.images[index].float().div_(255.0)


class DetectionSplit(NamedTuple):
    """A prepared KITTI file: images in [0, 1] (converted per batch), targets N×M×5 (box, class)."""

    x_train: Images
    y_train: torch.Tensor  # left, top, right, bottom, YOLOv2 class target (kitti.yolo_classes)
    x_test: Images
    y_test: torch.Tensor
    truth: KittiSplit  # the test part, for the devkit's difficulty filters and AP

    @property
    def num_classes(self) -> int:
        return len(CLASSES)


def _targets(boxes: np.ndarray, labels: np.ndarray) -> torch.Tensor:
    classes = yolo_classes(torch.from_numpy(labels)).to(torch.float32)
    return torch.cat([torch.from_numpy(boxes).float(), classes[..., None]], dim=-1)


def load_prepared_kitti(path: str | Path, train_size: int | None = None, test_size: int | None = None,
                        seed: int = 0) -> DetectionSplit:
    """Load a prepared KITTI file, optionally a seeded subset of each part (as :func:`data.load_prepared`)."""
    required = [f"{f}_{p}" for p in ("train", "test") for f in FIELDS]
    arrays = read_prepared(path, "KITTI", required)
    seeded_subset(arrays, {"train": train_size, "test": test_size}, FIELDS, seed)
    truth = KittiSplit(*(torch.from_numpy(arrays[f"{f}_test"]) for f in FIELDS[:-1]),
                       [str(f) for f in arrays["frames_test"]])
    return DetectionSplit(
        Images(torch.from_numpy(arrays["x_train"])),
        _targets(arrays["boxes_train"], arrays["labels_train"]),
        Images(truth.images),
        _targets(arrays["boxes_test"], arrays["labels_test"]),
        truth,
    )
