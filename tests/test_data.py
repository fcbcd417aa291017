"""Datasets read in their published on-disk formats (fixtures written by the tests)."""

from __future__ import annotations

import gzip
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import record

from evosynth.data.prepared import load_prepared
from evosynth.data.sources import DEBIAN_FASHION_MNIST, check_source, prepare, read_idx
from evosynth.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    """LeCun's IDX format written independently of evosynth: magic, big-endian dims, bytes."""
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, n_train=30, n_test=10, gz=True, side=28, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        raw = idx_bytes(array)
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx(tmp_path, gz):
    arrays = write_idx_set(tmp_path, gz=gz)
    suffix = ".gz" if gz else ""
    assert np.array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}"), arrays["train-images-idx3-ubyte"])


def test_truncated_and_foreign_idx_files_are_reported(tmp_path):
    raw = idx_bytes(np.zeros((5, 28, 28), np.uint8))
    (tmp_path / "cut").write_bytes(raw[:-100])
    (tmp_path / "foreign").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DataError, match="truncated IDX file"):
        read_idx(tmp_path / "cut")
    with pytest.raises(DataError, match="bad magic number"):
        read_idx(tmp_path / "foreign")


@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_prepare_idx_folder_and_torchvision_layout(tmp_path, layout):
    root = tmp_path / "raw"
    folder = root if layout == "flat" else root / "FashionMNIST" / "raw"
    arrays = write_idx_set(folder)
    spec = {"source": "fashion_mnist" if layout == "torchvision" else "idx", "root": str(root)}
    assert check_source(spec) is None
    card = prepare(spec, tmp_path / "out.npz", tmp_path / "out.card.json")
    assert card["train"]["count"] == 30 and card["test"]["count"] == 10
    assert card["train"]["per_class"] == [3] * 10
    assert json.loads((tmp_path / "out.card.json").read_text()) == card
    with np.load(tmp_path / "out.npz") as prepared:
        assert prepared["x_train"].shape == (30, 1, 28, 28)
        assert np.array_equal(prepared["x_train"][:, 0], arrays["train-images-idx3-ubyte"])


def test_missing_files_name_the_expected_layout(tmp_path):
    spec = {"source": "mnist", "root": str(tmp_path / "nothing")}
    problem = check_source(spec)
    assert "train-images-idx3-ubyte[.gz]" in problem and "MNIST/raw" in problem
    with pytest.raises(DataError, match="dataset files not found"):
        prepare(spec, tmp_path / "o.npz", tmp_path / "o.json")


def write_cifar10(root: Path, per_batch=4) -> None:
    """The CIFAR-10 python version: pickled dicts with b'data' (N×3072) and b'labels'."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for index, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        batch = {
            b"batch_label": name.encode(),
            b"labels": [(index * per_batch + i) % 10 for i in range(per_batch)],  # every class in training
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"filenames": [b"x.png"] * per_batch,
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)


def test_prepare_cifar10_python_pickles(tmp_path):
    write_cifar10(tmp_path / "cifar")
    card = prepare({"source": "cifar10", "root": str(tmp_path / "cifar")}, tmp_path / "c.npz", tmp_path / "c.json")
    assert card["image_shape"] == [3, 32, 32]
    assert card["train"]["count"] == 20 and card["test"]["count"] == 4


def test_cifar10_offline_without_files_says_where_to_put_them(tmp_path):
    problem = check_source({"source": "cifar10", "root": str(tmp_path)})
    assert "cifar-10-batches-py" in problem and "data_batch_1" in problem


@pytest.mark.parametrize("shape", [(12, 20, 20), (12, 20, 20, 3), (12, 3, 20, 20)])
def test_prepare_user_npz(tmp_path, shape):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mine.npz", x_train=rng.random(shape), y_train=np.arange(12) % 3,
             x_test=rng.random((4, *shape[1:])), y_test=np.arange(4) % 3)
    card = prepare({"source": "npz", "root": str(tmp_path / "mine.npz")}, tmp_path / "p.npz", tmp_path / "p.json")
    channels = 1 if len(shape) == 3 else 3
    assert card["image_shape"] == [channels, 20, 20] and card["num_classes"] == 3


def test_user_npz_missing_arrays(tmp_path):
    np.savez(tmp_path / "mine.npz", x_train=np.zeros((2, 8, 8)))
    with pytest.raises(DataError, match=r"missing arrays \['y_train', 'x_test', 'y_test'\]"):
        prepare({"source": "npz", "root": str(tmp_path / "mine.npz")}, tmp_path / "p.npz", tmp_path / "p.json")


def test_digits_resized_for_lenet5(tmp_path):
    card = prepare({"source": "digits", "image_size": 28}, tmp_path / "d.npz", tmp_path / "d.json")
    assert card["image_shape"] == [1, 28, 28]
    assert card["train"]["count"] + card["test"]["count"] == 1797


def test_load_prepared_subset_is_seeded_and_normalised(tmp_path):
    prepare({"source": "digits", "image_size": 28}, tmp_path / "d.npz", tmp_path / "d.json")
    record(tmp_path / "d.npz", tmp_path / "d.json")  # what the prepare step adds
    a = load_prepared(tmp_path / "d.npz", 100, 50, seed=3)
    b = load_prepared(tmp_path / "d.npz", 100, 50, seed=3)
    assert a.x_train.shape == (100, 1, 28, 28) and len(a.y_test) == 50
    assert (a.y_train == b.y_train).all()
    assert abs(float(a.x_train.mean())) < 1e-4 and abs(float(a.x_train.std()) - 1) < 1e-3


def test_corrupted_prepared_file_is_reported(tmp_path):
    (tmp_path / "d.npz").write_bytes(b"\x00" * 100)
    record(tmp_path / "d.npz")  # even when a record vouches for it
    with pytest.raises(DataError, match="unreadable, truncated or corrupted"):
        load_prepared(tmp_path / "d.npz")


@pytest.mark.skipif(not Path(DEBIAN_FASHION_MNIST).is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_debian_package(tmp_path):
    card = prepare({"source": "fashion_mnist", "root": DEBIAN_FASHION_MNIST}, tmp_path / "f.npz", tmp_path / "f.json")
    assert card["train"]["per_class"] == [6000] * 10
    assert card["test"]["per_class"] == [1000] * 10
    assert card["image_shape"] == [1, 28, 28]
