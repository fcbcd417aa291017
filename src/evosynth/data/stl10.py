"""STL-10 in its published binary layout (Coates, Lee & Ng 2011), read without torchvision.

``<root>/stl10_binary/`` holds ``train_X.bin``, ``train_y.bin``, ``test_X.bin``
and ``test_y.bin`` (``unlabeled_X.bin`` is not used): images are raw uint8,
3×96×96 each, every channel stored column-major (Fortran order, as MATLAB
writes it); labels are one uint8 per image, 1..10.  We return N×3×96×96 images
in row-major (H, W) order and labels 0..9.

Why not ``torchvision.datasets.STL10`` for local copies: its constructor checks
the md5 of all three ``*_X.bin`` files, including the 2.7 GB unlabeled set we
never read, so a partial copy or a test fixture is rejected as "not found or
corrupted".  torchvision is used only when the user sets ``download: true`` and
no local copy exists: ``STL10(root, download=True)`` fetches and unpacks the
archive into ``root``, and the files are then read here like any local copy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evosynth.errors import DataError

STL10_FOLDER = "stl10_binary"
STL10_FILES = {
    "x_train": "train_X.bin",
    "y_train": "train_y.bin",
    "x_test": "test_X.bin",
    "y_test": "test_y.bin",
}
STL10_SIDE = 96
STL10_CLASSES = 10
_IMAGE_BYTES = 3 * STL10_SIDE * STL10_SIDE


def expected_layout(root: Path) -> str:
    names = ", ".join(STL10_FILES.values())
    return f"expected {root / STL10_FOLDER}/ with {names} (the stl10_binary release)"


def _folder(root: Path) -> Path | None:
    """``root/stl10_binary`` (the release archive's folder) or ``root`` itself."""
    for folder in (root / STL10_FOLDER, root):
        if all((folder / name).is_file() for name in STL10_FILES.values()):
            return folder
    return None


def check_stl10(root: Path, download: bool) -> str | None:
    """Why the STL-10 files under ``root`` cannot be read, or None if they can (or may be downloaded)."""
    if _folder(root) is not None or download:
        return None
    return f"{root}: dataset files not found; {expected_layout(root)}"


def read_stl10_images(path: str | Path) -> np.ndarray:
    """Read an STL-10 ``*_X.bin`` file as uint8 N×3×96×96 (rows, then columns)."""
    path = Path(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _IMAGE_BYTES:
        raise DataError(f"{path}: {raw.size} bytes is not a whole number of 3×96×96 STL-10 images")
    # Each channel is stored column by column: index [n, c, column, row].
    return np.ascontiguousarray(raw.reshape(-1, 3, STL10_SIDE, STL10_SIDE).transpose(0, 1, 3, 2))


def read_stl10_labels(path: str | Path) -> np.ndarray:
    """Read an STL-10 ``*_y.bin`` file (uint8 labels 1..10) as int64 labels 0..9."""
    path = Path(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.min() < 1 or raw.max() > STL10_CLASSES:
        raise DataError(f"{path}: STL-10 labels must be bytes 1..10")
    return raw.astype(np.int64) - 1


def load_stl10(root: Path, download: bool) -> dict[str, np.ndarray]:
    """Read ``x_train, y_train, x_test, y_test`` of STL-10 (5000 train, 8000 test images)."""
    root = Path(root)
    folder = _folder(root)
    if folder is None and download:
        import torchvision  # only when a download is allowed and needed

        try:
            torchvision.datasets.STL10(str(root), split="test", download=True)
        except Exception as exc:  # no network, server errors
            raise DataError(f"stl10: download failed ({exc}); {expected_layout(root)}") from None
        folder = _folder(root)
    if folder is None:
        raise DataError(f"stl10: {root}: dataset files not found; {expected_layout(root)}")
    arrays = {}
    for split in ("train", "test"):
        x = read_stl10_images(folder / STL10_FILES[f"x_{split}"])
        y = read_stl10_labels(folder / STL10_FILES[f"y_{split}"])
        if len(x) != len(y):
            raise DataError(f"stl10: {folder / STL10_FILES[f'x_{split}']} has {len(x)} images"
                            f" but {folder / STL10_FILES[f'y_{split}']} has {len(y)} labels")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
    return arrays
