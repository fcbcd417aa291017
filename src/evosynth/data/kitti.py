"""KITTI object detection: read a user's local copy in its published layout.

StressedNets §4.1.3 trains YOLOv2 on KITTI to detect two classes, car (id 0)
and pedestrian (id 1). The object benchmark's training set is laid out as::

    <root>/training/image_2/000000.png ...   (left colour images)
    <root>/training/label_2/000000.txt ...   (one object per line, 15 fields)

A label line is ``type truncated occluded alpha left top right bottom height
width length x y z rotation_y`` (the devkit's ``readme.txt``); each number must lie
in the devkit's range and each box inside its image with positive area
(:mod:`evosynth.data.kitti_fields`), and images are read by the pixel-format rules of
:mod:`evosynth.data.images` (16-bit PNGs by their high byte). Every object is
kept with a label code (:data:`LABELS`): besides the two classes, the devkit
needs the neighbour classes (Van for Car, Person_sitting for Pedestrian, never
counted as true nor false positives) and DontCare regions (detections inside
them are ignored); see :mod:`evosynth.tasks.kitti_ap`.

Images are resized to a square network input; boxes are kept both in input
pixels (for the YOLOv2 targets) and in original pixels (for the devkit's
difficulty filter and IoU, which are defined on the original image).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from evosynth.data.images import read_rgb, resized
from evosynth.data.kitti_fields import check_fields
from evosynth.errors import DataError

#: Detected classes, in the order of their ids (StressedNets §4.1.3).
CLASSES = ("Car", "Pedestrian")
CAR, PEDESTRIAN, VAN, PERSON_SITTING, DONT_CARE, OTHER = range(6)
#: Padding in the per-image object tensors.
PAD = -1
#: A YOLOv2 class target for a region neither rewarded nor punished (Van, Person_sitting, DontCare).
IGNORE_REGION = -2
#: KITTI's object types (devkit readme) to label codes; comparison ignores case, as the devkit's.
LABELS = {
    "car": CAR,
    "pedestrian": PEDESTRIAN,
    "van": VAN,
    "person_sitting": PERSON_SITTING,
    "dontcare": DONT_CARE,
    "truck": OTHER,
    "cyclist": OTHER,
    "tram": OTHER,
    "misc": OTHER,
}
#: The devkit's neighbour classes: ignored, neither true nor false positive, when evaluating the key.
NEIGHBOUR = {CAR: VAN, PEDESTRIAN: PERSON_SITTING}
LABEL_FIELDS = (
    "type truncated occluded alpha left top right bottom height width length x y z rotation_y"
)
IMAGES = Path("training") / "image_2"
LABELS_DIR = Path("training") / "label_2"


def expected_layout(root: str | Path) -> str:
    return (
        f"expected {Path(root) / IMAGES}/ and {Path(root) / LABELS_DIR}/ "
        "(KITTI object benchmark: <root>/training/image_2/NNNNNN.png and "
        "<root>/training/label_2/NNNNNN.txt, 15 fields per label line)"
    )


class ImageObjects(NamedTuple):
    """The labelled objects of one image, as numpy arrays (one row per object)."""

    labels: np.ndarray  # int64 (M,), label codes: CAR, PEDESTRIAN, VAN, PERSON_SITTING, DONT_CARE, OTHER
    boxes: np.ndarray  # float64 (M, 4): left, top, right, bottom in pixels
    truncation: np.ndarray  # float64 (M,), 0 (fully in the image) .. 1 (leaving it)
    occlusion: np.ndarray  # int64 (M,), 0 fully visible, 1 partly occluded, 2 largely occluded, 3 unknown


def parse_labels(text: str, source: str = "<labels>", image_size: tuple[int, int] | None = None) -> ImageObjects:
    """Parse the lines of one ``label_2`` file; a malformed line, or a number outside the devkit's range
    (:mod:`evosynth.data.kitti_fields`; boxes inside an image of ``image_size`` = (height, width)),
    raises DataError naming ``source:line``."""
    labels, boxes, truncation, occlusion = [], [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{source}, line {number}"
        if len(fields) != 15:
            raise DataError(f"{where}: expected 15 fields ({LABEL_FIELDS}), got {len(fields)}")
        code = LABELS.get(fields[0].lower())
        if code is None:
            raise DataError(f"{where}: unknown object type {fields[0]!r}; KITTI's types are "
                            "Car, Van, Truck, Pedestrian, Person_sitting, Cyclist, Tram, Misc, DontCare")
        try:
            numbers = [float(f) for f in fields[1:]]
        except ValueError:
            raise DataError(f"{where}: fields 2-15 must be numbers ({LABEL_FIELDS})") from None
        check_fields(numbers, where, code == DONT_CARE, image_size)
        labels.append(code)
        boxes.append(tuple(numbers[3:7]))
        truncation.append(numbers[0])
        occlusion.append(int(numbers[1]))
    return ImageObjects(
        np.asarray(labels, dtype=np.int64),
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        np.asarray(truncation, dtype=np.float64),
        np.asarray(occlusion, dtype=np.int64),
    )


def read_labels(path: str | Path, image_size: tuple[int, int] | None = None) -> ImageObjects:
    """Read one ``label_2/NNNNNN.txt`` file (of a frame of ``image_size`` = (height, width), if given)."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable label file ({exc})") from None
    return parse_labels(text, str(path), image_size)


def list_frames(root: str | Path) -> list[str]:
    """Frame ids (``000000`` ...) with both an image and a label file; DataError on a mismatch."""
    root = Path(root)
    images, labels = root / IMAGES, root / LABELS_DIR
    if not images.is_dir() or not labels.is_dir():
        missing = images if not images.is_dir() else labels
        raise DataError(f"{missing}: no such directory; {expected_layout(root)}")
    image_ids = {p.stem for p in images.glob("*.png")}
    label_ids = {p.stem for p in labels.glob("*.txt")}
    if not label_ids:
        raise DataError(f"{labels}: no .txt label files; {expected_layout(root)}")
    if image_ids != label_ids:
        lonely = sorted(label_ids - image_ids)[:3] or sorted(image_ids - label_ids)[:3]
        which = "image" if lonely[0] in label_ids else "label"
        raise DataError(f"{root}: frames {', '.join(lonely)} have no {which} file; {expected_layout(root)}")
    return sorted(label_ids)


def split_frames(
    frames: list[str], val_fraction: float = 0.5, seed: int = 0, val_list: str | Path | None = None
) -> tuple[list[str], list[str]]:
    """Deterministic train/val split of KITTI's training frames.

    With ``val_list`` (a text file of frame ids, one per line, as the common
    ``ImageSets/val.txt``) those frames are the validation set; otherwise a
    seeded permutation puts ``round(val_fraction · n)`` frames in it. Both lists
    come back sorted.
    """
    if val_list is not None:
        path = Path(val_list)
        try:
            wanted = {line.strip() for line in path.read_text().splitlines() if line.strip()}
        except OSError as exc:
            raise DataError(f"{path}: unreadable validation list ({exc})") from None
        unknown = sorted(wanted - set(frames))
        if unknown:
            raise DataError(f"{path}: frames {', '.join(unknown[:3])} are not in the dataset")
        val = sorted(wanted)
    else:
        if not 0.0 <= val_fraction <= 1.0:
            raise DataError(f"val_fraction must lie in [0, 1], got {val_fraction}")
        order = np.random.default_rng(seed).permutation(len(frames))
        val = sorted(frames[i] for i in order[: round(val_fraction * len(frames))])
    chosen = set(val)
    return [f for f in frames if f not in chosen], val


class KittiSplit(NamedTuple):
    """Preloaded KITTI frames: images and per-image objects padded to M (label ``PAD``)."""

    images: torch.Tensor  # uint8 N×3×S×S
    labels: torch.Tensor  # int64 N×M label codes (CAR, PEDESTRIAN, VAN, ..., PAD)
    boxes: torch.Tensor  # float32 N×M×4, left top right bottom in network-input pixels
    original_boxes: torch.Tensor  # float64 N×M×4, the same in the original image's pixels
    truncation: torch.Tensor  # float64 N×M
    occlusion: torch.Tensor  # int64 N×M
    original_sizes: torch.Tensor  # int64 N×2, (height, width) of the original images
    frames: list[str]

    def objects(self, index: int) -> ImageObjects:
        """Image ``index``'s objects in original pixels, as the devkit evaluates them."""
        keep = self.labels[index] != PAD
        return ImageObjects(
            self.labels[index][keep].numpy(),
            self.original_boxes[index][keep].numpy(),
            self.truncation[index][keep].numpy(),
            self.occlusion[index][keep].numpy(),
        )

    def to_original(self, index: int, boxes: torch.Tensor) -> torch.Tensor:
        """Map boxes (…×4) from network-input pixels of image ``index`` to its original pixels."""
        height, width = (float(v) for v in self.original_sizes[index])
        size = self.images.shape[-1]
        scale = boxes.new_tensor([width / size, height / size, width / size, height / size])
        return boxes * scale


def _read_image(path: Path, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    rgb = read_rgb(path)  # 8-bit as it is, 16-bit by its high byte, decompression bombs refused
    return resized(rgb, size).transpose(2, 0, 1), rgb.shape[:2]


def load_frames(root: str | Path, frames: list[str], image_size: int) -> KittiSplit:
    """Read ``frames`` of a KITTI copy into tensors, images resized to ``image_size``²."""
    root = Path(root)
    if image_size < 1:
        raise DataError(f"image_size must be positive, got {image_size}")
    images = np.zeros((len(frames), 3, image_size, image_size), dtype=np.uint8)
    sizes = np.zeros((len(frames), 2), dtype=np.int64)
    objects = []
    for i, frame in enumerate(frames):
        label_path, image_path = root / LABELS_DIR / f"{frame}.txt", root / IMAGES / f"{frame}.png"
        if not label_path.is_file() or not image_path.is_file():
            raise DataError(f"frame {frame}: {label_path} or {image_path} missing; {expected_layout(root)}")
        images[i], sizes[i] = _read_image(image_path, image_size)
        objects.append(read_labels(label_path, (int(sizes[i, 0]), int(sizes[i, 1]))))
    width = max([len(o.labels) for o in objects], default=0)
    labels = np.full((len(frames), width), PAD, dtype=np.int64)
    original = np.zeros((len(frames), width, 4))
    truncation = np.zeros((len(frames), width))
    occlusion = np.zeros((len(frames), width), dtype=np.int64)
    for i, o in enumerate(objects):
        m = len(o.labels)
        labels[i, :m], original[i, :m], truncation[i, :m], occlusion[i, :m] = o
    height, wide = sizes[:, 0, None, None].astype(np.float64), sizes[:, 1, None, None].astype(np.float64)
    scale = np.concatenate([image_size / wide, image_size / height] * 2, axis=-1)
    return KittiSplit(
        torch.from_numpy(images),
        torch.from_numpy(labels),
        torch.from_numpy(original * scale).float(),
        torch.from_numpy(original),
        torch.from_numpy(truncation),
        torch.from_numpy(occlusion),
        torch.from_numpy(sizes),
        list(frames),
    )


def load_kitti(
    root: str | Path,
    image_size: int = 416,
    subset: str = "train",
    val_fraction: float = 0.5,
    seed: int = 0,
    val_list: str | Path | None = None,
) -> KittiSplit:
    """Load the ``train`` or ``val`` subset (or ``all``) of a local KITTI object copy.

    KITTI's test labels are not public, so both subsets come from its training
    set, split by :func:`split_frames`. 416 is YOLOv2's input size (Redmon &
    Farhadi 2017).
    """
    frames = list_frames(root)
    if subset == "all":
        chosen = frames
    elif subset in ("train", "val"):
        train, val = split_frames(frames, val_fraction, seed, val_list)
        chosen = train if subset == "train" else val
    else:
        raise DataError(f"subset must be 'train', 'val' or 'all', got {subset!r}")
    return load_frames(root, chosen, image_size)


def yolo_classes(labels: torch.Tensor) -> torch.Tensor:
    """Label codes to the class targets of :func:`evosynth.tasks.yolo.encode_targets`.

    Car → 0, Pedestrian → 1; Van, Person_sitting and DontCare → ``IGNORE_REGION``
    (no target, and no no-object penalty where a prediction covers one, as the
    devkit neither rewards nor punishes detections there); other types and
    padding → -1 (background).
    """
    out = torch.full_like(labels, -1)
    out[labels == CAR] = 0
    out[labels == PEDESTRIAN] = 1
    out[(labels == VAN) | (labels == PERSON_SITTING) | (labels == DONT_CARE)] = IGNORE_REGION
    return out
