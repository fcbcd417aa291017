"""User datasets: a conversion that would lose information, a class count the labels do not support,
or a file that cannot be read is refused in one line (exit 2) naming it, and leaves no prepared file,
card or provenance behind; what is accepted is prepared exactly."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import TINY_PARAMS
from fixtures_data import write_cifar10

from evosynth.data.sources import prepare
from evosynth.data.validation import as_uint8
from evosynth.pipeline.cli import main

RNG = np.random.default_rng(0)
LABELS = np.arange(12) % 3  # three classes, each in the training set
TEST_LABELS = np.arange(4) % 3


def _npz(x_train=None, y_train=LABELS, x_test=None, y_test=TEST_LABELS, **extra):
    """A user .npz: uint8 8×8 images unless given."""
    images = {"x_train": RNG.integers(0, 256, (len(y_train), 8, 8), dtype=np.uint8) if x_train is None else x_train,
              "x_test": RNG.integers(0, 256, (len(y_test), 8, 8), dtype=np.uint8) if x_test is None else x_test}
    return {**images, "y_train": y_train, "y_test": y_test, **extra}


def _same_for_train_and_test(make):
    return _npz(x_train=make(12), x_test=make(4))


def _ramp(n: int, lo: float, hi: float) -> np.ndarray:
    """``n`` 8×8 images whose pixels run evenly from ``lo`` to ``hi``."""
    return np.linspace(lo, hi, n * 64).reshape(n, 8, 8)


def _idx(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _idx_set(folder: Path, train_labels=LABELS, damage=None) -> None:
    """An IDX set; ``damage`` = (file stem, function of its bytes) spoils one file."""
    folder.mkdir(parents=True)
    files = {
        "train-images-idx3-ubyte": RNG.integers(0, 256, (len(train_labels), 8, 8), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.asarray(train_labels, dtype=np.uint8),
        "t10k-images-idx3-ubyte": RNG.integers(0, 256, (4, 8, 8), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": TEST_LABELS.astype(np.uint8),
    }
    for stem, array in files.items():
        raw = gzip.compress(_idx(array))
        if damage and damage[0] == stem:
            raw = damage[1](raw)
        (folder / f"{stem}.gz").write_bytes(raw)


def _project(tmp_path: Path, spec: dict) -> Path:
    params = {**TINY_PARAMS, "datasets": {**TINY_PARAMS["datasets"], "mine": spec}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def _prepare(project: Path, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.chdir(project)
    monkeypatch.setenv("EVOSYNTH_WARM", "0")
    code = main(["prepare", "--dataset", "mine", "--out-dir", "out"])
    return code, capsys.readouterr().err.strip()


# (id, what the .npz holds, words of the one-line error)
NPZ_REFUSED = [
    ("floats in [-1, 1]", _same_for_train_and_test(lambda n: _ramp(n, -1.0, 1.0)),
     "x_train: float pixels range [-1, 1], negative values would be clipped to 0"),
    ("int64 up to 1020", _same_for_train_and_test(lambda n: _ramp(n, 0, 1020).round().astype(np.int64)),
     "x_train: int64 pixels range 0..1020, 74.9% of them outside 0..255"),
    ("complex pixels", _same_for_train_and_test(lambda n: RNG.random((n, 8, 8)) + 1j * RNG.random((n, 8, 8))),
     "x_train: complex128 pixels (complex: the imaginary part would be lost)"),
    ("one class", _npz(y_train=np.zeros(12, np.int64), y_test=np.zeros(4, np.int64)),
     "y_train: only one class (0) in the training set"),
    # beyond the examples
    ("floats with an ambiguous scale", _same_for_train_and_test(lambda n: RNG.uniform(0, 3.5, (n, 8, 8))),
     "x_train: float pixels range [0"),
    ("negative int16", _same_for_train_and_test(lambda n: RNG.integers(-5, 200, (n, 8, 8)).astype(np.int16)),
     "x_train: int16 pixels range -5..199"),
    ("whole floats above 255", _same_for_train_and_test(lambda n: _ramp(n, 0, 4095).round().astype(np.float32)),
     "x_train: float pixels range [0, 4095], values above 255 would be clipped"),
    ("NaN pixels", _npz(x_test=np.full((4, 8, 8), np.nan)), "x_test: images contain NaN"),
    ("string pixels", _same_for_train_and_test(lambda n: np.full((n, 8, 8), "ab")), "x_train: <U2 pixels (strings)"),
    ("zero test images", _npz(x_test=np.zeros((0, 8, 8), np.uint8), y_test=np.zeros(0, np.int64)),
     "x_test: no images (shape (0, 8, 8))"),
    ("labels 1..3 (no class 0)", _npz(y_train=LABELS + 1, y_test=TEST_LABELS + 1),
     "y_train: labels 1, 2, 3 are not 0..K-1: classes 0 have no training image, so the network would get 4"),
    ("a test label never trained on", _npz(y_test=np.array([0, 1, 2, 7])), "y_test: labels 7 never occur in y_train"),
    ("float labels", _npz(y_train=LABELS.astype(np.float32)),
     "y_train: float32 labels (whole numbers stored as floats: save them as integers)"),
    ("negative labels", _npz(y_train=LABELS - 1), "y_train: negative labels (smallest -1)"),
    ("one-hot labels", _npz(y_train=np.eye(3, dtype=np.int64)[LABELS]), "y_train: labels of shape (12, 3)"),
    ("zero training images", _npz(x_train=np.zeros((0, 8, 8), np.uint8), y_train=np.zeros(0, np.int64)),
     "x_train: no images (shape (0, 8, 8))"),
]

NPZ_FILE_REFUSED = [  # (id, bytes of the .npz from the bytes of a good one, words)
    ("empty .npz", lambda raw: b"", "not a readable .npz file, truncated or corrupted (empty file)"),
    ("truncated .npz", lambda raw: raw[: len(raw) // 2], "not a readable .npz file, truncated or corrupted"),
    ("header of a .npz only", lambda raw: raw[:30], "not a readable .npz file, truncated or corrupted"),
    ("a text file named .npz", lambda raw: b"x_train,y_train\n1,2\n", "not a readable .npz file"),
]

IDX_REFUSED = [  # (id, damaged file, damage, words)
    ("stray label 255", None, None, "y_train: labels 0, 1, 2, 255 are not 0..K-1: classes 3, 4, 5, 6, 7, 8, … (252"),
    ("images file with only its header", "train-images-idx3-ubyte",
     lambda raw: gzip.compress(gzip.decompress(raw)[:16]), "train-images-idx3-ubyte.gz: truncated IDX file (0 bytes"),
    ("header cut inside the dimensions", "t10k-labels-idx1-ubyte",
     lambda raw: gzip.compress(gzip.decompress(raw)[:6]), "t10k-labels-idx1-ubyte.gz: truncated IDX header"),
    ("truncated .gz", "train-labels-idx1-ubyte", lambda raw: raw[:-12],
     "train-labels-idx1-ubyte.gz: truncated or corrupted gzip file"),
    ("garbage after the gzip magic", "t10k-images-idx3-ubyte", lambda raw: raw[:2] + b"\x00" * 40,
     "t10k-images-idx3-ubyte.gz: truncated or corrupted gzip file"),
    ("zero images in the header", "t10k-images-idx3-ubyte",
     lambda raw: gzip.compress(_idx(np.zeros((0, 8, 8), np.uint8))), "x_test: no images"),
]


def _assert_refused(project: Path, code: int, stderr: str, words: str) -> None:
    assert code == 2, stderr
    assert "\n" not in stderr and "Traceback" not in stderr, stderr
    assert stderr.startswith("evosynth prepare: error: ") and words in stderr, stderr
    out = project / "out"
    assert not out.exists() or list(out.iterdir()) == [], "a refused dataset left files behind"


@pytest.mark.parametrize("case", NPZ_REFUSED, ids=[c[0] for c in NPZ_REFUSED])
def test_lossy_or_unsupported_npz_is_refused_in_one_line(tmp_path, monkeypatch, capsys, case):
    _, arrays, words = case
    np.savez(tmp_path / "mine.npz", **arrays)
    project = _project(tmp_path, {"source": "npz", "root": "mine.npz"})
    code, stderr = _prepare(project, monkeypatch, capsys)
    _assert_refused(project, code, stderr, words)
    assert "; accepted: " in stderr, "the message must say what is accepted"


@pytest.mark.parametrize("case", NPZ_FILE_REFUSED, ids=[c[0] for c in NPZ_FILE_REFUSED])
def test_unreadable_npz_is_one_line(tmp_path, monkeypatch, capsys, case):
    _, damage, words = case
    np.savez(tmp_path / "good.npz", **_npz())
    (tmp_path / "mine.npz").write_bytes(damage((tmp_path / "good.npz").read_bytes()))
    project = _project(tmp_path, {"source": "npz", "root": "mine.npz"})
    code, stderr = _prepare(project, monkeypatch, capsys)
    _assert_refused(project, code, stderr, "mine.npz: " + words)


@pytest.mark.parametrize("case", IDX_REFUSED, ids=[c[0] for c in IDX_REFUSED])
def test_bad_idx_sets_are_one_line(tmp_path, monkeypatch, capsys, case):
    _, stem, damage, words = case
    labels = np.where(np.arange(12) == 5, 255, LABELS) if stem is None else LABELS
    _idx_set(tmp_path / "raw", labels, None if stem is None else (stem, damage))
    project = _project(tmp_path, {"source": "idx", "root": "raw"})
    code, stderr = _prepare(project, monkeypatch, capsys)
    _assert_refused(project, code, stderr, words)


def test_truncated_cifar_batch_is_one_line(tmp_path, monkeypatch, capsys):
    write_cifar10(tmp_path / "raw", per_batch=2)
    batch = tmp_path / "raw/cifar-10-batches-py/data_batch_3"
    batch.write_bytes(batch.read_bytes()[:500])
    project = _project(tmp_path, {"source": "cifar10", "root": "raw"})
    code, stderr = _prepare(project, monkeypatch, capsys)
    _assert_refused(project, code, stderr, "data_batch_3: not a CIFAR-10 python batch, truncated or corrupted")


def test_deeply_nested_yaml_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "params.yaml").write_text("experiments: " + "[" * 5000 + "]" * 5000 + "\n")
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 2
    stderr = capsys.readouterr().err.strip()
    assert "\n" not in stderr and stderr.startswith("evosynth: error: params.yaml: nested ")


# ------------------------------------------------------------- what is accepted, prepared exactly
ACCEPTED = [  # (id, pixels, the uint8 pixels expected)
    ("uint8", np.array([0, 7, 255], np.uint8), [0, 7, 255]),
    ("int64 in 0..255", np.array([0, 7, 255], np.int64), [0, 7, 255]),
    ("uint16 in 0..255", np.array([3, 200, 255], np.uint16), [3, 200, 255]),
    ("binary integers", np.array([0, 1, 1], np.int32), [0, 255, 255]),
    ("bool", np.array([False, True, True]), [0, 255, 255]),
    ("floats in [0, 1]", np.array([0.0, 0.5, 1.0], np.float32), [0, 128, 255]),
    ("whole floats 0..255", np.array([0.0, 17.0, 255.0]), [0, 17, 255]),
]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted_pixels_are_prepared_exactly(case):
    _, pixels, expected = case
    assert as_uint8(pixels, "x").tolist() == expected


def _old_as_uint8(x: np.ndarray) -> np.ndarray:
    """The conversion before the input checks (clipping included), for the inputs it got right."""
    if x.dtype == np.uint8:
        return x
    x = np.asarray(x, dtype=np.float64)
    top = 1.0 if x.max() <= 1.0 else 255.0
    return np.clip(np.rint(x / top * 255.0), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("make", [
    lambda: RNG.random((50, 8, 8)),
    lambda: RNG.random((50, 8, 8)).astype(np.float32),
    lambda: RNG.integers(0, 256, (50, 8, 8)),
    lambda: RNG.integers(0, 256, (50, 8, 8)).astype(np.float64),
    lambda: RNG.integers(0, 2, (50, 8, 8)),
    lambda: RNG.random((50, 8, 8)) > 0.5,
], ids=["float64 [0,1]", "float32 [0,1]", "int64 0..255", "whole floats", "binary ints", "bool"])
def test_accepted_inputs_are_prepared_bit_for_bit_as_before(make):
    x = make()
    assert np.array_equal(as_uint8(x, "x"), _old_as_uint8(x))


def test_a_good_npz_prepares_with_card_and_provenance(tmp_path, monkeypatch, capsys):
    np.savez(tmp_path / "mine.npz", **_same_for_train_and_test(lambda n: RNG.random((n, 8, 8)).astype(np.float32)))
    project = _project(tmp_path, {"source": "npz", "root": "mine.npz"})
    code, stderr = _prepare(project, monkeypatch, capsys)
    assert code == 0, stderr
    assert sorted(p.name for p in (project / "out").iterdir()) == ["mine.card.json", "mine.npz", "mine.provenance.json",
                                                                  "mine.run.json"]


def test_prepare_writes_the_prepared_file_only_with_its_card(tmp_path, monkeypatch):
    import evosynth.data.sources as sources

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    np.savez(tmp_path / "mine.npz", **_npz())
    monkeypatch.setattr(sources, "write_json", full_disk)  # the card cannot be written
    with pytest.raises(OSError):
        prepare({"source": "npz", "root": str(tmp_path / "mine.npz")}, tmp_path / "p.npz", tmp_path / "p.card.json")
    assert not (tmp_path / "p.npz").exists()

