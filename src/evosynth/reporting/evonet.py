"""EvoNet Tables I and II: synapses, architectural efficiency, Fβ and MAE by generation (EvoNet §III).

Table I scores every generation on MSRA-B's test part (the experiment's own
evaluate step), Table II on all of HKU-IS without retraining (the transfer
step, ``test_on`` in params.yaml). The paper's rows are quoted as printed;
EvoNet numbers the ancestor generation 1, evosynth numbers it 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evosynth.reporting.table import Column, MeasuredRow, Metrics, Table, build_table, quote

_EVONET = "EvoNet (Shafiee et al. 2016)"

COLUMNS = (
    Column("generation", "Gen."),
    Column("synapses", "number of synapses", "{:,}"),
    Column("synaptic_efficiency", "architectural efficiency", "{:.2f}X"),
    Column("f_beta", "Fβ score", "{:.3f}"),
    Column("mae", "MAE", "{:.4f}"),
)

_SYNAPSES = (("1", "63767232", "1X"), ("2", "15471797", "4.12X"), ("3", "3603007", "17.69X"),
             ("4", "1333010", "47.83X"))


def _quoted(table: str, scores: Sequence[tuple[str, str]]) -> tuple:
    return tuple(
        quote("EvoNet (paper)", f"{_EVONET}, Table {table}", COLUMNS, *size, *score)
        for size, score in zip(_SYNAPSES, scores, strict=True)
    )


#: EvoNet Table I (MSRA-B) and Table II (HKU-IS), as printed.
QUOTED = {
    "I": _quoted("I", [("0.875", "0.0743"), ("0.876", "0.0739"), ("0.861", "0.0813"), ("0.850", "0.0863")]),
    "II": _quoted("II", [("0.830", "0.0914"), ("0.826", "0.0911"), ("0.775", "0.1087"), ("0.753", "0.1190")]),
}

#: The quoted table of each saliency test set; another set gets no quoted rows.
QUOTED_BY_SOURCE = {"msra_b": "I", "hku_is": "II"}


def evonet_table(name: str, dataset: str, source: str, rows: Sequence[Metrics], origins: Sequence[str]) -> Table:
    """One EvoNet table: the paper's rows for ``source`` (if it printed one), then each generation measured."""
    number = QUOTED_BY_SOURCE.get(source)
    measured = [
        MeasuredRow.from_metrics(f"{name}" + (f" m{row['member']}" if row.get("member") is not None else ""),
                                 row, origin)
        for row, origin in sorted(zip(rows, origins, strict=True),
                                  key=lambda pair: (pair[0]["generation"], pair[0].get("member") or 0))
    ]
    title = f"{f'EvoNet Table {number}' if number else 'EvoNet'} on {dataset}: synapses, efficiency, Fβ and MAE"
    notes = ("EvoNet numbers the ancestor generation 1; evosynth numbers it 0.",
             "Fβ at the adaptive threshold (β² = 0.3), MAE over the prepared resolution (evosynth.tasks.saliency).")
    return build_table(title, COLUMNS, QUOTED[number] if number else (), measured, notes)


def evonet_tables(name: str, sets: Mapping[str, tuple[str, Sequence[Metrics], Sequence[str]]]) -> list[Table]:
    """Tables I, II, …: one per test set (dataset -> (source, metrics rows, their files)), in the given order."""
    return [evonet_table(name, dataset, source, rows, origins) for dataset, (source, rows, origins) in sets.items()]
