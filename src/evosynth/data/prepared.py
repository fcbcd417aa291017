"""The prepared format: one ``.npz`` per dataset, read back as tensors.

A prepared dataset is an ``.npz`` with ``x_train, y_train, x_test, y_test``
(images as uint8 N×C×H×W, labels as int64) and, for a classification set with a
validation part, ``x_val, y_val``: a fixed, stratified, seeded share of the
published *training* images (:func:`validation_split`), removed from
``x_train`` so that training never sees them; the test part is untouched. A data
card (counts per class, the validation indices' sha256, checksums) is written
beside it by :mod:`evosynth.data.sources`. Training preloads it as
tensors: no per-image transforms. Saliency sets hold masks instead of labels,
KITTI boxes per image; all three are read through :func:`read_prepared`.
"""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from evosynth.artifacts import verify
from evosynth.data.validation import check_classes
from evosynth.errors import DataError

if TYPE_CHECKING:
    import torch

#: The arrays of a prepared classification file.
CLASSIFICATION_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


class Split(NamedTuple):
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_val: torch.Tensor | None = None  # the validation part: decisions read it (evosynth.scores)
    y_val: torch.Tensor | None = None

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def array_sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def read_prepared(path: str | Path, kind: str, required: list[str]) -> dict[str, np.ndarray]:
    """Every array of a prepared ``.npz``, checked against its provenance record; a clear error if it is
    missing, unrecorded, unreadable or lacks ``required``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: prepared dataset missing (run the prepare step)")
    verify(path)  # the prepare step's record names it with its sha256, or it is not used
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{path}: prepared dataset unreadable, truncated or corrupted ({exc})") from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise DataError(f"{path}: {', '.join(missing)} missing; not a prepared {kind} file")
    return arrays


def validation_split(
    arrays: dict[str, np.ndarray], fraction: float, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """Carve a stratified, seeded validation part from the training images.

    Of each class's n_c training images, round(``fraction`` · n_c) (at most
    n_c − 1, so every class keeps a training image) are drawn by one
    ``numpy.random.default_rng(seed)`` permutation per class, classes in label
    order; they become ``x_val, y_val`` (in file order) and leave ``x_train``.
    The test part is not touched. Returns the arrays and the card's record
    (count, per class, the sha256 of the chosen indices into the published
    training set as int64), or the arrays unchanged and None when no image is held out (``fraction`` 0, or
    classes too small to lend one).
    """
    if fraction <= 0:
        return arrays, None
    labels = arrays["y_train"]
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = min(int(np.floor(fraction * len(members) + 0.5)), len(members) - 1)
        chosen.append(members[rng.permutation(len(members))[:take]])
    picked = np.sort(np.concatenate(chosen)).astype(np.int64)
    if not len(picked):  # no class has enough images to lend one: no validation part
        return arrays, None
    keep = np.ones(len(labels), dtype=bool)
    keep[picked] = False
    out = {**arrays, "x_train": arrays["x_train"][keep], "y_train": labels[keep],
           "x_val": arrays["x_train"][picked], "y_val": labels[picked]}
    classes = int(labels.max()) + 1 if len(labels) else 0
    record = {"fraction": fraction, "seed": seed, "count": int(len(picked)),
              "per_class": np.bincount(labels[picked], minlength=classes).tolist(),
              "indices_sha256": array_sha(picked)}
    return out, record


def seeded_subset(
    arrays: dict[str, np.ndarray], sizes: dict[str, int | None], fields: tuple[str, ...], seed: int
) -> None:
    """Keep a seeded random subset (in file order) of each part: ``sizes`` maps "train"/"test" to a size."""
    rng = np.random.default_rng(seed)
    for part, size in sizes.items():
        n = len(arrays[f"{fields[0]}_{part}"])
        if size is not None and size < n:
            keep = np.sort(rng.permutation(n)[:size])
            for field in fields:
                arrays[f"{field}_{part}"] = arrays[f"{field}_{part}"][keep]


def load_prepared(
    path: str | Path, train_size: int | None = None, test_size: int | None = None, seed: int = 0
) -> Split:
    """Load a prepared file as normalised float tensors, optionally a seeded subset of the training and test parts.

    The validation part (if the file has one) is kept whole; all parts are
    normalised with the training part's per-channel mean and deviation.
    """
    import torch

    arrays = read_prepared(path, "classification", list(CLASSIFICATION_ARRAYS))
    try:  # a file prepared before the labels were checked (a stray 255: a 256-way network)
        check_classes(arrays["y_train"], arrays["y_test"])
    except DataError as exc:
        raise DataError(f"{path}: {exc}; prepare it again") from None
    seeded_subset(arrays, {"train": train_size, "test": test_size}, ("x", "y"), seed)
    x_train = torch.from_numpy(arrays["x_train"]).float().div_(255.0)
    mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = x_train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)

    def normalised(key: str) -> torch.Tensor:
        return (torch.from_numpy(arrays[key]).float().div_(255.0) - mean) / std

    validation = (normalised("x_val"), torch.from_numpy(arrays["y_val"])) if "y_val" in arrays else (None, None)
    return Split((x_train - mean) / std, torch.from_numpy(arrays["y_train"]), normalised("x_test"),
                 torch.from_numpy(arrays["y_test"]), *validation)
