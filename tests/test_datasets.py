"""STL-10 and CIFAR-10 read from fixtures in their published layouts; torchvision only for downloads."""

from __future__ import annotations

import numpy as np
import pytest
import torchvision
from fixtures_data import write_cifar10, write_stl10

from evosynth.data.sources import check_source, prepare, read_source
from evosynth.data.stl10 import read_stl10_images, read_stl10_labels
from evosynth.errors import DataError


def test_stl10_bytes_are_column_major(tmp_path):
    # The published format, byte by byte: channel 0 of image 0 stores column 0 (rows 0..95) first.
    path = tmp_path / "train_X.bin"
    path.write_bytes((np.arange(2 * 3 * 96 * 96) % 251).astype(np.uint8).tobytes())
    x = read_stl10_images(path)
    assert x.shape == (2, 3, 96, 96)
    assert x[0, 0, 1, 0] == 1 and x[0, 0, 0, 1] == 96  # (row 1, col 0) is byte 1; (row 0, col 1) is byte 96
    assert x[1, 2, 5, 7] == (96 * 96 * 3 + 2 * 96 * 96 + 7 * 96 + 5) % 251


def test_stl10_fixture_read_with_labels_0_to_9(tmp_path):
    written = write_stl10(tmp_path, n_train=12, n_test=4)
    arrays = read_source({"source": "stl10", "root": str(tmp_path)})
    for key in ("x_train", "x_test", "y_train", "y_test"):
        assert np.array_equal(arrays[key], written[key]), key
    x = written["x_train"]
    assert arrays["x_train"][3, 1, 10, 70] == x[3, 1, 10, 70] != x[3, 1, 70, 10]
    assert arrays["y_train"].min() == 0 and arrays["y_train"].max() == 9


def test_prepare_stl10_resized(tmp_path):
    write_stl10(tmp_path / "raw", n_train=10, n_test=5)
    spec = {"source": "stl10", "root": str(tmp_path / "raw"), "image_size": 32}
    assert check_source(spec) is None
    card = prepare(spec, tmp_path / "s.npz", tmp_path / "s.json")
    assert card["image_shape"] == [3, 32, 32] and card["num_classes"] == 10
    assert card["train"]["per_class"] == [1] * 10 and card["test"]["count"] == 5


def test_stl10_missing_or_damaged_files(tmp_path):
    spec = {"source": "stl10", "root": str(tmp_path / "raw")}
    problem = check_source(spec)
    assert "stl10_binary" in problem and "train_X.bin" in problem and "test_y.bin" in problem
    with pytest.raises(DataError, match="dataset files not found.*stl10_binary"):
        prepare(spec, tmp_path / "s.npz", tmp_path / "s.json")
    write_stl10(tmp_path / "raw", n_train=2, n_test=2)
    folder = tmp_path / "raw" / "stl10_binary"
    (folder / "train_y.bin").write_bytes(bytes([1, 11]))
    with pytest.raises(DataError, match="train_y.bin: STL-10 labels must be bytes 1..10"):
        read_source(spec)
    (folder / "train_y.bin").write_bytes(bytes([1, 2, 3]))
    with pytest.raises(DataError, match="2 images but .*train_y.bin has 3 labels"):
        read_source(spec)
    (folder / "test_X.bin").write_bytes(bytes(1000))
    with pytest.raises(DataError, match="not a whole number of 3×96×96"):
        read_stl10_images(folder / "test_X.bin")
    with pytest.raises(DataError, match="labels must be"):
        read_stl10_labels(folder / "test_X.bin")  # zeros are not labels


def test_stl10_download_goes_through_torchvision(tmp_path, monkeypatch):
    calls = []

    class FakeSTL10:  # stands in for the network: unpacks the archive's files into root
        def __init__(self, root, split="train", download=False):
            calls.append((root, split, download))
            write_stl10(tmp_path / "raw", n_train=3, n_test=2)

    monkeypatch.setattr(torchvision.datasets, "STL10", FakeSTL10)
    spec = {"source": "stl10", "root": str(tmp_path / "raw"), "download": True}
    assert check_source(spec) is None
    assert len(read_source(spec)["y_test"]) == 2
    assert calls == [(str(tmp_path / "raw"), "test", True)]
    read_source(spec)  # a local copy now: no second download
    assert len(calls) == 1

    def offline(*args, **kwargs):
        raise RuntimeError("no network")

    monkeypatch.setattr(torchvision.datasets, "STL10", offline)
    with pytest.raises(DataError, match="stl10: download failed \\(no network\\)"):
        read_source({"source": "stl10", "root": str(tmp_path / "empty"), "download": True})


def test_cifar10_pickles_read_in_row_major_order(tmp_path):
    written = write_cifar10(tmp_path, per_batch=3)
    arrays = read_source({"source": "cifar10", "root": str(tmp_path)})
    for key in ("x_train", "x_test", "y_train", "y_test"):
        assert np.array_equal(arrays[key], written[key]), key
    assert arrays["x_train"].shape == (15, 3, 32, 32)


def test_cifar10_download_goes_through_torchvision(tmp_path, monkeypatch):
    calls = []

    class FakeCIFAR10:
        def __init__(self, root, train=True, download=False):
            calls.append(download)
            write_cifar10(tmp_path / "raw", per_batch=2)

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    arrays = read_source({"source": "cifar10", "root": str(tmp_path / "raw"), "download": True})
    assert calls == [True] and arrays["x_test"].shape == (2, 3, 32, 32)
