"""The pick set's report in words (issue 16): the tables and statements of picks.md.

What the numbers mean and how each verdict is reached is
:mod:`evosynth.reporting.picks`; this module only lays them out: the
selected networks of every run (ablations included), the targets, the best
reached, the timing harness check, the baselines and the ablations.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

from evosynth.reporting.picks import B1, B256, QUANTITIES, Row, best_reached, target_verdict


def target_lines(summaries: list[Row], pick: str, targets: Mapping[str, float]) -> list[str]:
    """One line per target: the pick's mean and interval against the minimum asked."""
    by_key = {row["quantity"]: row for row in summaries if row["run"] == pick}
    lines = []
    for key, minimum in targets.items():
        row = by_key.get(key)
        if row is None:
            lines.append(f"- {key} ≥ {minimum:g}: not measured")
            continue
        verdict, why = target_verdict(row, minimum)
        lines.append(f"- {key} ≥ {minimum:g}: mean {row['mean']:.2f} {_interval(row, '{:.2f}')}: **{verdict}** ({why})")
    return lines


def control_lines(ancestor: str, intervals: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The harness check: a second copy of one ancestor, timed as one more network, must read 1.00× within its spread."""
    from evosynth.analysis.timing import within

    lines = [(f"A same-architecture control: a second copy of {ancestor}, exported and timed as one more network"
             " among all the others; its speed-up over the ancestor must read 1.00× within its spread"
             " (10th–90th percentile of the rounds)."), ""]
    for key, label in ((B1.removesuffix("_speedup"), "batch 1, ORT 1 thread"),
                       (B256.removesuffix("_speedup"), "batch 256, ORT 1 thread")):
        if key in intervals:
            i = intervals[key]
            lines.append(f"- {label}: {i['median']:.3f}× (spread {i['p10']:.3f}–{i['p90']:.3f}, 95 % bootstrap interval"
                         f" of the median {i['low']:.3f}–{i['high']:.3f}): **{'passes' if within(1.0, i) else 'FAILS'}**")
    return lines


def _interval(row: Mapping[str, float], fmt: str) -> str:
    return "[–]" if math.isnan(row["low"]) else f"[{fmt.format(row['low'])}, {fmt.format(row['high'])}]"


def _effect(row: Row) -> str:
    """An effect for the reader: points, or the pick's advantage as a factor (10^effect)."""
    if row["unit"] == "pp":
        return f"{row['mean']:+.2f} pp {_interval(row, '{:+.2f}')}"
    factor = {k: 10 ** row[k] if not math.isnan(row[k]) else math.nan for k in ("mean", "low", "high")}
    return f"×{factor['mean']:.2f} {_interval({**row, **factor}, '{:.2f}')}"


def markdown(tables: dict[str, Any], pick: str, tolerance: float, confidence: float, control: list[str],
             targets: Mapping[str, float]) -> str:
    """The report: per-run summaries, targets, the timing harness check, baselines, ablations."""
    chosen, summaries = tables["selected"], tables["summaries"]
    level = f"{confidence:.0%}"
    lines = [f"# The pick set: {pick} against the pruning baselines and its ablations, over seeds", "",
             (f"Per run and seed the selected network is the last generation whose validation accuracy is within"
              f" {100 * tolerance:g} pp of that seed's ancestor's, the one every run of the seed shares (accuracies"
              f" shown are test accuracies, never read by a decision). Mean over seeds and {level} t interval (module `evosynth.reporting.picks`;"
              " ratios, marked ×: geometric mean, the interval taken on log10);"
              " speed-ups over each seed's ancestor, every network of every seed timed in one process, interleaved"
              " (runtime.md)."), "", "## Each run's selected network", ""]
    shown = [q for q in QUANTITIES if any(r["quantity"] == q[0] for r in summaries)]
    lines += ["| run | seeds | generation per seed | " + " | ".join(h for _, h, _ in shown) + " |",
              "|:---|---:|:---|" + "---:|" * len(shown)]
    ablation_runs = tables["ablation_selected"]
    every = {**chosen, **ablation_runs}
    for run, per_seed in every.items():
        cells = []
        for key, _, fmt in shown:
            row = next((r for r in summaries if r["run"] == run and r["quantity"] == key), None)
            cells.append("–" if row is None else f"{fmt.format(row['mean'])} {_interval(row, fmt)}")
        gens = ", ".join(str(per_seed[s]["generation"]) for s in sorted(per_seed))
        label = f"{run} (ablation, not timed)" if run in ablation_runs else run
        lines.append(f"| {label} | {len(per_seed)} | {gens} | " + " | ".join(cells) + " |")
    if targets:
        lines += ["", f"## {pick} against the targets (mean over seeds, {level} interval)", "",
                  *target_lines(summaries, pick, targets)]
    best = best_reached(summaries)
    if best:
        lines += ["", f"## Best reached within {100 * tolerance:g} pp (every run, ablations included)", ""]
        for key, row in best.items():
            nets = every[row["run"]].values()
            accuracy, ancestor = (100 * statistics.fmean(n[k] for n in nets) for k in ("accuracy", "ancestor_accuracy"))
            lines.append(f"- {key}: **{row['run']}**, {row['mean']:.1f}× {_interval(row, '{:.1f}')} (per seed"
                         f" {row['per_seed']}), its networks at {accuracy:.2f} % on average, their ancestors at"
                         f" {ancestor:.2f} %")
        lines += ["", ("What limits it: whether any network of this topology small enough for the targets can come"
                       " within the tolerance at all is the capacity probe's question (`reports/probe/probe.md`).")]
    lines += ["", "## Timing harness check", "", *control]
    if tables["statements"]:
        lines += ["", f"## {pick} against each baseline (paired by seed)", "",
                  "Does the baseline dominate the pick on accuracy × synapses × filters?", ""]
        lines += [f"- **{other}**: {s['sentence']}." for other, s in tables["statements"].items()]
        lines += ["", (f"Effect: accuracy in pp (pick − baseline); otherwise the pick's advantage as a factor"
                   f" (×2 = half the synapses, filters, MACs, or twice the speed-up), {level} interval."), "",
                  *_effect_table(("baseline", "axis"), tables["comparisons"])]
    if tables["ablations"]:
        lines += ["", f"## {pick} against each ablation (paired by seed)", "",
                  *_effect_table(("ablation", "quantity"), tables["ablations"])]
    return "\n".join(lines) + "\n"


def _effect_table(columns: tuple[str, str], rows: list[Row]) -> list[str]:
    """The pick against each of `rows`' runs: one line per run and quantity, its effect, per seed and verdict."""
    run, quantity = columns
    return [f"| {run} | {quantity} | pick vs {run} | per seed (pp or log10) | verdict |", "|:---|:---|:---|:---|:---|",
            *(f"| {r['run']} | {r['quantity']} | {_effect(r)} | {r['per_seed']} | {r['verdict']} |" for r in rows)]
