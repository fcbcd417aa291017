"""Each claim judged where the networks still work, in the form the claim takes (docs/method.md §11.6).

**Usable range.** A chain's generation counts only while the chain is within
``usable_drop`` (D, percentage points) of its own ancestor (generation 0) on
the decision key (``decide_on``, the validation accuracy: the test set only
reports). The usable part of a trajectory ends before the first generation
that drops more than D; a network that has collapsed towards chance says
nothing about the method, and a later recovery is not counted. A seed whose
two arms share no usable range beyond the ancestor cannot speak to the claim;
a claim with fewer than two such seeds is **not testable here**, a verdict of
its own, not a number.

**Forms** (``form``):

- ``difference`` (the default): treatment − control, averaged over the usable
  matched range (matched on synaptic efficiency, interpolated on its log10, or
  on the generation, ancestor excluded); *supported* when the t interval over
  seeds lies above 0, *contradicted* below, *negligible* when it lies inside
  ±``min_effect``, otherwise *inconclusive*.
- ``equivalence`` ("comparable accuracy"): two one-sided tests (TOST) with
  margin m at level α = 1 − confidence: *supported* (equivalent) when the
  (1 − 2α) interval lies inside (−m, m), *contradicted* when the confidence
  interval lies wholly outside [−m, m], otherwise *inconclusive*.
- ``matched_accuracy`` (compute claims): for each d of ``drops``, the best
  metric each arm reaches among its generations within d points of its own
  ancestor (generation 0 always qualifies), as the log10 ratio
  treatment / control; one verdict per d, judged as a difference. An arm still
  within d at its last generation is *censored* (its value is a floor) and
  counted in the row.

**Accuracy as drops.** Accuracy is compared as each arm's change from its own
ancestor, so arms that start from different ancestors are compared on what
they lost; with a shared ancestor this is the plain difference.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from evosynth.errors import ArtifactError
from evosynth.reporting.trajectories import GRID, curve, t_interval, unit, values

Series = dict[int, dict[str, float]]
FORMS = ("difference", "equivalence", "matched_accuracy")
NOT_TESTABLE = "not testable here"
_EPSILON = 1e-9


def usable(series: Series, drop: float | None, key: str) -> Series:
    """The generations before the first one more than ``drop`` points below generation 0 on ``key``."""
    gens = sorted(series)
    if drop is None:
        return dict(series)
    if any(key not in row for row in series.values()):
        raise ArtifactError(f"a metrics file lacks {key!r}, which the claim's usable range reads; allowed: metrics"
                            f" written by the current evaluate step (rerun it)")
    base, out = series[gens[0]][key], {}
    for g in gens:
        if 100.0 * (base - series[g][key]) > drop + _EPSILON:
            break
        out[g] = series[g]
    return out


def from_ancestor(series: Series, metric: str) -> Series:
    """Accuracy as the change from the chain's own ancestor; other metrics unchanged."""
    if metric != "accuracy":
        return series
    base = series[min(series)]["accuracy"]
    return {g: {**row, "accuracy": row["accuracy"] - base} for g, row in series.items()}


def matched_difference(treatment: Series, control: Series, metric: str, at: str) -> tuple[float, tuple] | None:
    """Mean treatment − control over the range both (already limited) trajectories cover, with that range.

    Matched on the generation: the common generations after the ancestor. Matched on an efficiency: an even
    grid over the overlap of the two log10 ranges. None when there is nothing beyond the ancestor to compare.
    """
    if at == "generation":
        gens = sorted((set(treatment) & set(control)) - {min(treatment)})
        if not gens:
            return None
        t = values({g: treatment[g] for g in gens}, metric)
        c = values({g: control[g] for g in gens}, metric)
        return float(np.mean(t - c)), (gens[0], gens[-1])
    tx, ty = curve(treatment, metric, at)
    cx, cy = curve(control, metric, at)
    lo, hi = max(tx[0], cx[0]), min(tx[-1], cx[-1])
    if hi <= lo:
        return None
    grid = np.linspace(lo, hi, GRID)
    return float(np.mean(np.interp(grid, tx, ty) - np.interp(grid, cx, cy))), (10 ** lo, 10 ** hi)


def accuracy_at_range_end(series: Series, at: str, high: float) -> float:
    """Test accuracy (percent) of the chain's last network inside a matched range ending at ``high`` (a
    generation, or an efficiency): where the claim was judged, not where the chain's usable part ends."""
    inside = [g for g in sorted(series) if (g if at == "generation" else series[g][at]) <= high * (1 + _EPSILON)]
    return 100.0 * series[inside[-1]]["accuracy"]


def best_within(series: Series, metric: str, drop: float, key: str) -> tuple[float, bool]:
    """The highest ``metric`` among the generations within ``drop`` points of the ancestor on ``key``, and
    whether the chain was still within at its last generation (censored: a floor, not the reach)."""
    inside = usable(series, drop, key)
    return max(row[metric] for row in inside.values()), len(inside) == len(series)


def judged(interval: dict[str, float], form: str, min_effect: float, margin: float | None,
           equivalence_interval: dict[str, float] | None = None) -> str:
    """The verdict of an interval over seeds, in the claim's form (module docstring)."""
    if interval["n"] < 2 or math.isnan(interval["low"]):
        return NOT_TESTABLE
    low, high = interval["low"], interval["high"]
    if form == "equivalence":
        inner = equivalence_interval or interval
        if -margin < inner["low"] and inner["high"] < margin:
            return "supported"
        if low > margin or high < -margin:
            return "contradicted"
        return "inconclusive"
    if -min_effect < low and high < min_effect:
        return "negligible"
    if low > 0:
        return "supported"
    if high < 0:
        return "contradicted"
    return "inconclusive"


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else math.nan


def _summary(effects: list[float], claim: dict[str, Any], confidence: float) -> dict[str, Any]:
    form = claim.get("form", "difference")
    interval = t_interval(effects, confidence)
    inner = t_interval(effects, 1 - 2 * (1 - confidence)) if form == "equivalence" else None
    verdict = judged(interval, form, claim.get("min_effect", 0.0), claim.get("margin"), inner)
    # every form's row has the same columns (one CSV holds them all): the TOST interval is nan outside equivalence
    return {**{k: interval[k] for k in ("mean", "sd", "low", "high")}, "verdict": verdict,
            "seeds_usable": interval["n"], "effects": " ".join(f"{e:+.3f}" for e in effects),
            "tost_low": math.nan if inner is None else inner["low"],
            "tost_high": math.nan if inner is None else inner["high"]}


def judge_matched(claim: dict[str, Any], t: dict[int, Series], c: dict[int, Series],
                  confidence: float) -> dict[str, Any]:
    """A difference or equivalence claim over the seeds' usable matched ranges."""
    metric, at = claim["metric"], claim.get("at", "synaptic_efficiency")
    drop, key = claim.get("usable_drop"), claim.get("decide_on", "val_accuracy")
    effects, ranges, ends = [], [], {"treatment": [], "control": []}
    for seed in sorted(set(t) & set(c)):
        tu, cu = usable(t[seed], drop, key), usable(c[seed], drop, key)
        got = matched_difference(from_ancestor(tu, metric), from_ancestor(cu, metric), metric, at)
        if got is None:
            continue
        effects.append(got[0])
        ranges.append(got[1])
        for role, series in (("treatment", tu), ("control", cu)):
            ends[role].append(accuracy_at_range_end(series, at, got[1][1]))
    row = _summary(effects, claim, confidence)
    row["range_low"] = min((r[0] for r in ranges), default=math.nan)
    row["range_high"] = max((r[1] for r in ranges), default=math.nan)
    row.update(treatment_accuracy_in_range=_mean(ends["treatment"]), control_accuracy_in_range=_mean(ends["control"]))
    return row


def judge_at_accuracy(claim: dict[str, Any], t: dict[int, Series], c: dict[int, Series], confidence: float,
                      drop: float) -> dict[str, Any]:
    """A compute claim at matched accuracy: log10 of the best metric within ``drop`` points, treatment over
    control, per seed."""
    metric, key = claim["metric"], claim.get("decide_on", "val_accuracy")
    effects, censored = [], 0
    for seed in sorted(set(t) & set(c)):
        (tv, tc), (cv, cc) = best_within(t[seed], metric, drop, key), best_within(c[seed], metric, drop, key)
        effects.append(math.log10(tv / cv))
        censored += tc + cc
    row = _summary(effects, claim, confidence)
    row.update(range_low=drop, range_high=drop, censored=censored,
               treatment_accuracy_in_range=math.nan, control_accuracy_in_range=math.nan)
    return row


def judge_claim(claim: dict[str, Any], t: dict[int, Series], c: dict[int, Series],
                confidence: float) -> list[dict[str, Any]]:
    """Every verdict row of one claim: one row, or one per accuracy level of a matched-accuracy claim."""
    form = claim.get("form", "difference")
    if form not in FORMS:
        raise ValueError(f"unknown claim form {form!r}; allowed: {', '.join(FORMS)}")
    common = {"metric": claim["metric"], "form": form, "unit": "log10 ×" if form == "matched_accuracy"
              else unit(claim["metric"]), "seeds": len(set(t) & set(c))}
    if form == "matched_accuracy":
        return [{**common, "at": f"within {d:g} pp", "censored": 0, **judge_at_accuracy(claim, t, c, confidence, d)}
                for d in claim.get("drops", (1.0, 2.0, 3.0))]
    return [{**common, "at": claim.get("at", "synaptic_efficiency"), "censored": 0,
             **judge_matched(claim, t, c, confidence)}]


def usable_range_text(row: dict[str, Any], drop: float | None) -> str:
    """The usable range of a verdict row in words, for the report and the README."""
    if row["form"] == "matched_accuracy":
        return f"best reached {row['at']} of each arm's ancestor ({row['censored']} arm-seeds censored)"
    if math.isnan(row["range_low"]):
        within = "" if drop is None else f" with both arms within {drop:g} pp"
        return f"none (no seed{within} beyond the ancestor)"
    limit = "" if drop is None else f", both arms within {drop:g} pp of their ancestors"
    if row["at"] == "generation":
        return f"generations {row['range_low']:.0f}–{row['range_high']:.0f}{limit}"
    return f"synaptic efficiency {row['range_low']:.3g}–{row['range_high']:.3g}×{limit}"
