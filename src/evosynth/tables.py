"""Paper-style tables from per-generation metrics, quoted rows kept apart (DESIGN.md §4).

A number copied from a paper and a number we measured are different types:
a :class:`QuotedRow` holds the paper's printed text verbatim and the table it
was copied from; a :class:`MeasuredRow` holds our values and the artifact they
came from. Each checks its own ``source`` on construction, the builders accept
quoted rows only as quotes and measured rows only as measurements, and every
rendered table carries a ``source`` and a ``reference`` column.

The rows the builders read are the dicts written by :mod:`evosynth.metrics`
(``generation``, ``accuracy`` as a fraction, ``synapses``, ``kernels``, ...).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from evosynth.artifacts import write_text

Cell = str | int | float | None
Metrics = Mapping[str, Any]

#: Accuracy comparisons allow this much float noise, so "exactly at the tolerance" counts as within.
_EPSILON = 1e-9

#: Short names of the papers quoted (DESIGN.md's papers/stressednets-stress-induced-synthesis.txt
#: and papers/cluster-driven-genetic-encoding.txt).
_STRESSEDNETS = "StressedNets"
_CLUSTER = "cluster-driven genetic encoding paper"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    fmt: str = "{}"
    numeric: bool = True

    def render(self, value: Cell) -> str:
        """Quoted text verbatim, numbers through ``fmt``, a missing value as –."""
        if value is None:
            return "–"
        return value if isinstance(value, str) else self.fmt.format(value)


def _check_row(row: QuotedRow | MeasuredRow, expected: str, reference: str) -> None:
    if row.source != expected:
        raise ValueError(f"a {type(row).__name__} has source {expected!r}, got {row.source!r}")
    if not row.method or not reference:
        raise ValueError(
            f"a {expected} row needs a method name and a reference, got {row.method!r}, {reference!r}"
        )
    object.__setattr__(row, "values", MappingProxyType(dict(row.values)))


@dataclass(frozen=True)
class QuotedRow:
    """Cells copied from a paper as printed (text, never re-typed numbers) and where they are printed."""

    method: str
    values: Mapping[str, str | None]
    citation: str
    source: Literal["quoted"] = "quoted"

    def __post_init__(self) -> None:
        _check_row(self, "quoted", self.citation)
        if any(v is not None and not isinstance(v, str) for v in self.values.values()):
            raise TypeError(f"quoted cells are the paper's printed text, got {dict(self.values)}")

    @property
    def reference(self) -> str:
        return self.citation


@dataclass(frozen=True)
class MeasuredRow:
    """Values we measured, and the artifact (run, metrics file) they were read from."""

    method: str
    values: Mapping[str, Cell]
    origin: str
    source: Literal["measured"] = "measured"

    def __post_init__(self) -> None:
        _check_row(self, "measured", self.origin)

    @property
    def reference(self) -> str:
        return self.origin

    @classmethod
    def from_metrics(cls, method: str, metrics: Metrics, origin: str) -> MeasuredRow:
        """The scalar entries of a metrics dict, plus ``accuracy_percent``."""
        values = {k: v for k, v in metrics.items() if v is None or isinstance(v, (str, int, float))}
        if "accuracy" in metrics:
            values["accuracy_percent"] = 100.0 * metrics["accuracy"]
        return cls(method, values, origin)


Row = QuotedRow | MeasuredRow


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        keys = {c.key for c in self.columns}
        if keys & {"method", "source", "reference"}:
            raise ValueError("method, source and reference are the table's own columns")
        for row in self.rows:
            if not isinstance(row, (QuotedRow, MeasuredRow)):
                raise TypeError(f"table rows are QuotedRow or MeasuredRow, got {type(row).__name__}")
            if isinstance(row, QuotedRow) and not set(row.values) <= keys:
                raise ValueError(
                    f"quoted row {row.method!r} has cells {sorted(set(row.values) - keys)} not in the table"
                )

    def records(self) -> list[dict[str, Cell]]:
        """One dict per row: method, the columns' values, source and reference."""
        return [
            {
                "method": row.method,
                **{c.key: row.values.get(c.key) for c in self.columns},
                "source": row.source,
                "reference": row.reference,
            }
            for row in self.rows
        ]

    def markdown(self) -> str:
        def cells(parts: list[str]) -> str:
            return "| " + " | ".join(p.replace("|", "\\|") for p in parts) + " |"

        header = cells(["method", *(c.title for c in self.columns), "source", "reference"])
        rule = "|:---|" + "".join("---:|" if c.numeric else ":---|" for c in self.columns) + ":---|:---|"
        body = [
            cells(
                [
                    row.method,
                    *(c.render(row.values.get(c.key)) for c in self.columns),
                    row.source,
                    row.reference,
                ]
            )
            for row in self.rows
        ]
        notes = "".join(f"- {note}\n" for note in self.notes)
        return (
            f"**{self.title}**\n\n"
            + "\n".join([header, rule, *body])
            + "\n"
            + ("\n" + notes if notes else "")
        )

    def csv(self) -> str:
        buffer = io.StringIO()
        fields = ["method", *(c.key for c in self.columns), "source", "reference"]
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records())
        return buffer.getvalue()

    def write(self, markdown_path: str | Path, csv_path: str | Path) -> None:
        write_text(markdown_path, self.markdown())
        write_text(csv_path, self.csv())


def _table(
    title: str,
    columns: tuple[Column, ...],
    quoted: Sequence[QuotedRow],
    measured: Sequence[MeasuredRow],
    notes: tuple[str, ...] = (),
) -> Table:
    """Quoted rows first, then measured ones; each accepted only in its own role."""
    if not all(isinstance(row, QuotedRow) for row in quoted):
        raise TypeError("only QuotedRow objects can be passed as quoted rows")
    if not all(isinstance(row, MeasuredRow) for row in measured):
        raise TypeError("only MeasuredRow objects can be passed as measured rows")
    return Table(title, columns, (*quoted, *measured), notes)


# --- StressedNets Tables 1-4 -------------------------------------------------------------

WEIGHTS = Column("weights_percent", "|W≠0|/|W| %", "{:.2f}")
ERROR = Column("error_percent", "error %", "{:.2f}")
ARCHITECTURE = Column("architecture", "architecture", numeric=False)
MODEL_SIZE = Column("model_size_mb", "model size (MB)", "{:.3f}")
ACCURACY = Column("accuracy_percent", "accuracy %", "{:.2f}")


def _quote(method: str, citation: str, columns: tuple[Column, ...], *cells: str | None) -> QuotedRow:
    return QuotedRow(method, dict(zip((c.key for c in columns), cells, strict=True)), citation)


_TABLE1 = (WEIGHTS, ERROR, ARCHITECTURE)
_VIA_40 = f"{_STRESSEDNETS} Table 1 (MNIST), taken there from Louizos et al. [40]"

#: StressedNets Table 1, every row as printed ("NA": no architecture given).
STRESSEDNETS_TABLE1 = (
    _quote("DC [28]", f"{_VIA_40}; DC = Deep Compression, Han et al. [28]", _TABLE1, "8.0", "0.7", "NA"),
    _quote(
        "DNS [29]", f"{_VIA_40}; DNS = Dynamic Network Surgery, Guo et al. [29]", _TABLE1, "0.9", "0.9", "NA"
    ),
    _quote(
        "SWS [39]", f"{_VIA_40}; SWS = Soft Weight Sharing, Ullrich et al. [39]", _TABLE1, "0.5", "1.0", "NA"
    ),
    _quote(
        "Sparse VD [33]",
        f"{_VIA_40}; Sparse Variational Dropout, Molchanov et al. [33]",
        _TABLE1,
        "0.7",
        "1.0",
        "14-19-242-131",
    ),
    _quote(
        "BC-GNJ [40]",
        f"{_VIA_40}; Bayesian Compression, group normal-Jeffreys prior",
        _TABLE1,
        "0.9",
        "1.0",
        "8-13-88-13",
    ),
    _quote(
        "BC-GHS [40]",
        f"{_VIA_40}; Bayesian Compression, group horseshoe prior",
        _TABLE1,
        "0.6",
        "1.0",
        "5-10-76-16",
    ),
    _quote("StressedNet#1", f"{_STRESSEDNETS} Table 1 (generation 14)", _TABLE1, "0.8", "1.2", "4-7-112-24"),
    _quote("StressedNet#2", f"{_STRESSEDNETS} Table 1 (generation 23)", _TABLE1, "0.3", "1.6", "4-5-80-12"),
)

_TABLE2 = (MODEL_SIZE, WEIGHTS, ERROR, ARCHITECTURE)

#: StressedNets Table 2 (AlexNet, CIFAR-10), as printed.
STRESSEDNETS_TABLE2 = (
    _quote(
        "AlexNet",
        f"{_STRESSEDNETS} Table 2 (CIFAR-10)",
        _TABLE2,
        "30.979",
        "100",
        "13.4",
        "96-256-384-384-256-4096-4096",
    ),
    _quote(
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
    _quote(
        "YOLOv2",
        f"{_STRESSEDNETS} Table 3 (KITTI)",
        _TABLE3,
        "184",
        "2.45",
        None,
        _AP.format("93.47", "85.19", "77.54", "78.78", "76.84", "69.46"),
        "Nvidia Tegra X1",
    ),
    _quote(
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
    return _table("StressedNets Table 1: LeNet5-Caffe (20-50-800-500)", _TABLE1, quoted, measured)


def stressednets_table2(
    measured: Sequence[MeasuredRow], quoted: Sequence[QuotedRow] = STRESSEDNETS_TABLE2
) -> Table:
    """StressedNets Table 2 layout: model size MB, |W≠0|/|W| %, error %, architecture."""
    return _table("StressedNets Table 2: AlexNet on CIFAR-10", _TABLE2, quoted, measured)


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
    return _table(
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
    to :func:`evosynth.features.nearest_neighbour_per_class_accuracy`; the
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

    return _table(
        "StressedNets Table 4: 1-NN accuracy % of last-hidden-layer features",
        (*classes, Column("total", "total", "{:.2f}")),
        (),
        [row(name, accuracies) for name, accuracies in per_class.items()],
    )


# --- cluster paper Tables 1-6 -------------------------------------------------------------

_CLUSTER_COLUMNS = (
    Column("generation", "Gen."),
    Column("synaptic_efficiency", "A-E", "{:.2f}×"),
    Column("cluster_efficiency", "C-E", "{:.2f}×"),
    ACCURACY,
)
_CLUSTER_MNIST = f"{_CLUSTER}, Tables 1 (A-E, ACC.) and 4 (C-E), MNIST - LeNet-5"

#: Cluster paper Tables 1 and 4, MNIST - LeNet-5, as printed; the paper's generation 1 is the ancestor.
CLUSTER_MNIST_LENET5 = (
    _quote("cluster-driven (paper)", _CLUSTER_MNIST, _CLUSTER_COLUMNS, "1", "1.00X", "1.00X", "99.47"),
    _quote("cluster-driven (paper)", _CLUSTER_MNIST, _CLUSTER_COLUMNS, "5", "5.20X", None, "99.41"),
    _quote("cluster-driven (paper)", _CLUSTER_MNIST, _CLUSTER_COLUMNS, "7", "12.09X", None, "99.28"),
    _quote("cluster-driven (paper)", _CLUSTER_MNIST, _CLUSTER_COLUMNS, "11", "62.74X", None, "98.49"),
    _quote("cluster-driven (paper)", _CLUSTER_MNIST, _CLUSTER_COLUMNS, "13", "125.09X", "9.71X", "97.75"),
)


def _by_generation(rows: Sequence[Metrics]) -> list[Metrics]:
    ordered = sorted(rows, key=lambda r: r["generation"])
    if not ordered or ordered[0]["generation"] != 0:
        raise ValueError("the rows need generation 0, the ancestor everything is measured against")
    return ordered


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.inf


def with_efficiencies(rows: Sequence[Metrics]) -> list[dict[str, Any]]:
    """Rows by generation with A-E = synapses(0)/synapses(g) and C-E = kernels(0)/kernels(g).

    The cluster paper's definitions (architectural and cluster efficiency,
    §3), recomputed from the counts so that baseline runs are measured
    against their own generation 0 exactly as evolutionary runs are.
    """
    ordered = _by_generation(rows)
    first = ordered[0]
    return [
        {
            **row,
            "synaptic_efficiency": _ratio(first["synapses"], row["synapses"]),
            "cluster_efficiency": _ratio(first["kernels"], row["kernels"]),
        }
        for row in ordered
    ]


def cluster_table(
    method: str, rows: Sequence[Metrics], origin: str, quoted: Sequence[QuotedRow] = CLUSTER_MNIST_LENET5
) -> Table:
    """Cluster paper Tables 1-6 layout: generation, A-E, C-E, accuracy, one row per generation."""
    measured = [MeasuredRow.from_metrics(method, row, origin) for row in with_efficiencies(rows)]
    notes = ("The cluster paper numbers the ancestor generation 1; evosynth numbers it 0.",) if quoted else ()
    return _table(
        f"{method}: efficiency and accuracy by generation", _CLUSTER_COLUMNS, quoted, measured, notes
    )


# --- the synthesized network, Pareto fronts, baselines side by side -------------------------


def _within(accuracy: float, reference: float, tolerance: float) -> bool:
    return reference - accuracy <= tolerance + _EPSILON


def synthesized_generation(rows: Sequence[Metrics], tolerance: float) -> Metrics:
    """The last generation whose accuracy is at most ``tolerance`` below generation 0's.

    ``tolerance`` is absolute (0.01 = one percentage point: the papers' 1 %
    for LeNet5, 2 % for AlexNet, DESIGN.md §2); exactly at the boundary counts
    as within. A generation above the ancestor's accuracy always qualifies.
    """
    ordered = _by_generation(rows)
    reference = ordered[0]["accuracy"]
    return [row for row in ordered if _within(row["accuracy"], reference, tolerance)][-1]


def pareto_front(rows: Sequence[Metrics], cost: str, gain: str = "accuracy") -> list[Metrics]:
    """Rows no other row beats (lower or equal ``cost``, higher or equal ``gain``, one strictly), by cost."""

    def beaten(row: Metrics) -> bool:
        return any(
            o[cost] <= row[cost] and o[gain] >= row[gain] and (o[cost] < row[cost] or o[gain] > row[gain])
            for o in rows
        )

    return sorted((row for row in rows if not beaten(row)), key=lambda r: (r[cost], -r[gain]))


def _nearest(rows: Sequence[Metrics], synapses: int) -> Metrics:
    return min(rows, key=lambda r: (abs(r["synapses"] - synapses), r["generation"]))


def _axis_verdicts(
    axis: str, runs: Mapping[str, Sequence[Metrics]], reference: float, tolerance: float
) -> list[str]:
    """Sentences naming who needs the fewest ``axis`` within tolerance, and who holds the Pareto front."""
    best = {}
    for name, rows in runs.items():
        good = [r for r in rows if _within(r["accuracy"], reference, tolerance)]
        if good:
            best[name] = min(good, key=lambda r: (r[axis], -r["accuracy"]))
    lowest = min(r[axis] for r in best.values())
    winners = [name for name, r in best.items() if r[axis] == lowest]
    ranking = ", ".join(
        f"{name} {r[axis]:,} at {r['accuracy']:.2%}"
        for name, r in sorted(best.items(), key=lambda kv: kv[1][axis])
    )
    missing = [name for name in runs if name not in best]
    lead = " and ".join(winners) + (" tie" if len(winners) > 1 else " wins")
    sentence = (
        f"Living {axis}: {lead} — fewest {axis} at accuracy ≥ {reference - tolerance:.2%} (the"
        f" ancestor's {reference:.2%} less the tolerance): {ranking}"
        + (f"; never that accurate: {', '.join(missing)}" if missing else "")
        + "."
    )
    pooled = [{**row, "run": name} for name, rows in runs.items() for row in rows]
    front = pareto_front(pooled, axis)
    shares = ", ".join(f"{name} {sum(r['run'] == name for r in front)}" for name in runs)
    return [sentence, f"Pareto front of accuracy vs living {axis} ({len(front)} points): {shares}."]


def compare_to_baselines(
    runs: Mapping[str, Sequence[Metrics]],
    evolved: str,
    origins: Mapping[str, str],
    tolerance: float,
    axes: Sequence[str] = ("synapses", "filters"),
) -> Table:
    """Evolution against the baselines, side by side, with a verdict per axis.

    ``runs`` maps a run name (the evolutionary run ``evolved`` and each
    baseline) to its per-generation metric rows, all from the same ancestor;
    ``origins`` says where each run's metrics were read. For every evolved
    generation g ≥ 1 the table shows its row and, per baseline, the row with
    the nearest synapse count, with its accuracy difference in points. The
    notes name, per axis, the run with the fewest living units within
    ``tolerance`` of the ancestor's accuracy and who holds the Pareto front,
    and per baseline how often evolution is more accurate at matched synapses.
    Rows need ``generation``, ``accuracy``, ``synapses`` and each axis (for
    ``filters``, :func:`evosynth.baselines.living_filters`).
    """
    if evolved not in runs:
        raise ValueError(f"the evolutionary run {evolved!r} is not among the runs {sorted(runs)}")
    required = {"generation", "accuracy", "synapses", *axes}
    for name, rows in runs.items():
        missing = sorted({key for row in rows for key in required - set(row)})
        if missing or name not in origins:
            raise ValueError(f"run {name!r}: rows lack {missing} or its origin is not given")
    ordered = {name: _by_generation(rows) for name, rows in runs.items()}
    reference = ordered[evolved][0]["accuracy"]
    baselines = [name for name in runs if name != evolved]
    columns = (
        Column("matched_generation", f"{evolved} gen."),
        Column("generation", "own gen."),
        *(Column(key, f"living {key}", "{:,}") for key in dict.fromkeys(["synapses", *axes])),
        ACCURACY,
        Column("accuracy_delta", f"Δ acc. vs {evolved} (points)", "{:+.2f}"),
    )
    measured, wins = [], {name: [0, 0, 0] for name in baselines}
    for row in ordered[evolved][1:]:
        matched = [(evolved, row), *((name, _nearest(ordered[name], row["synapses"])) for name in baselines)]
        for name, other in matched:
            delta = 100.0 * (other["accuracy"] - row["accuracy"])
            values = {**other, "matched_generation": row["generation"], "accuracy_delta": delta}
            measured.append(
                MeasuredRow.from_metrics(name, values, f"{origins[name]} generation {other['generation']}")
            )
            if name != evolved:
                wins[name][(delta > 0) - (delta < 0) + 1] += 1  # [evolved more accurate, equal, less]
    notes = [sentence for axis in axes for sentence in _axis_verdicts(axis, ordered, reference, tolerance)]
    notes += [
        f"At the nearest synapse count, {evolved} is more accurate than {name} in {more} of"
        f" {more + same + less} generations, equal in {same}, less accurate in {less}."
        for name, (more, same, less) in wins.items()
    ]
    return _table(
        f"{evolved} against the baselines at matched synapse counts", columns, (), measured, tuple(notes)
    )
