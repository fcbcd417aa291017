"""One experiment in a few numbers (its DVC metric) and its per-generation plot data.

``summary.json`` is what ``dvc metrics show`` lists, one row per experiment
with short keys so that the table fits a terminal: the final generation
(``gen``) and its test accuracy in % (``accuracy``), and the synthesized
network (``pick``: the last generation within ``tolerance`` of the ancestor's
validation accuracy, StressedNets §4 / docs/method.md §9; none on a set without
a validation part) with its test accuracy, synaptic
efficiency (``A-E``, EvoNet Table 1), cluster efficiency (``C-E``, cluster
paper §3), ``MACs`` and MAC reduction (``MAC_x``, × generation 0); where the runtime
stage times the experiment, the last generation's measured speed-up, the number
``runtime.md`` prints (one computation: :func:`evosynth.analysis.runtime.speedup_row`). A population's
generation counts as the mean of its members (as the sexual paper plots it).

``plots.csv`` holds the per-generation values DVC plots: accuracy in percent
and the three efficiencies, one column per population member, so that the
two members of a sexual population are two lines (generation 0, their common
ancestor, starts both).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evosynth.analysis import runtime
from evosynth.reporting import selection
from evosynth.scores import DECISION

#: The efficiencies plotted per generation (× generation 0).
RATIOS = ("synaptic_efficiency", "cluster_efficiency", "mac_reduction")


def _means(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per generation: the members' mean of every number the summary reads."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["generation"], []).append(row)
    keys = ("accuracy", "macs", *RATIOS, *((DECISION,) if all(DECISION in r for r in rows) else ()))
    return [{"generation": g, **{k: sum(float(m[k]) for m in members) / len(members) for k in keys}}
            for g, members in sorted(grouped.items())]


def summary(rows: Sequence[dict[str, Any]], tolerance: float) -> dict[str, Any]:
    """The final generation and the synthesized network within ``tolerance`` (absolute, 0.01 = 1 point) of the
    ancestor's validation accuracy; without a validation part (detection, saliency) no network is named."""
    generations = _means(rows)
    final = generations[-1]
    shown = {"gen": final["generation"], "accuracy": round(100 * final["accuracy"], 2)}
    if DECISION not in final:
        return {**shown, "pick": None}
    pick = selection.synthesized_generation(generations, tolerance, DECISION)
    return {
        **shown,
        "pick": pick["generation"],
        "pick_accuracy": round(100 * pick["accuracy"], 2),
        "A-E": round(pick["synaptic_efficiency"], 2),
        "C-E": round(pick["cluster_efficiency"], 2),
        "MACs": round(pick["macs"]),
        "MAC_x": round(pick["mac_reduction"], 2),
    }


#: The speed-up the summary quotes: batch 1, ONNX Runtime, one thread (runtime.md's "speed-up (ORT 1 thread)").
SPEEDUP = runtime.config_key("onnxruntime", 1)


def speedup(generations: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The last generation's measured batch-1 speed-up over generation 0, ONNX Runtime with one thread.

    ``generations`` as in ``runtime.json`` (one timing dict per configuration,
    :mod:`evosynth.analysis.runtime`). The value is the one ``runtime.md`` shows in its last
    row, from the same function (:func:`evosynth.analysis.runtime.speedup_row`: round by round,
    the median of the per-round ratios), rounded to the same two decimals.
    Speed is machine-dependent, the rest of the summary is not.
    """
    row = runtime.speedup_row(generations[-1], generations[0])
    return {"speedup": round(row[f"{SPEEDUP}_speedup"], 2)}


def plot_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per generation: ``accuracy_percent`` and :data:`RATIOS`, suffixed ``_m<k>`` per member of a population."""
    members = sorted({r.get("member") for r in rows if r.get("member") is not None})
    by_generation: dict[int, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r["generation"], r.get("member") or 0)):
        values = {"accuracy_percent": round(100 * row["accuracy"], 4), **{k: round(row[k], 4) for k in RATIOS}}
        # a generation without members (the ancestor) starts every member's line
        tags = [f"_m{row['member']}"] if row.get("member") is not None else [f"_m{k}" for k in members] or [""]
        out = by_generation.setdefault(row["generation"], {"generation": row["generation"]})
        out.update({f"{key}{tag}": value for tag in tags for key, value in values.items()})
    return list(by_generation.values())

