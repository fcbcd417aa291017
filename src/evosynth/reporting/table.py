"""A paper-style table: columns, quoted and measured rows kept apart, Markdown and CSV (docs/method.md §11.1).

A number copied from a paper and a number we measured are different types:
a :class:`QuotedRow` holds the paper's printed text verbatim and the table it
was copied from; a :class:`MeasuredRow` holds our values and the artifact they
came from. Each checks its own ``source`` on construction, :func:`build_table`
accepts quoted rows only as quotes and measured rows only as measurements, and
every rendered table carries a ``source`` and a ``reference`` column.

The builders are in :mod:`evosynth.reporting.stressednets`, :mod:`evosynth.reporting.cluster`
and :mod:`evosynth.reporting.selection`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from evosynth.artifacts import write_text

# Written by hand, not with pandas: every cell's text must be exact and stable (quotes verbatim, own formats).

Cell = str | int | float | None
#: A row written by :mod:`evosynth.analysis.metrics` (``generation``, ``accuracy`` as a fraction, ...).
Metrics = Mapping[str, Any]


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


def build_table(
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


#: Accuracy in percent, shared by the cluster tables and the baseline comparison.
ACCURACY = Column("accuracy_percent", "accuracy %", "{:.2f}")


def quote(method: str, citation: str, columns: tuple[Column, ...], *cells: str | None) -> QuotedRow:
    """A quoted row whose printed ``cells`` fill ``columns`` in order."""
    return QuotedRow(method, dict(zip((c.key for c in columns), cells, strict=True)), citation)
