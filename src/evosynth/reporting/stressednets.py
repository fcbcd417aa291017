"""StressedNets Tables 1-4: the paper's rows quoted as printed, builders adding ours (docs/method.md §11.2).

Tables 1-3 put the paper's (and the literature's) rows, quoted, above our
measured ones; Table 4 is measured only. The measured rows are
:class:`~evosynth.reporting.table.MeasuredRow` objects, usually from
:meth:`~evosynth.reporting.table.MeasuredRow.from_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from evosynth.reporting.table import Cell, Column, MeasuredRow, QuotedRow, Table, build_table, quote

#: Short name of the paper quoted (docs/method.md §1.1).
_STRESSEDNETS = "StressedNets"

WEIGHTS = Column("weights_percent", "|W≠0|/|W| %", "{:.2f}")
ERROR = Column("error_percent", "error %", "{:.2f}")
ARCHITECTURE = Column("architecture", "architecture", numeric=False)
MODEL_SIZE = Column("model_size_mb", "model size (MB)", "{:.3f}")

_TABLE1 = (WEIGHTS, ERROR, ARCHITECTURE)
_VIA_40 = f"{_STRESSEDNETS} Table 1 (MNIST), taken there from Louizos et al. [40]"

#: StressedNets Table 1, every row as printed ("NA": no architecture given).
STRESSEDNETS_TABLE1 = (
    quote("DC [28]", f"{_VIA_40}; DC = Deep Compression, Han et al. [28]", _TABLE1, "8.0", "0.7", "NA"),
    quote(
        "DNS [29]", f"{_VIA_40}; DNS = Dynamic Network Surgery, Guo et al. [29]", _TABLE1, "0.9", "0.9", "NA"
    ),
    quote(
        "SWS [39]", f"{_VIA_40}; SWS = Soft Weight Sharing, Ullrich et al. [39]", _TABLE1, "0.5", "1.0", "NA"
    ),
    quote(
        "Sparse VD [33]",
        f"{_VIA_40}; Sparse Variational Dropout, Molchanov et al. [33]",
        _TABLE1,
        "0.7",
        "1.0",
        "14-19-242-131",
    ),
    quote(
        "BC-GNJ [40]",
        f"{_VIA_40}; Bayesian Compression, group normal-Jeffreys prior",
        _TABLE1,
        "0.9",
        "1.0",
        "8-13-88-13",
    ),
    quote(
        "BC-GHS [40]",
        f"{_VIA_40}; Bayesian Compression, group horseshoe prior",
        _TABLE1,
        "0.6",
        "1.0",
        "5-10-76-16",
    ),
    quote("StressedNet#1", f"{_STRESSEDNETS} Table 1 (generation 14)", _TABLE1, "0.8", "1.2", "4-7-112-24"),
    quote("StressedNet#2", f"{_STRESSEDNETS} Table 1 (generation 23)", _TABLE1, "0.3", "1.6", "4-5-80-12"),
)

_TABLE2 = (MODEL_SIZE, WEIGHTS, ERROR, ARCHITECTURE)

#: StressedNets Table 2 (AlexNet, CIFAR-10), as printed.
STRESSEDNETS_TABLE2 = (
    quote(
        "AlexNet",
        f"{_STRESSEDNETS} Table 2 (CIFAR-10)",
        _TABLE2,
        "30.979",
        "100",
        "13.4",
        "96-256-384-384-256-4096-4096",
    ),
    quote(
        "StressedNet",
        f"{_STRESSEDNETS} Table 2 (CIFAR-10, generation 8)",
        _TABLE2,
        "0.820",
        "2.5",
        "15.3",
        "18-39-58-60-40-640-64",
    ),
)

_TABLE3 = (
    MODEL_SIZE,
    Column("fps", "FPS", "{:.2f}"),
    Column("speed_up", "speed-up", "{:.2f}×"),
    Column("accuracy_percent", "accuracy % (AP % for detection)", "{:.2f}", numeric=False),
    Column("host", "device", numeric=False),
)
_AP = "AP car {} / {} / {}, pedestrian {} / {} / {} (easy / moderate / hard)"

#: StressedNets Table 3 (YOLOv2, KITTI, Nvidia Tegra X1); the 5.5× speed-up is stated in §4.1.3.
STRESSEDNETS_TABLE3 = (
    quote(
        "YOLOv2",
        f"{_STRESSEDNETS} Table 3 (KITTI)",
        _TABLE3,
        "184",
        "2.45",
        None,
        _AP.format("93.47", "85.19", "77.54", "78.78", "76.84", "69.46"),
        "Nvidia Tegra X1",
    ),
    quote(
        "StressedNet",
        f"{_STRESSEDNETS} Table 3 (KITTI, generation 70) and §4.1.3",
        _TABLE3,
        "5.5",
        "13.43",
        "5.5",
        _AP.format("94.72", "86.06", "79.16", "78.87", "75.55", "68.96"),
        "Nvidia Tegra X1",
    ),
)


def stressednets_table1(
    measured: Sequence[MeasuredRow], quoted: Sequence[QuotedRow] = STRESSEDNETS_TABLE1
) -> Table:
    """StressedNets Table 1: |W≠0|/|W| %, error %, architecture; literature quoted, ours measured."""
    return build_table("StressedNets Table 1: LeNet5-Caffe (20-50-800-500)", _TABLE1, quoted, measured)


def stressednets_table2(
    measured: Sequence[MeasuredRow], quoted: Sequence[QuotedRow] = STRESSEDNETS_TABLE2
) -> Table:
    """StressedNets Table 2 layout: model size MB, |W≠0|/|W| %, error %, architecture."""
    return build_table("StressedNets Table 2: AlexNet on CIFAR-10", _TABLE2, quoted, measured)


def stressednets_table3(
    ancestor: MeasuredRow,
    synthesized: Sequence[MeasuredRow],
    quoted: Sequence[QuotedRow] = STRESSEDNETS_TABLE3,
) -> Table:
    """StressedNets Table 3 layout: model size, FPS, speed-up over ``ancestor``, accuracy, device.

    Measured rows need ``fps`` (batch 1), ``model_size_mb`` and ``host`` from the runtime stage.
    """
    rows = [ancestor, *synthesized]
    if any("fps" not in row.values for row in rows):
        raise ValueError("every runtime row needs 'fps'")
    measured = [
        replace(row, values={**row.values, "speed_up": row.values["fps"] / ancestor.values["fps"]})
        for row in rows
    ]
    return build_table(
        "StressedNets Table 3: runtime, ancestor vs synthesized",
        _TABLE3,
        quoted,
        measured,
        ("Speed-ups are relative to the first row of the same source and device.",),
    )


def stressednets_table4(
    per_class: Mapping[str, Sequence[float]], class_counts: Sequence[int], origin: str
) -> Table:
    """StressedNets Table 4 layout: 1-NN accuracy % per class and in total, one row per feature set.

    ``per_class`` maps a feature set (a network, or "PCA-k of the ancestor")
    to :func:`evosynth.analysis.features.nearest_neighbour_per_class_accuracy`; the
    total weights each class by its ``class_counts`` test samples. The paper's
    own values are not in the text we hold, so nothing is quoted.
    """
    classes = tuple(Column(f"class_{c}", str(c), "{:.2f}") for c in range(len(class_counts)))

    def row(name: str, accuracies: Sequence[float]) -> MeasuredRow:
        present = [(a, n) for a, n in zip(accuracies, class_counts, strict=True) if n > 0]
        values: dict[str, Cell] = {
            c.key: None if math.isnan(a) else 100.0 * a for c, a in zip(classes, accuracies, strict=True)
        }
        values["total"] = 100.0 * sum(a * n for a, n in present) / sum(n for _, n in present)
        return MeasuredRow(name, values, origin)

    return build_table(
        "StressedNets Table 4: 1-NN accuracy % of last-hidden-layer features",
        (*classes, Column("total", "total", "{:.2f}")),
        (),
        [row(name, accuracies) for name, accuracies in per_class.items()],
    )
