"""Saliency datasets of the EvoNet paper (Sec. III): MSRA-B and HKU-IS from a user's local copy.

MSRA-B (Jiang et al., DRFI, CVPR 2013; 5000 images): ``*.jpg`` images with
``*.png`` ground-truth masks of the same stem, either together in ``root/``
(the DRFI / DSS release) or in ``root/image/`` and ``root/annotation/`` (the
layout of the DSS-pytorch, Amulet and NLDF loaders).  The 2500/500/2000
training/validation/test split that EvoNet uses comes from the DRFI split lists
in ``root/`` or, without them, from a seeded split
(:mod:`evosynth.data.saliency_splits`); the data card records which was used.

HKU-IS (Li & Yu, CVPR 2015; 4447 images): ``root/imgs/`` and ``root/gt/``,
images and masks of the same stem.  EvoNet uses the whole set as a testing
group for networks trained on MSRA-B's training group, so its prepared file
has an empty training part.

Each mask must have its image's size.  Pixel formats are read by the rules of
:mod:`evosynth.data.images` (0/1 and 0/255 masks alike, colour masks by their
brightest channel, 16-bit files by their high byte, transparency and masks
with nothing at half the scale refused).  Images are resized (bilinear) to a
fixed S×S (``image_size``, default 224, the VGG16 input), mask levels resized
the same way and binarised at 128 (0.5); a split whose masks are all background
is refused.  Everything is preloaded as uint8: images N×3×S×S, masks N×1×S×S
with values 0/1.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from evosynth.artifacts import atomic_path, sha256, write_json
from evosynth.data.images import read_mask_level, read_rgb, resized
from evosynth.data.prepared import Split, read_prepared, seeded_subset
from evosynth.data.raw import root as raw_root
from evosynth.data.saliency_splits import MSRA_B_LISTS, MSRA_B_SPLIT, MSRA_B_SPLIT_SEED, msra_b_split
from evosynth.errors import DataError

if TYPE_CHECKING:
    import torch

SALIENCY_SOURCES = ("msra_b", "hku_is")
DEFAULT_SIZE = 224
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
MASK_SUFFIXES = (".png", ".bmp")
#: (image folder, mask folder) relative to root, in the order they are tried.
MSRA_B_FOLDERS = ((".", "."), ("image", "annotation"), ("imgs", "gt"))
HKU_IS_FOLDERS = (("imgs", "gt"),)
#: Images in the published sets (EvoNet Sec. III), recorded on the data card beside the count read.
PUBLISHED_COUNT = {"msra_b": sum(MSRA_B_SPLIT.values()), "hku_is": 4447}


#: One split as read from disk: images, masks, stems.
SplitArrays = tuple[np.ndarray, np.ndarray, list[str]]


class SaliencySet(NamedTuple):
    """Preloaded images and ground-truth masks of one split."""

    images: torch.Tensor  # uint8 N×3×S×S
    masks: torch.Tensor  # uint8 N×1×S×S, 0 (background) or 1 (salient)
    names: tuple[str, ...]  # file stems, in the order of the rows


def expected_layout(source: str, root: Path) -> str:
    if source == "msra_b":
        return (f"expected MSRA-B images *.jpg with masks *.png of the same stem in {root}/"
                f" or in {root / 'image'}/ and {root / 'annotation'}/, optionally with the split lists"
                f" {', '.join(MSRA_B_LISTS.values())} in {root}/")
    return f"expected HKU-IS images in {root / 'imgs'}/ and masks *.png of the same stem in {root / 'gt'}/"


def _by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in suffixes}


def find_pairs(source: str, root: str | Path) -> dict[str, tuple[Path, Path]]:
    """Map each image stem to its (image, mask) files; an image without its mask is an error."""
    root = Path(root)
    folders = MSRA_B_FOLDERS if source == "msra_b" else HKU_IS_FOLDERS
    for image_dir, mask_dir in folders:
        images_in, masks_in = root / image_dir, root / mask_dir
        if not (images_in.is_dir() and masks_in.is_dir()):
            continue
        suffixes = (".jpg", ".jpeg") if images_in == masks_in else IMAGE_SUFFIXES
        images, masks = _by_stem(images_in, suffixes), _by_stem(masks_in, MASK_SUFFIXES)
        if not images:
            continue
        missing = sorted(set(images) - set(masks))
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DataError(f"{source}: {images[missing[0]]} has no mask {masks_in / (missing[0] + '.png')}"
                            f"{more}; {expected_layout(source, root)}")
        return {stem: (images[stem], masks[stem]) for stem in images}
    raise DataError(f"{source}: {root}: dataset files not found; {expected_layout(source, root)}")


def _read_pair(image: Path, mask: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """An image (3×S×S) and its mask (1×S×S, 0/1): the mask's level (:func:`images.read_mask_level`)
    resized like the image, then binarised at 128 (half the scale)."""
    rgb, level = read_rgb(image), read_mask_level(mask)
    if rgb.shape[:2] != level.shape:
        (h, w), (mh, mw) = rgb.shape[:2], level.shape
        raise DataError(f"{mask}: mask of {mw}×{mh} pixels for an image of {w}×{h} ({image}); a mask must"
                        " have its image's size (it would be stretched onto other pixels)")
    return resized(rgb, size).transpose(2, 0, 1), (resized(level, size) >= 128)[None].astype(np.uint8)


def read_pairs(pairs: list[tuple[Path, Path]], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode, resize and stack (image, mask) files: uint8 N×3×S×S and N×1×S×S (0/1)."""
    images = np.zeros((len(pairs), 3, size, size), np.uint8)
    masks = np.zeros((len(pairs), 1, size, size), np.uint8)
    for i, (image, mask) in enumerate(pairs):
        images[i], masks[i] = _read_pair(image, mask, size)
    return images, masks


def _select(source: str, root: Path, pairs: dict[str, tuple[Path, Path]], stems: list[str],
            list_file: str | None) -> list[tuple[Path, Path]]:
    unknown = [s for s in stems if s not in pairs]
    if unknown:
        where = f" named in {root / list_file}" if list_file else ""
        raise DataError(f"{source}: image {unknown[0]!r}{where} not found (or without mask);"
                        f" {expected_layout(source, root)}")
    return [pairs[s] for s in stems]


def read_splits(source: str, root: str | Path, size: int = DEFAULT_SIZE,
                seed: int = MSRA_B_SPLIT_SEED) -> tuple[dict[str, SplitArrays], str]:
    """Read every split of a saliency set: ``{split: (images, masks, stems)}`` and the split method.

    MSRA-B gives train/val/test (``msra_b_split``); HKU-IS gives one test split.
    """
    if source not in SALIENCY_SOURCES:
        raise DataError(f"unknown saliency source {source!r}; allowed: {', '.join(SALIENCY_SOURCES)}")
    root = Path(root)
    pairs = find_pairs(source, root)
    if source == "msra_b":
        splits, how = msra_b_split(root, list(pairs), seed)
    else:
        splits, how = {"test": sorted(pairs)}, "all images are test images (EvoNet Sec. III)"
    out = {}
    for split, stems in splits.items():
        list_file = MSRA_B_LISTS[split] if how == "lists" else None
        images, masks = read_pairs(_select(source, root, pairs, stems, list_file), size)
        if len(masks) and not masks.any():
            raise DataError(f"{source}: {root}: no salient pixel in any of the {len(masks)} {split} masks"
                            " (every mask is background); a saliency set needs its objects marked")
        out[split] = (images, masks, stems)
    return out, how


def load_saliency(source: str, root: str | Path, size: int = DEFAULT_SIZE,
                  seed: int = MSRA_B_SPLIT_SEED) -> dict[str, SaliencySet]:
    """Preload a saliency set as uint8 tensors.

    Splits ``train``, ``val`` and ``test`` for MSRA-B; ``test`` alone for HKU-IS.
    """
    import torch

    splits, _ = read_splits(source, root, size, seed)
    return {split: SaliencySet(torch.from_numpy(x), torch.from_numpy(m), tuple(stems))
            for split, (x, m, stems) in splits.items()}


# --------------------------------------------------- data.py's dispatch
def _root(spec: dict[str, Any]) -> Path:
    return Path(raw_root(spec))


def check_saliency(spec: dict[str, Any]) -> str | None:
    """Why a ``msra_b`` / ``hku_is`` dataset spec cannot be read, or None if it can."""
    root = _root(spec)
    if not root.is_dir():
        layout = expected_layout(spec["source"], root)
        return f"{root}: dataset files not found; {layout} (no download: use a local copy)"
    try:
        pairs = find_pairs(spec["source"], root)
        if spec["source"] == "msra_b":
            splits, how = msra_b_split(root, list(pairs))
            for split, stems in splits.items():
                _select("msra_b", root, pairs, stems, MSRA_B_LISTS[split] if how == "lists" else None)
    except DataError as exc:
        return str(exc)
    return None


def read_saliency(spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """A spec's arrays in the prepared layout: ``x_<split>`` images, ``y_<split>`` masks (uint8).

    HKU-IS has an empty training part (0×3×S×S) and MSRA-B adds ``x_val, y_val``.
    """
    size = int(spec.get("image_size", DEFAULT_SIZE))
    splits, _ = read_splits(spec["source"], _root(spec), size)
    return read_saliency_arrays(splits, size)


def prepare_saliency(spec: dict[str, Any], out: str | Path, card: str | Path) -> dict[str, Any]:
    """Write the prepared ``.npz`` (images and masks) and its data card; return the card."""
    size = int(spec.get("image_size", DEFAULT_SIZE))
    splits, how = read_splits(spec["source"], _root(spec), size)
    arrays = read_saliency_arrays(splits, size)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    info: dict[str, Any] = {
        "source": spec["source"],
        "root": str(_root(spec)),
        "task": "saliency",
        "image_shape": [3, size, size],
        "mask_shape": [1, size, size],
        "num_classes": 2,
        "split": how,
        "published_count": PUBLISHED_COUNT[spec["source"]],
    }
    for split in ("train", "val", "test"):
        if f"y_{split}" in arrays:
            masks = arrays[f"y_{split}"]
            salient = int(masks.sum())
            info[split] = {"count": int(len(masks)), "per_class": [int(masks.size) - salient, salient]}
    if how != "lists" and spec["source"] == "msra_b":
        info["split_stems"] = {split: splits[split][2] for split in splits}
    info["sha256"] = {"prepared": sha256(out)} | {
        key: hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        for key, value in arrays.items()
    }
    write_json(card, info)
    return info


def read_saliency_arrays(splits: dict[str, SplitArrays], size: int) -> dict[str, np.ndarray]:
    """Arrange ``read_splits`` output as ``x_<split>, y_<split>`` with an empty train part when absent."""
    out = {}
    for split in ("train", "val", "test"):
        if split in splits:
            out[f"x_{split}"], out[f"y_{split}"] = splits[split][0], splits[split][1]
        elif split == "train":
            out["x_train"] = np.zeros((0, 3, size, size), np.uint8)
            out["y_train"] = np.zeros((0, 1, size, size), np.uint8)
    return out


# ---------------------------------------------------------------- training
#: VGG16's ImageNet input normalisation (EvoNet's ancestor builds on VGG16, Sec. III); fixed, so that
#: HKU-IS, which has no training part, is normalised like the MSRA-B images a network was trained on.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SaliencySplit(NamedTuple):
    """A prepared saliency set as tensors: normalised float images, uint8 masks (N×1×S×S, 0/1)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_val: torch.Tensor | None  # MSRA-B only
    y_val: torch.Tensor | None


def load_prepared_saliency(path: str | Path, train_size: int | None = None, test_size: int | None = None,
                           seed: int = 0) -> SaliencySplit:
    """Load a prepared ``msra_b`` / ``hku_is`` file, optionally a seeded subset of train and test."""
    import torch

    arrays = read_prepared(path, "saliency", ["x_train", "y_train", "x_test", "y_test"])
    for key in ("x_train", "y_train", "x_test", "y_test"):
        if arrays[key].ndim != 4:
            raise DataError(f"{path}: {key} not N×C×S×S; not a prepared saliency set")
    seeded_subset(arrays, {"train": train_size, "test": test_size}, ("x", "y"), seed)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def images(key: str) -> torch.Tensor:
        return (torch.from_numpy(arrays[key]).float().div_(255.0) - mean) / std

    return SaliencySplit(images("x_train"), torch.from_numpy(arrays["y_train"]), images("x_test"),
                         torch.from_numpy(arrays["y_test"]),
                         images("x_val") if "x_val" in arrays else None,
                         torch.from_numpy(arrays["y_val"]) if "y_val" in arrays else None)


class SaliencyData(Split):
    """A prepared saliency set: normalised images and, for labels, binary masks N×1×S×S (0/1)."""

    @property
    def num_classes(self) -> int:
        return 2  # background, salient (EvoNet §III: a two-class softmax)
