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
