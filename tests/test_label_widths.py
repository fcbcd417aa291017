"""Labels of every integer width are checked in their own width before the cast to int64, and the
classes are counted without an array as long as the largest label: a uint64 2**64 - 1 must not wrap
to -1, a label 2**40 must not ask for 8 TiB; either is refused in one line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from fixtures_prepare import assert_one_line_refusal, prepare_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from evosynth.data.sources import prepare
from evosynth.errors import DataError

WIDTHS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


def _huge(dtype: type, k: int) -> list[int]:
    """Labels that leave class K without an image, as large as ``dtype`` allows: K + 1, 2**40, 2**63 - 1, its
    maximum."""
    top = int(np.iinfo(dtype).max)
    return sorted({v for v in (k + 1, k + 3, 2**40, 2**63 - 1, top) if v <= top})


def _npz(path: Path, y_train: np.ndarray, y_test: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (len(y_train), 4, 4), dtype=np.uint8), y_train=y_train,
             x_test=rng.integers(0, 256, (len(y_test), 4, 4), dtype=np.uint8), y_test=y_test)
    return path


@settings(max_examples=100, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(WIDTHS), k=st.integers(2, 5),
       extra=st.lists(st.integers(0, 4), max_size=6), spoil=st.sampled_from([None, "y_train", "y_test"]))
def test_labels_of_any_width_are_prepared_exactly_or_refused_in_one_line(data, dtype, k, extra, spoil):
    y_train = np.array(list(range(k)) + [v % k for v in extra], dtype=dtype)
    y_train = y_train[np.random.default_rng(len(extra)).permutation(len(y_train))]
    y_test = np.array([v % k for v in extra[:3]] + [k - 1], dtype=dtype)
    if spoil:
        labels = y_train if spoil == "y_train" else y_test
        negative = [int(np.iinfo(dtype).min), -1] if np.iinfo(dtype).min < 0 else []
        bad = data.draw(st.sampled_from(_huge(dtype, k) + negative))
        labels[data.draw(st.integers(0, len(labels) - 1))] = bad
    with tempfile.TemporaryDirectory() as tmp:
        spec = {"source": "npz", "root": str(_npz(Path(tmp) / "mine.npz", y_train, y_test))}
        if spoil:
            with pytest.raises(DataError) as caught:
                prepare(spec, Path(tmp) / "p.npz", Path(tmp) / "p.json")
            message = str(caught.value)
            assert "\n" not in message and message.startswith(f"{spoil}: "), message
            assert not (Path(tmp) / "p.npz").exists()
            return
        card = prepare(spec, Path(tmp) / "p.npz", Path(tmp) / "p.json")
        with np.load(Path(tmp) / "p.npz") as prepared:
            assert prepared["y_train"].dtype == np.int64 and prepared["y_train"].tolist() == y_train.tolist()
            assert prepared["y_test"].tolist() == y_test.tolist()
    assert card["num_classes"] == k and card["train"]["per_class"] == np.bincount(y_train.astype(np.int64)).tolist()


@pytest.mark.parametrize("dtype, label, words", [
    (np.uint64, 2**64 - 1, "y_train: uint64 label 18446744073709551615 does not fit int64"),
    (np.int64, 2**40, "so the network would get 1099511627777 outputs"),
    (np.uint32, 2**32 - 1, "so the network would get 4294967296 outputs"),
], ids=["uint64 2**64-1", "2**40", "uint32 max"])
def test_the_issues_labels_are_one_line(tmp_path, monkeypatch, capsys, dtype, label, words):
    y_train = np.array([0, 1, 2, 0, 1, label], dtype=dtype)
    _npz(tmp_path / "mine.npz", y_train, np.array([0, 1, 2], dtype=dtype))
    code, stderr = prepare_cli(tmp_path, {"source": "npz", "root": "mine.npz"}, monkeypatch, capsys)
    assert_one_line_refusal(tmp_path, code, stderr, words)

