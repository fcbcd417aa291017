"""What a classification dataset must look like to be prepared: no conversion may lose information.

The prepared format stores images as uint8 and labels as int64 (:mod:`evosynth.data.prepared`).
A source's arrays are converted only where that is exact, or an 8-bit quantisation of
[0, 1] floats (the usual convention, documented in docs/):

======================  ==========================================================
pixels found            prepared as
======================  ==========================================================
uint8                   as they are
other integers, 0..255  the same values (any value outside: refused); a set of
                        only 0 and 1 is binary: 1 → 255, as bool
bool                    False → 0, True → 255
floats in [0, 1]        ``rint(x · 255)``, 8-bit quantisation (the earlier behaviour)
floats, whole 0..255    the same values
anything else           refused: negative or > 255 values, fractional values above 1,
                        NaN/inf, complex, strings
======================  ==========================================================

Labels must be integers 0..K-1 with every class present in the training set (at
least two classes), and the test set may use only those classes: the network gets
K outputs (EvoNet trains a K-way softmax), so a stray label 255 would make it 256-way
and a one-class set would train to 100 % accuracy without learning anything.
Labels of any integer width are compared in their own width before the cast to
int64 (a uint64 2**64 - 1 would wrap to -1), and the classes are counted without
an array as long as the largest label (a label 2**40 would ask for 8 TiB).
Every refusal is one line naming the array, what was found and what is accepted.
"""

from __future__ import annotations

import numpy as np

from evosynth.errors import DataError

ACCEPTED_PIXELS = "accepted: uint8, integers 0..255, bool, floats in [0, 1] or whole-number floats 0..255"
ACCEPTED_LABELS = "accepted: integers 0..K-1 with every class in y_train (at least 2 classes)"


def _span(x: np.ndarray) -> str:
    lo, hi = x.min(), x.max()
    if np.issubdtype(x.dtype, np.floating):
        return f"[{lo:.4g}, {hi:.4g}]"
    return f"{lo}..{hi}"


def as_uint8(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as uint8 pixels, or a DataError if that would change any value (see the table above)."""
    kind = x.dtype.kind
    if kind not in "biuf":
        raise DataError(f"{name}: {x.dtype} pixels ({_kind_name(kind)}) cannot be stored as 8-bit images"
                        f" without losing information; {ACCEPTED_PIXELS}")
    if x.size == 0:
        raise DataError(f"{name}: no images (shape {x.shape}); accepted: at least one image per split")
    if x.dtype == np.uint8:
        return x
    if kind in "iu" and (x.min() < 0 or x.max() > 255):
        outside = int(np.count_nonzero((x < 0) | (x > 255)))
        raise DataError(f"{name}: {x.dtype} pixels range {_span(x)}, {outside / x.size:.1%} of them outside"
                        f" 0..255 (they would be clipped); {ACCEPTED_PIXELS}")
    if kind in "biu":
        binary = x.max() <= 1
        return x.astype(np.uint8) * np.uint8(255 if binary else 1)
    if not np.isfinite(x).all():
        raise DataError(f"{name}: images contain NaN or infinite values; {ACCEPTED_PIXELS}")
    x = np.asarray(x, dtype=np.float64)
    if x.min() < 0:
        raise DataError(f"{name}: float pixels range {_span(x)}, negative values would be clipped to 0"
                        f" (rescale to [0, 1] first, e.g. (x + 1) / 2 for [-1, 1]); {ACCEPTED_PIXELS}")
    if x.max() <= 1.0:
        return np.rint(x * 255.0).astype(np.uint8)
    if x.max() > 255:
        raise DataError(f"{name}: float pixels range {_span(x)}, values above 255 would be clipped; {ACCEPTED_PIXELS}")
    if (x != np.rint(x)).any():
        raise DataError(f"{name}: float pixels range {_span(x)} with fractional values above 1, neither [0, 1]"
                        f" nor whole numbers 0..255 (the scale is ambiguous); {ACCEPTED_PIXELS}")
    return x.astype(np.uint8)


def _kind_name(kind: str) -> str:
    return {"c": "complex: the imaginary part would be lost", "U": "strings", "S": "bytes", "O": "objects",
            "M": "dates", "m": "time spans", "V": "records"}.get(kind, "not numbers")


def as_labels(y: np.ndarray, name: str) -> np.ndarray:
    """``y`` as a flat int64 vector of non-negative integers, or a DataError saying what was found."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        whole = y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.rint(y)).all()
        hint = " (whole numbers stored as floats: save them as integers)" if whole else ""
        raise DataError(f"{name}: {y.dtype} labels{hint}; {ACCEPTED_LABELS}")
    if y.ndim > 1 and y.size != len(y):
        raise DataError(f"{name}: labels of shape {y.shape}, one per image expected (one-hot?); {ACCEPTED_LABELS}")
    y = y.reshape(-1)
    if y.size and y.min() < 0:
        raise DataError(f"{name}: negative labels (smallest {y.min()}); {ACCEPTED_LABELS}")
    if y.size and y.max() > np.iinfo(np.int64).max:  # compared in the labels' own width, before any cast
        raise DataError(f"{name}: {y.dtype} label {y.max()} does not fit int64 (a cast would wrap it to a"
                        f" negative number); {ACCEPTED_LABELS}")
    return y.astype(np.int64)


def _listed(values: np.ndarray, limit: int = 6) -> str:
    shown = ", ".join(str(int(v)) for v in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")


def _first_absent(present: np.ndarray, limit: int = 6) -> np.ndarray:
    """The ``limit`` smallest non-negative integers not in the sorted, distinct ``present``."""
    absent: list[int] = []
    expected = 0
    for value in present.tolist():
        absent.extend(range(expected, min(value, expected + limit - len(absent))))
        if len(absent) >= limit:
            break
        expected = value + 1
    return np.asarray(absent[:limit], dtype=np.int64)


def check_classes(y_train: np.ndarray, y_test: np.ndarray) -> int:
    """The number of classes K, after checking the labels are 0..K-1, all in y_train, and K >= 2."""
    present = np.unique(y_train)
    if len(present) < 2:
        raise DataError(f"y_train: only one class ({_listed(present)}) in the training set: a network would"
                        f" reach 100 % accuracy without learning; {ACCEPTED_LABELS}")
    k = int(present[-1]) + 1
    if k != len(present):  # some of 0..k-1 absent; listed without an arange over k (a label 2**40 is 8 TiB)
        absent = _first_absent(present)
        more = f", … ({k - len(present)} in all)" if k - len(present) > len(absent) else ""
        raise DataError(f"y_train: labels {_listed(present)} are not 0..K-1: classes {_listed(absent)}{more} have"
                        f" no training image, so the network would get {k} outputs; {ACCEPTED_LABELS}")
    unseen = np.setdiff1d(np.unique(y_test), present)
    if len(unseen):
        raise DataError(f"y_test: labels {_listed(unseen)} never occur in y_train (classes 0..{k - 1});"
                        f" {ACCEPTED_LABELS}")
    return k
