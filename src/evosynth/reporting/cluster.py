"""The cluster-driven genetic encoding paper's Tables 1-6: generation, A-E, C-E, accuracy (docs/method.md §11.2)."""

from __future__ import annotations

from collections.abc import Sequence

from evosynth.reporting.selection import with_efficiencies
from evosynth.reporting.table import (
    ACCURACY,
    Column,
    MeasuredRow,
    Metrics,
    QuotedRow,
    Table,
    build_table,
    quote,
)

#: Short name of the paper quoted (docs/method.md §1.1).
_CLUSTER = "cluster-driven genetic encoding paper"

_CLUSTER_COLUMNS = (
    Column("generation", "Gen."),
    Column("synaptic_efficiency", "A-E", "{:.2f}×"),
    Column("cluster_efficiency", "C-E", "{:.2f}×"),
    ACCURACY,
)
_CLUSTER_MNIST = f"{_CLUSTER}, Tables 1 (A-E, ACC.) and 4 (C-E), MNIST - LeNet-5"

#: Cluster paper Tables 1 and 4, MNIST - LeNet-5, as printed; the paper's generation 1 is the ancestor.
CLUSTER_MNIST_LENET5 = (
    quote("cluster-driven (paper)", _CLUSTER_MNIST, _CLUSTER_COLUMNS, "1", "1.00X", "1.00X", "99.47"),
    quote("cluster-driven (paper)", _CLUSTER_MNIST, _CLUSTER_COLUMNS, "5", "5.20X", None, "99.41"),
    quote("cluster-driven (paper)", _CLUSTER_MNIST, _CLUSTER_COLUMNS, "7", "12.09X", None, "99.28"),
    quote("cluster-driven (paper)", _CLUSTER_MNIST, _CLUSTER_COLUMNS, "11", "62.74X", None, "98.49"),
    quote("cluster-driven (paper)", _CLUSTER_MNIST, _CLUSTER_COLUMNS, "13", "125.09X", "9.71X", "97.75"),
)


def cluster_table(
    method: str, rows: Sequence[Metrics], origin: str, quoted: Sequence[QuotedRow] = CLUSTER_MNIST_LENET5
) -> Table:
    """Cluster paper Tables 1-6 layout: generation, A-E, C-E, accuracy, one row per generation."""
    measured = [MeasuredRow.from_metrics(method, row, origin) for row in with_efficiencies(rows)]
    notes = ("The cluster paper numbers the ancestor generation 1; evosynth numbers it 0.",) if quoted else ()
    return build_table(
        f"{method}: efficiency and accuracy by generation", _CLUSTER_COLUMNS, quoted, measured, notes
    )


_KITTI_COLUMNS = (
    Column("generation", "Gen."),
    Column("synaptic_efficiency", "A-E", "{:.2f}X"),
    Column("cluster_efficiency", "C-E", "{:.2f}X"),
    Column("precision_percent", "Precision", "{:.2f}"),
    Column("recall_percent", "Recall", "{:.2f}"),
    Column("ap_car_moderate", "AP car (moderate)", "{:.4f}"),
)
_CLUSTER_KITTI = f"{_CLUSTER}, Table 3, KITTI - DetectNet"

#: Cluster paper Table 3 (KITTI cars, DetectNet), as printed; Table 6's C-E (~8.16X at generation 11)
#: is given in the text only, so it is a note, not a quoted cell.
CLUSTER_KITTI_DETECTNET = (
    quote("cluster-driven (paper)", _CLUSTER_KITTI, _KITTI_COLUMNS, "1", "1.00X", None, "78.03", "62.03", None),
    quote("cluster-driven (paper)", _CLUSTER_KITTI, _KITTI_COLUMNS, "7", "2.48X", None, "81.93", "69.31", None),
    quote("cluster-driven (paper)", _CLUSTER_KITTI, _KITTI_COLUMNS, "10", "5.24X", None, "81.36", "67.57", None),
    quote("cluster-driven (paper)", _CLUSTER_KITTI, _KITTI_COLUMNS, "11", "9.97X", None, "78.84", "63.73", None),
)


def detectnet_table(method: str, rows: Sequence[Metrics], origins: Sequence[str]) -> Table:
    """Cluster paper Table 3 layout (and Table 6's C-E): DetectNet on KITTI, quoted beside measured."""
    measured = []
    for row, origin in zip(with_efficiencies(rows), origins, strict=True):
        values = dict(row)
        for key in ("precision", "recall"):
            value = row.get(f"{key}_car")
            values[f"{key}_percent"] = None if value is None else 100.0 * value
        measured.append(MeasuredRow.from_metrics(method, values, origin))
    notes = ("The cluster paper numbers the ancestor generation 1; evosynth numbers it 0.",
             "Table 6 (text): C-E ~8.16X at generation 11. Precision and recall: cars, IoU 0.7, clustered boxes.")
    return build_table(f"{method}: KITTI cars, DetectNet, by generation", _KITTI_COLUMNS, CLUSTER_KITTI_DETECTNET,
                       measured, notes)
