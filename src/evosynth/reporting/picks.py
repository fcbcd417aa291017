"""The pick set (issue 16): the pick against each pruning baseline and against its own ablations, over seeds.

**The selected network.** For every run and seed, the last generation whose
validation accuracy (the decision key, :mod:`evosynth.scores`) is within
``tolerance`` of *that seed's line*: the validation accuracy of the seed's
ancestor, which every run of the seed shares (the pick's ancestor; baselines
follow it, ablations start from it), so no run passes more easily for a weaker
ancestor (the papers' 1 pp, docs/method.md §9;
:func:`evosynth.reporting.selection.within_line`). A chain whose generation 0
is not the seed's ancestor is refused. The accuracy shown and compared is the
test accuracy. Per run,
each quantity of it (accuracy drop, synaptic and cluster efficiency,
filters, MACs, measured speed-ups over the ancestor) is summarised by its
mean and two-sided t interval over seeds (:func:`evosynth.reporting.trajectories.t_interval`);
ratios over the ancestor (efficiencies, speed-ups) by their geometric mean
and the t interval of their log10, mapped back.

**Against a baseline.** Paired by seed (a baseline chain follows the pick's
chain of the same seed: one ancestor), per axis, an effect oriented so that
positive favours the pick: accuracy in percentage points (pick − baseline);
synapses, kernels, filters and MACs as log10(baseline / pick), so +0.301 means
the pick needs half as many; measured speed-ups as log10(pick / baseline).
An axis reads *pick better* when the interval lies above 0, *<baseline>
better* below 0, *equal* when every seed's effect is exactly 0, otherwise
*inconclusive* (also with fewer than two seeds). On accuracy × synapses ×
filters the baseline **dominates** the pick when it is better or equal on
all three and better on one; the pick dominates the baseline in the mirrored
case; the baseline **does not dominate** the pick whenever the pick is
better on at least one of the three; equal on all three, neither dominates;
otherwise the answer is inconclusive.

**Against the targets** (``picks.targets``, each a minimum): *met* when the
pick's whole interval lies at or above it, *missed* when it lies below,
*inconclusive* otherwise (or with one seed); the mean alone decides nothing.

**Against an ablation** (the pick without one addition, same seeds): accuracy
at the pick's selected generation (pick − ablation, pp; the ablation's last
generation if it has fewer) and the efficiency each reaches within the
tolerance (log10 pick / ablation).

**Best reached.** Over every run, ablations included, the one whose selected
networks have the highest geometric-mean synaptic efficiency, and the same
for cluster efficiency, with the mean accuracy of its networks and of their
(shared) ancestors: what the set reached within the tolerance when a target is
missed (issue 16 asks for the best reached, the ablations tried, and what
limits it; the limit is the capacity probe's question,
:mod:`evosynth.reporting.probe`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from evosynth.errors import ArtifactError
from evosynth.reporting.selection import within_line
from evosynth.reporting.trajectories import t_interval

Row = dict[str, Any]
Chains = Mapping[int, list[Row]]  # seed → the chain's metrics rows, one per generation
B1, B256 = "onnxruntime_1thread_speedup", "onnxruntime_1thread_b256_speedup"
THROUGHPUT = "throughput_vs_mac_reduction"

#: What the table shows of each run's selected network: key, heading, format of the value.
QUANTITIES = (
    ("accuracy_drop", "accuracy drop (pp)", "{:.2f}"),
    ("synaptic_efficiency", "synaptic eff. (×)", "{:.1f}"),
    ("cluster_efficiency", "cluster (kernel) eff. (×)", "{:.1f}"),
    ("filters", "filters", "{:.1f}"),
    ("macs", "MACs", "{:,.0f}"),
    (B1, "batch-1 speed-up, ORT 1 thread (×)", "{:.2f}"),
    (B256, "batch-256 throughput speed-up (×)", "{:.2f}"),
    (THROUGHPUT, "throughput ÷ MAC reduction", "{:.2f}"),
)
#: Ratios: summarised by their geometric mean and the t interval of log10 (a ratio's interval stays above 0).
RATIOS = frozenset({"synaptic_efficiency", "cluster_efficiency", B1, B256, THROUGHPUT})


def _fewer(key: str) -> Callable[[Row, Row], float]:
    return lambda pick, other: math.log10(other[key] / pick[key])


def _more(key: str) -> Callable[[Row, Row], float]:
    return lambda pick, other: math.log10(pick[key] / other[key])


def _accuracy(pick: Row, other: Row) -> float:
    return 100.0 * (pick["accuracy"] - other["accuracy"])


#: The axes a baseline is compared on: effect (+ favours the pick) and its unit.
AXES: dict[str, tuple[Callable[[Row, Row], float], str]] = {
    "accuracy": (_accuracy, "pp"), "synapses": (_fewer("synapses"), "log10 ×"),
    "kernels": (_fewer("kernels"), "log10 ×"), "filters": (_fewer("filters"), "log10 ×"),
    "MACs": (_fewer("macs"), "log10 ×"), "batch-1 latency": (_more(B1), "log10 ×"),
    "batch-256 throughput": (_more(B256), "log10 ×"),
}
#: The front a baseline must win on all of to dominate the pick (issue 16).
DOMINANCE = ("accuracy", "synapses", "filters")
#: The ablations' efficiencies, each reached within the tolerance.
REACHED = ("synaptic_efficiency", "cluster_efficiency", "mac_reduction")


def with_reductions(rows: list[Row]) -> list[Row]:
    """A chain's rows by generation with the ratio of living filters, filters(0) / filters(g), added."""
    ordered = sorted(rows, key=lambda r: r["generation"])
    return [{**r, "filter_reduction": ordered[0]["filters"] / r["filters"]} for r in ordered]


#: What identifies an ancestor's metrics row (besides the folder it was read from, when known).
_ANCESTOR_KEYS = ("accuracy", "val_accuracy", "synapses", "kernels", "macs", "architecture")


def check_line(rows: list[Row], line: Row, where: str) -> None:
    """Refuse a chain whose generation 0 is not ``line``, the ancestor of its seed (one line per seed)."""
    ancestor = min(rows, key=lambda r: r["generation"])
    keys = ("folder",) if "folder" in ancestor and "folder" in line else _ANCESTOR_KEYS
    if ancestor["generation"] != 0 or any(ancestor.get(k) != line.get(k) for k in keys):
        raise ArtifactError(f"{where}: its generation 0 ({ancestor.get('folder', 'its own ancestor')}) is not the"
                            f" seed's ancestor ({line.get('folder', 'the pick')}); every run of a seed must start"
                            " from that seed's ancestor and is judged against its line (experiments.<name>.ancestor)")


def selected(rows: list[Row], line: Row, tolerance: float, key: str, where: str = "chain") -> Row:
    """The chain's synthesized network: the last generation whose ``key`` accuracy is within ``tolerance`` of the
    seed's ancestor ``line``, with that ancestor's (test) accuracy and the (test) drop from it."""
    check_line(rows, line, where)
    row = within_line(rows, line, tolerance, key)[-1]
    return {**row, "ancestor_accuracy": line["accuracy"],
            "accuracy_drop": 100.0 * (line["accuracy"] - row["accuracy"])}


def axis_verdict(interval: Mapping[str, float], other: str) -> str:
    """pick better / <other> better / equal / inconclusive, from an interval of effects (+ favours the pick)."""
    if interval["n"] < 2 or math.isnan(interval["low"]):
        return "inconclusive"
    if interval["low"] == interval["high"] == 0:
        return "equal"
    if interval["low"] > 0:
        return "pick better"
    if interval["high"] < 0:
        return f"{other} better"
    return "inconclusive"


def paired(pick: Mapping[int, Row], other: Mapping[int, Row], effect: Callable[[Row, Row], float],
           confidence: float) -> dict[str, Any]:
    """One effect per seed both runs have, its mean and t interval."""
    seeds = sorted(set(pick) & set(other))
    effects = [effect(pick[s], other[s]) for s in seeds]
    return {**t_interval(effects, confidence), "effects": effects, "seeds": seeds}


def dominance(verdicts: Mapping[str, str], other: str) -> dict[str, str]:
    """Whether ``other`` dominates the pick on :data:`DOMINANCE`, from the axes' verdicts, with a plain sentence."""
    front = {axis: verdicts[axis] for axis in DOMINANCE}
    theirs = [a for a, v in front.items() if v == f"{other} better"]
    ours = [a for a, v in front.items() if v == "pick better"]
    equal = [a for a, v in front.items() if v == "equal"]
    if theirs and not ours and len(theirs) + len(equal) == len(front):
        return {"outcome": "baseline dominates", "sentence": f"{other} dominates the pick: better on"
                f" {', '.join(theirs)}" + (f", equal on {', '.join(equal)}" if equal else "")}
    if ours and not theirs and len(ours) + len(equal) == len(front):
        return {"outcome": "pick dominates", "sentence": f"the pick dominates {other}: better on {', '.join(ours)}"
                + (f", equal on {', '.join(equal)}" if equal else "")}
    if len(equal) == len(front):
        return {"outcome": "equal", "sentence": f"{other} equals the pick on {', '.join(equal)} at every seed:"
                " neither dominates"}
    if ours:
        return {"outcome": "not dominated", "sentence": f"{other} does not dominate the pick: the pick is better on"
                f" {', '.join(ours)}" + (f"; {other} is better on {', '.join(theirs)}" if theirs else "")}
    open_axes = [a for a, v in front.items() if v == "inconclusive"]
    return {"outcome": "inconclusive", "sentence": f"inconclusive: neither side is better on {', '.join(open_axes)}"
            + (f" ({other} is better on {', '.join(theirs)})" if theirs else "")}


def picks_tables(runs: Mapping[str, Chains], pick: str, ablations: Mapping[str, Chains], tolerance: float,
                 confidence: float, key: str) -> dict[str, Any]:
    """Everything the report states: per run and seed the selected network, summaries, verdicts.

    ``runs`` maps each run of ``runtime.picks`` (``pick`` among them) and
    ``ablations`` each ablation to {seed: metrics rows, one per generation};
    rows of timed runs carry the speed-ups :data:`B1`, :data:`B256` and :data:`THROUGHPUT`.
    Every chain of a seed is judged against that seed's line, the pick's ancestor; ``key``
    names the accuracy that selects (the pipeline passes the validation accuracy).
    """
    lines = {seed: min(rows, key=lambda r: r["generation"]) for seed, rows in runs[pick].items()}

    def select(name: str, chains: Chains) -> dict[int, Row]:
        for seed in chains:
            if seed not in lines:
                raise ArtifactError(f"{name} seed {seed}: the pick {pick!r} has no chain of this seed, so no line")
        return {seed: selected(rows, lines[seed], tolerance, key, f"{name} seed {seed}") for seed, rows in chains.items()}

    chosen = {run: select(run, chains) for run, chains in runs.items()}
    own = {name: select(name, chains) for name, chains in ablations.items()}
    summaries = []
    for run, per_seed in {**chosen, **own}.items():
        for key, _, _ in QUANTITIES:
            if all(key in row for row in per_seed.values()):
                values = [per_seed[s][key] for s in sorted(per_seed)]
                summaries.append({"kind": "summary", "run": run, "against": "", "quantity": key,
                                  "unit": "× (geometric)" if key in RATIOS else "",
                                  **_stats(summary_interval(key, values, confidence), values), "verdict": ""})
    comparisons, statements = [], {}
    for other in (r for r in runs if r != pick):
        verdicts = {}
        for axis, (effect, unit) in AXES.items():
            if not all(_has(row, axis) for r in (pick, other) for row in chosen[r].values()):
                continue
            result = paired(chosen[pick], chosen[other], effect, confidence)
            verdicts[axis] = axis_verdict(result, other)
            comparisons.append({"kind": "baseline", "run": other, "against": pick, "quantity": axis, "unit": unit,
                                **_stats(result, result["effects"]), "verdict": verdicts[axis]})
        statements[other] = dominance(verdicts, other)
    ablated = []
    for name, chains in ablations.items():
        at_pick = {seed: _at_generation(rows, chosen[pick][seed]["generation"]) for seed, rows in chains.items()
                   if seed in chosen[pick]}
        for quantity, other, effect, unit in [("accuracy at the pick's generation", at_pick, _accuracy, "pp"),
                                              *((f"{k} within tolerance", own[name], _more(k), "log10 ×")
                                                for k in REACHED)]:
            result = paired(chosen[pick], other, effect, confidence)
            ablated.append({"kind": "ablation", "run": name, "against": pick, "quantity": quantity, "unit": unit,
                            **_stats(result, result["effects"]), "verdict": axis_verdict(result, name)})
    return {"selected": chosen, "ablation_selected": own, "summaries": summaries, "comparisons": comparisons,
            "statements": statements, "ablations": ablated}


def best_reached(summaries: list[Row], keys: tuple[str, ...] = ("synaptic_efficiency", "cluster_efficiency")
                 ) -> dict[str, Row]:
    """Per efficiency, the summary row of the run (ablations included) with the highest mean."""
    return {key: max((r for r in summaries if r["quantity"] == key), key=lambda r: r["mean"])
            for key in keys if any(r["quantity"] == key for r in summaries)}


def summary_interval(key: str, values: list[float], confidence: float) -> dict[str, float]:
    """Mean and t interval over seeds; for a ratio (:data:`RATIOS`) the geometric mean and the interval of
    log10 mapped back, so a ratio's interval never reaches 0 or below (the arithmetic one did: 19.7 [-0.6, 39.9])."""
    if key not in RATIOS or any(v <= 0 for v in values):
        return t_interval(values, confidence)
    logs = t_interval([math.log10(v) for v in values], confidence)
    return {**logs, **{k: 10 ** logs[k] for k in ("mean", "low", "high")}}


def _has(row: Row, axis: str) -> bool:
    key = {"accuracy": "accuracy", "synapses": "synapses", "kernels": "kernels", "filters": "filters",
           "MACs": "macs", "batch-1 latency": B1, "batch-256 throughput": B256}[axis]
    return key in row and (axis == "accuracy" or row[key] > 0)


def _at_generation(rows: list[Row], generation: int) -> Row:
    ordered = sorted(rows, key=lambda r: r["generation"])
    return next((r for r in ordered if r["generation"] == generation), ordered[-1])


def _stats(interval: Mapping[str, float], values: list[float]) -> dict[str, Any]:
    return {"n": interval["n"], "mean": interval["mean"], "low": interval["low"], "high": interval["high"],
            "per_seed": " ".join(f"{v:.4g}" for v in values)}


def target_verdict(row: Row, minimum: float) -> tuple[str, str]:
    """*met* when the whole interval lies at or above the minimum, *missed* when it lies below, else
    *inconclusive* (also with one seed: no interval); the reason in words."""
    side = "above" if row["mean"] >= minimum else "below"
    if math.isnan(row["low"]):
        return "inconclusive", f"one seed, no interval; the value is {side} it"
    if row["low"] >= minimum:
        return "met", "the whole interval is at or above it"
    if row["high"] < minimum:
        return "missed", "the whole interval is below it"
    return "inconclusive", f"the mean is {side} it, the interval spans it"


def selected_rows(chosen: Mapping[str, Mapping[int, Row]]) -> list[Row]:
    """picks.csv: one row per run (or ablation) and seed, the selected network's quantities (empty where not
    measured)."""
    keys = ("generation", "accuracy", "ancestor_accuracy", "accuracy_drop", "synapses", "synaptic_efficiency",
            "kernels", "cluster_efficiency", "filters", "macs", "mac_reduction", B1, B256, THROUGHPUT)
    return [{"run": run, "seed": seed, **{k: row.get(k, "") for k in keys}}
            for run, per_seed in chosen.items() for seed, row in sorted(per_seed.items())]
