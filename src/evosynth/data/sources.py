"""Dataset sources: read each in its published on-disk format, write one prepared file.

Fashion-MNIST/MNIST/IDX, CIFAR-10 pickles, STL-10 binaries, scikit-learn's
digits and user ``.npz`` files are read here; saliency sets
(:mod:`evosynth.data.saliency`) and KITTI (:mod:`evosynth.data.kitti_prepared`)
have their own readers, dispatched from :func:`read_source` and :func:`prepare`.
The prepared format itself is :mod:`evosynth.data.prepared`; what a source's
arrays must hold to be converted to it without loss is :mod:`evosynth.data.validation`.
A file that cannot be read (truncated, empty, not in its format) is refused in one
line naming it; the prepared file and its card appear together or not at all.
"""

from __future__ import annotations

import gzip
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from evosynth.artifacts import all_or_nothing, atomic_path, sha256, write_json
from evosynth.data.prepared import array_sha, validation_split
from evosynth.data.raw import DEBIAN_FASHION_MNIST, root as raw_root  # noqa: F401 (DEBIAN_FASHION_MNIST re-exported)
from evosynth.data.validation import as_labels, as_uint8, check_classes
from evosynth.errors import DataError

# KITTI, saliency and STL-10 readers import torch/pillow: imported where used, so that checking a
# params file (evosynth check, every step's validation) stays light.

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
TORCHVISION_FOLDERS = {"fashion_mnist": "FashionMNIST", "mnist": "MNIST"}
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST = ["test_batch"]


# ----------------------------------------------------------------- IDX files
def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (LeCun's MNIST format), gzipped or not."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{path}: truncated or corrupted gzip file ({exc}); download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, {4 + 4 * ndim} needed for {ndim} dimensions)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: truncated IDX file ({body.size} bytes for shape {dims})")
    return body.reshape(dims)


def _find_idx(folder: Path) -> dict[str, Path] | None:
    found = {}
    for key, stem in IDX_FILES.items():
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                found[key] = folder / name
                break
    return found if len(found) == len(IDX_FILES) else None


def _idx_folder(source: str, root: Path) -> dict[str, Path] | None:
    """IDX files directly in ``root`` or in torchvision's ``root/<Name>/raw``."""
    candidates = [root]
    if source in TORCHVISION_FOLDERS:
        candidates.append(root / TORCHVISION_FOLDERS[source] / "raw")
    for folder in candidates:
        files = _find_idx(folder)
        if files:
            return files
    return None


def _expected_layout(source: str, root: Path) -> str:
    names = ", ".join(f"{stem}[.gz]" for stem in IDX_FILES.values())
    if source == "cifar10":
        return f"expected {root / CIFAR_FOLDER}/ with {', '.join(CIFAR_TRAIN + CIFAR_TEST)}"
    where = f"{root}/" + (
        f" or {root / TORCHVISION_FOLDERS[source] / 'raw'}/" if source in TORCHVISION_FOLDERS else ""
    )
    hint = " (on Debian: apt-get install dataset-fashion-mnist)" if source == "fashion_mnist" else ""
    return f"expected {names} in {where}{hint}"


def check_source(spec: dict[str, Any]) -> str | None:
    """Return why the raw files of a dataset spec cannot be read, or None if they can."""
    source = spec["source"]
    if source == "digits":
        return None
    root = Path(raw_root(spec))
    if source == "npz":
        return None if root.is_file() else f"{root}: no such .npz file"
    if source in ("msra_b", "hku_is"):
        from evosynth.data.saliency import check_saliency

        return check_saliency(spec)
    if source == "kitti":
        from evosynth.data.kitti_prepared import check_kitti

        return check_kitti(spec)
    if source == "stl10":
        from evosynth.data.stl10 import check_stl10

        return check_stl10(root, bool(spec.get("download")))
    if spec.get("download") and source in ("fashion_mnist", "mnist", "cifar10"):
        return None
    if source == "cifar10":
        ok = all((root / CIFAR_FOLDER / n).is_file() for n in CIFAR_TRAIN + CIFAR_TEST)
    else:
        ok = _idx_folder(source, root) is not None
    return None if ok else f"{root}: dataset files not found; {_expected_layout(source, root)}"


# ------------------------------------------------------------------ sources
def _to_nchw(x: np.ndarray, name: str) -> np.ndarray:
    """Images as N×C×H×W; accepts N×H×W, N×H×W×C and N×C×H×W with C in {1, 3}."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[-1] in (1, 3):
        return x.transpose(0, 3, 1, 2)
    if x.ndim == 4 and x.shape[1] in (1, 3):
        return x
    raise DataError(f"{name}: images must be N×H×W, N×H×W×C or N×C×H×W with C in (1, 3), got {x.shape}")


def _load_idx(source: str, root: Path, download: bool) -> dict[str, np.ndarray]:
    files = _idx_folder(source, root)
    if files is None and download:
        import torchvision  # only when a download is allowed and needed

        cls = {"fashion_mnist": torchvision.datasets.FashionMNIST, "mnist": torchvision.datasets.MNIST}
        try:
            cls[source](str(root), train=True, download=True)
        except Exception as exc:  # no network, server errors
            raise DataError(f"{source}: download failed ({exc}); {_expected_layout(source, root)}") from None
        files = _idx_folder(source, root)
    if files is None:
        raise DataError(f"{source}: {root}: dataset files not found; {_expected_layout(source, root)}")
    return {key: read_idx(path) for key, path in files.items()}


def _load_cifar10(root: Path, download: bool) -> dict[str, np.ndarray]:
    folder = root / CIFAR_FOLDER
    if not all((folder / n).is_file() for n in CIFAR_TRAIN + CIFAR_TEST) and download:
        import torchvision

        try:
            torchvision.datasets.CIFAR10(str(root), train=True, download=True)
        except Exception as exc:
            raise DataError(
                f"cifar10: download failed ({exc}); {_expected_layout('cifar10', root)}"
            ) from None

    def batches(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for name in names:
            path = folder / name
            if not path.is_file():
                raise DataError(f"cifar10: {path} not found; {_expected_layout('cifar10', root)}")
            try:
                with open(path, "rb") as handle:
                    batch = pickle.load(handle, encoding="bytes")  # the published format is a pickle
                data = np.asarray(batch[b"data"])
                if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
                    raise ValueError(f"data of {data.dtype} {data.shape}, expected uint8 N×3072")
                xs.append(data.reshape(-1, 3, 32, 32))
                ys.append(as_labels(np.asarray(batch[b"labels"]), f"{path} labels"))
            except (pickle.UnpicklingError, EOFError, ValueError, KeyError, TypeError, IndexError) as exc:
                raise DataError(f"cifar10: {path}: not a CIFAR-10 python batch, truncated or corrupted"
                                f" ({type(exc).__name__}: {exc}); download it again") from None
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = batches(CIFAR_TRAIN)
    x_test, y_test = batches(CIFAR_TEST)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _load_digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = np.rint(digits.images / 16.0 * 255.0).astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"{path}: no such .npz file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in IDX_FILES if k not in archive.files]
            if missing:
                raise DataError(
                    f"{path}: missing arrays {missing}; expected x_train, y_train, x_test, y_test"
                )
            return {k: archive[k] for k in IDX_FILES}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        what = "empty file" if path.stat().st_size == 0 else f"{type(exc).__name__}: {exc}"
        raise DataError(f"{path}: not a readable .npz file, truncated or corrupted ({what});"
                        " write it with numpy.savez") from None


def _resize(x: np.ndarray, size: int) -> np.ndarray:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    import torch

    t = torch.from_numpy(x).float()
    t = torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return t.round().clamp(0, 255).to(torch.uint8).numpy()


def read_source(spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """Read a dataset spec from params.yaml into uint8 N×C×H×W images and int64 labels."""
    source = spec["source"]
    root = Path(raw_root(spec))
    if source in ("fashion_mnist", "mnist", "idx"):
        arrays = _load_idx(source, root, spec.get("download", False))
    elif source == "cifar10":
        arrays = _load_cifar10(root, spec.get("download", False))
    elif source == "stl10":
        from evosynth.data.stl10 import load_stl10

        arrays = load_stl10(root, spec.get("download", False))
    elif source in ("msra_b", "hku_is"):
        from evosynth.data.saliency import read_saliency

        return read_saliency(spec)  # masks, not labels
    elif source == "kitti":
        from evosynth.data.kitti_prepared import read_kitti

        return read_kitti(spec)  # boxes per image, not labels
    elif source == "digits":
        arrays = _load_digits()
    elif source == "npz":
        arrays = _load_npz(root)
    else:
        raise DataError(f"unknown dataset source {source!r}")
    out = {}
    for key in ("x_train", "x_test"):
        x = _to_nchw(as_uint8(np.asarray(arrays[key]), key), key)
        out[key] = _resize(x, spec["image_size"]) if "image_size" in spec else np.ascontiguousarray(x)
    for key in ("y_train", "y_test"):
        out[key] = as_labels(arrays[key], key)
    for split in ("train", "test"):
        if len(out[f"x_{split}"]) != len(out[f"y_{split}"]):
            raise DataError(f"{split}: {len(out[f'x_{split}'])} images but {len(out[f'y_{split}'])} labels")
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise DataError(
            f"train images {out['x_train'].shape[1:]} and test images {out['x_test'].shape[1:]} differ"
        )
    check_classes(out["y_train"], out["y_test"])
    return out


def prepare(spec: dict[str, Any], out: str | Path, card: str | Path) -> dict[str, Any]:
    """Write the prepared ``.npz`` and its data card; return the card."""
    if spec["source"] in ("msra_b", "hku_is"):
        from evosynth.data.saliency import prepare_saliency

        return prepare_saliency(spec, out, card)
    if spec["source"] == "kitti":
        from evosynth.data.kitti_prepared import prepare_kitti

        return prepare_kitti(spec, out, card)  # images and padded boxes, not labels
    validation = spec.get("validation") or {"fraction": 0.0, "seed": 0}
    arrays, carved = validation_split(read_source(spec), validation["fraction"], validation["seed"])
    with all_or_nothing():  # the prepared file only with its card
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as handle:  # np.savez would append .npz to a temp name
                np.savez(handle, **arrays)
        info = _card(spec, arrays, sha256(out), carved)
        write_json(card, info)
    return info


def _card(spec: dict[str, Any], arrays: dict[str, np.ndarray], prepared_sha: str,
          validation: dict[str, Any] | None) -> dict[str, Any]:
    """Counts per class of each part (the validation part: its fraction, seed and indices' sha256), checksums."""
    num_classes = check_classes(arrays["y_train"], arrays["y_test"])
    info = {
        "source": spec["source"],
        "root": None if spec["source"] == "digits" else raw_root(spec),
        "image_shape": list(arrays["x_train"].shape[1:]),
        "num_classes": num_classes,
        "train": {
            "count": int(len(arrays["y_train"])),
            "per_class": np.bincount(arrays["y_train"], minlength=num_classes).tolist(),
        },
        "test": {
            "count": int(len(arrays["y_test"])),
            "per_class": np.bincount(arrays["y_test"], minlength=num_classes).tolist(),
        },
        **({"validation": validation} if validation else {}),
        "sha256": {"prepared": prepared_sha} | {key: array_sha(value) for key, value in arrays.items()},
    }
    return info
