"""Writers of tiny datasets in their published on-disk formats, independent of evosynth's readers.

Each writer returns what it wrote (row-major arrays, 0-based labels, stems per
split) so a test can compare the reader's output with it.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def write_stl10(root: Path, n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """``root/stl10_binary/{train,test}_{X,y}.bin``: uint8 images 3×96×96 with each channel stored
    column-major (the release's MATLAB order), labels as bytes 1..10.  Returns row-major N×3×96×96
    images and labels 0..9."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)
        labels = np.arange(n, dtype=np.int64) % 10
        # Fortran order per channel: the byte after pixel (row 0, column 0) is (row 1, column 0).
        column_major = np.ascontiguousarray(images.transpose(0, 1, 3, 2))
        (folder / f"{split}_X.bin").write_bytes(column_major.tobytes())
        (folder / f"{split}_y.bin").write_bytes((labels + 1).astype(np.uint8).tobytes())
        out[f"x_{split}"], out[f"y_{split}"] = images, labels
    return out


def write_cifar10(root: Path, per_batch: int = 4, seed: int = 1) -> dict[str, np.ndarray]:
    """CIFAR-10's python version: ``root/cifar-10-batches-py/{data_batch_1..5,test_batch}``, pickled
    dicts with ``b'data'`` (N×3072: 1024 red, 1024 green, 1024 blue bytes, rows first) and
    ``b'labels'``.  Labels cycle through 0..9 across the batches, so every class is in the training
    set once it has 10 images (as in the real release).  Returns N×3×32×32 images and labels."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    xs: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    ys: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    for index, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        images = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        labels = (np.arange(per_batch) + index * per_batch + 3) % 10
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in labels],
            b"data": images.reshape(per_batch, 3072),
            b"filenames": [f"{name}_{i}.png".encode() for i in range(per_batch)],
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)
        split = "test" if name == "test_batch" else "train"
        xs[split].append(images)
        ys[split].append(labels.astype(np.int64))
    return {f"{k}_{s}": np.concatenate(v[s]) for k, v in (("x", xs), ("y", ys)) for s in ("train", "test")}


def saliency_pair(side: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """A (H×W×3 image, H×W mask) pair: a bright square on a dark ground, the square salient (255).
    ``index`` shifts the square so the images differ."""
    image = np.full((side, side, 3), 30, np.uint8)
    mask = np.zeros((side, side), np.uint8)
    lo = side // 4 + index % (side // 4)
    hi = min(lo + side // 2, side)
    image[lo:hi, lo:hi] = (220, 200, 40)
    mask[lo:hi, lo:hi] = 255
    return image, mask


def write_saliency_pairs(images_in: Path, masks_in: Path, stems: list[str], image_suffix: str = ".jpg",
                         side: int = 24) -> None:
    """Write ``<stem><image_suffix>`` images and ``<stem>.png`` masks (PIL), one pair per stem."""
    images_in.mkdir(parents=True, exist_ok=True)
    masks_in.mkdir(parents=True, exist_ok=True)
    for i, stem in enumerate(stems):
        image, mask = saliency_pair(side, i)
        Image.fromarray(image).save(images_in / f"{stem}{image_suffix}")
        Image.fromarray(mask).save(masks_in / f"{stem}.png")


def msra_b_stems(n: int) -> list[str]:
    """Stems in MSRA-B's naming (``<folder>_<set>_<number>``, e.g. ``0_0_547``)."""
    return [f"{i % 10}_{i // 10 % 10}_{100 + i}" for i in range(n)]


def write_msra_b(root: Path, n: int = 10, layout: str = "flat",
                 lists: tuple[int, int, int] | None = None, side: int = 24) -> dict[str, list[str]]:
    """MSRA-B: ``*.jpg`` images and ``*.png`` masks together in ``root`` (``layout="flat"``, the DRFI /
    DSS release) or in ``root/image`` and ``root/annotation`` (``"folders"``).  With ``lists`` =
    (train, val, test) counts, the first stems go to ``train_cvpr2013.txt``, ``valid_cvpr2013.txt``
    and ``test_cvpr2013.txt`` (image file names, one a line).  Returns the stems per split
    (``{"all": ...}`` without lists)."""
    stems = msra_b_stems(n)
    images_in, masks_in = (root, root) if layout == "flat" else (root / "image", root / "annotation")
    write_saliency_pairs(images_in, masks_in, stems, ".jpg", side)
    if lists is None:
        return {"all": stems}
    n_train, n_val, n_test = lists
    splits = {"train": stems[:n_train], "val": stems[n_train:n_train + n_val],
              "test": stems[n_train + n_val:n_train + n_val + n_test]}
    for split, name in (("train", "train_cvpr2013.txt"), ("val", "valid_cvpr2013.txt"),
                        ("test", "test_cvpr2013.txt")):
        (root / name).write_text("".join(f"{stem}.jpg\n" for stem in splits[split]))
    return splits


def write_hku_is(root: Path, n: int = 5, side: int = 24) -> list[str]:
    """HKU-IS: ``root/imgs/<stem>.png`` images and ``root/gt/<stem>.png`` masks (stems ``0004``...)."""
    stems = [f"{i + 4:04d}" for i in range(n)]
    write_saliency_pairs(root / "imgs", root / "gt", stems, ".png", side)
    return stems
