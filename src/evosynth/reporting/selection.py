"""Picking from per-generation metrics: efficiencies, the synthesized network, Pareto fronts, baselines.

The rows read are the dicts written by :mod:`evosynth.analysis.metrics`
(``generation``, ``accuracy`` as a fraction, ``synapses``, ``kernels``, ...),
each run's generation 0 being the ancestor it is measured against. What
decides (which generation is a run's synthesized network, which run needs the
fewest units within the tolerance) reads the score named by ``key``:
:data:`evosynth.scores.DECISION`, the validation accuracy, for every caller in
the pipeline; what the tables show is the test ``accuracy``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from evosynth.reporting.table import ACCURACY, Column, MeasuredRow, Metrics, Table, build_table
from evosynth.scores import decision_value

#: Accuracy comparisons allow this much float noise, so "exactly at the tolerance" counts as within.
_EPSILON = 1e-9


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


def _within(accuracy: float, reference: float, tolerance: float) -> bool:
    return reference - accuracy <= tolerance + _EPSILON


def within_line(rows: Sequence[Metrics], line: Metrics, tolerance: float, key: str) -> list[Metrics]:
    """The rows (by generation) whose ``key`` is at most ``tolerance`` below the ancestor ``line``'s."""
    reference = decision_value(line, f"generation {line.get('generation', 0)}", key)
    return [row for row in _by_generation(rows)
            if _within(decision_value(row, f"generation {row['generation']}", key), reference, tolerance)]


def synthesized_generation(rows: Sequence[Metrics], tolerance: float, key: str) -> Metrics:
    """The last generation whose ``key`` accuracy is at most ``tolerance`` below generation 0's.

    ``tolerance`` is absolute (0.01 = one percentage point: the papers' 1 %
    for LeNet5, 2 % for AlexNet, docs/method.md §9); exactly at the boundary counts
    as within. A generation above the ancestor's accuracy always qualifies.
    ``key`` names the score that decides (the pipeline passes the validation
    accuracy, :data:`evosynth.scores.DECISION`: the test set never decides).
    """
    ordered = _by_generation(rows)
    return within_line(ordered, ordered[0], tolerance, key)[-1]


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
    axis: str, runs: Mapping[str, Sequence[Metrics]], line: Metrics, tolerance: float, key: str
) -> list[str]:
    """Sentences naming who needs the fewest ``axis`` within tolerance (of ``key``), and who holds the Pareto front."""
    reference = line["accuracy"]
    best = {}
    for name, rows in runs.items():
        good = within_line(rows, line, tolerance, key)
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
        f"Living {axis}: {lead} — fewest {axis} within {100 * tolerance:g} pp of the ancestor's {key} (test"
        f" accuracy shown, the ancestor's {reference:.2%}): {ranking}"
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
    key: str,
    axes: Sequence[str] = ("synapses", "filters"),
) -> Table:
    """Evolution against the baselines, side by side, with a verdict per axis.

    ``runs`` maps a run name (the evolutionary run ``evolved`` and each
    baseline) to its per-generation metric rows, all from the same ancestor;
    ``origins`` says where each run's metrics were read. For every evolved
    generation g ≥ 1 the table shows its row and, per baseline, the row with
    the nearest synapse count, with its accuracy difference in points. The
    notes name, per axis, the run with the fewest living units within
    ``tolerance`` of the ancestor's ``key`` accuracy and who holds the Pareto front,
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
    line = ordered[evolved][0]
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
    notes = [sentence for axis in axes for sentence in _axis_verdicts(axis, ordered, line, tolerance, key)]
    notes += [
        f"At the nearest synapse count, {evolved} is more accurate than {name} in {more} of"
        f" {more + same + less} generations, equal in {same}, less accurate in {less}."
        for name, (more, same, less) in wins.items()
    ]
    return build_table(
        f"{evolved} against the baselines at matched synapse counts", columns, (), measured, tuple(notes)
    )
